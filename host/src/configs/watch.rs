//! Watching the configs folder and swapping reloaded sets into the engine.
//!
//! Policy:
//! - Filesystem events (`notify`, debounced by [`WatchOptions::debounce`], default 100 ms, so
//!   that a burst of writes and renames loads once) trigger a reload; so does a rescan every
//!   [`WatchOptions::rescan`] (default 5 s), for filesystems that send no events (network and
//!   some container mounts). A periodic rescan judges files by their metadata and reads only
//!   those whose metadata changed.
//! - Events of any kind, on any name in the folder, trigger the same full rescan: editors'
//!   atomic saves (write a temporary file, rename it over) and a Kubernetes ConfigMap's `..data`
//!   symlink swap are then nothing special. The files an event names (and, on any event, files
//!   changed in the last 2 s) are hashed even if their metadata looks unchanged
//!   ([`super::Touched`]); a `..data` swap rehashes every file.
//! - Reloads run one at a time on their own task, off the request path. A new set is swapped
//!   in atomically ([`Engine::install_configs`]); requests already running finish on the
//!   version they started with.
//! - A watcher that cannot be created (e.g. the inotify limit is reached) is logged, and the
//!   periodic rescan still applies changes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use notify::RecursiveMode;
use notify_debouncer_full::new_debouncer;
use tokio::sync::{Notify, watch};

use parking_lot::Mutex;

use super::load::{FolderError, Loader, ReloadReport, Touched};
use crate::engine::{ConfigSet, Engine};
use crate::telemetry::{self, ReloadOutcome};

/// How the folder is watched.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Quiet time after a filesystem event before reloading (default 100 ms).
    pub debounce: Duration,
    /// Interval of the rescan that needs no event (default 5 s).
    pub rescan: Duration,
}

impl Default for WatchOptions {
    fn default() -> Self {
        Self {
            debounce: Duration::from_millis(100),
            rescan: Duration::from_secs(5),
        }
    }
}

/// A watched configs folder. Dropping it stops the watching (the configs in force stay).
pub struct Watcher {
    task: tokio::task::JoinHandle<()>,
    reloads: watch::Receiver<u64>,
    wake: Arc<Notify>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Watcher {
    /// Loads the folder once into `engine`, then keeps it up to date.
    ///
    /// # Errors
    /// The folder cannot be listed. A config that fails to load is not an error: it is
    /// reported in the log and in [`crate::engine::ConfigSet::problems`].
    pub async fn start(
        mut loader: Loader,
        engine: Engine,
        options: WatchOptions,
    ) -> Result<(Self, ReloadReport), FolderError> {
        let report = match loader.reload().await? {
            Some((set, report)) => {
                install(&engine, set, &report);
                report
            }
            None => ReloadReport::default(),
        };
        let wake = Arc::new(Notify::new());
        let touched = Arc::new(Mutex::new(Touched::default()));
        let debouncer = {
            let (wake, touched) = (wake.clone(), touched.clone());
            new_debouncer(
                options.debounce,
                None,
                move |events: notify_debouncer_full::DebounceEventResult| {
                    let mut touched = touched.lock();
                    match events {
                        Ok(events) => events
                            .iter()
                            .flat_map(|e| &e.paths)
                            .for_each(|p| touched.add(p)),
                        Err(_) => touched.everything = true,
                    }
                    drop(touched);
                    wake.notify_one();
                },
            )
        };
        let debouncer = match debouncer {
            Ok(mut debouncer) => match debouncer.watch(loader.dir(), RecursiveMode::NonRecursive) {
                Ok(()) => Some(debouncer),
                Err(e) => {
                    tracing::warn!(dir = %loader.dir().display(), "cannot watch the configs folder, rescanning every {:?} instead: {e}", options.rescan);
                    None
                }
            },
            Err(e) => {
                tracing::warn!(
                    "cannot create a filesystem watcher, rescanning every {:?} instead: {e}",
                    options.rescan
                );
                None
            }
        };
        let (count, reloads) = watch::channel(0);
        let events = Events {
            wake: wake.clone(),
            touched,
        };
        let task = tokio::spawn(run(loader, engine, options, events, count, debouncer));
        Ok((
            Self {
                task,
                reloads,
                wake,
            },
            report,
        ))
    }

    /// Changes each time a reload installs a new set (the count of such reloads).
    pub fn reloads(&self) -> watch::Receiver<u64> {
        self.reloads.clone()
    }

    /// Asks for a rescan now (as an event would).
    pub fn rescan(&self) {
        self.wake.notify_one();
    }
}

/// What the debouncer hands the reload loop.
struct Events {
    wake: Arc<Notify>,
    touched: Arc<Mutex<Touched>>,
}

/// The reload loop. `_debouncer` lives as long as the loop.
async fn run<D>(
    mut loader: Loader,
    engine: Engine,
    options: WatchOptions,
    events: Events,
    count: watch::Sender<u64>,
    _debouncer: Option<D>,
) {
    let mut rescan = tokio::time::interval(options.rescan);
    rescan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    rescan.tick().await;
    loop {
        tokio::select! {
            () = events.wake.notified() => {}
            _ = rescan.tick() => {}
        }
        let touched = std::mem::take(&mut *events.touched.lock());
        tracing::debug!(?touched, "rescanning the configs folder");
        let started = Instant::now();
        match loader.reload_with(&touched).await {
            Ok(Some((set, report))) => {
                install(&engine, set, &report);
                count.send_modify(|n| *n += 1);
                tracing::info!(
                    loaded = report.loaded.len(),
                    removed = report.removed.len(),
                    problems = report.problems.len(),
                    ms = started.elapsed().as_millis() as u64,
                    "configs reloaded"
                );
            }
            Ok(None) => tracing::debug!("configs folder unchanged"),
            Err(e) => {
                telemetry::record_reload(ReloadOutcome::Failed);
                tracing::error!("{e}; keeping the configs in force");
            }
        }
    }
}

/// Counts a reload and its problems in the metrics, and swaps its set into `engine`.
fn install(engine: &Engine, set: ConfigSet, report: &ReloadReport) {
    let outcome = if report.problems.is_empty() {
        ReloadOutcome::Applied
    } else {
        ReloadOutcome::Partial
    };
    telemetry::record_reload(outcome);
    for problem in &report.problems {
        telemetry::record_config_error(&problem.config);
    }
    telemetry::set_config_load_errors(report.problems.len());
    telemetry::set_configs_loaded(set.entries().len());
    engine.install_configs(set);
}
