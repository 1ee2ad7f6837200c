//! What `serve` and `run` share: the settings file, the upstream, the configs folder, and the
//! engine built from them; the signals that stop them; durations given in seconds.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use session_host::configs::{CompileCache, Loader, WatchOptions, Watcher};
use session_host::engine::Engine;
use session_host::plugin::Runtime;
use session_host::settings::HostSettings;
use session_host::store::{DurableStore, default_dir};
use session_host::zyte::{ApiKey, Client};
use tokio::signal::unix::{Signal, SignalKind, signal};

/// Options shared by the commands that run the engine.
#[derive(Debug, Clone, clap::Args)]
pub struct HostArgs {
    /// Settings file (`session-host.toml`: `[sessions]`, `[plugins]`, `[upstream]`).
    #[arg(long = "config", value_name = "FILE")]
    pub settings: Option<PathBuf>,
    /// Folder of session configs (`NAME.wasm`, optional `NAME.toml` sidecars), reloaded live.
    /// Without it every URL uses the built-in default config.
    #[arg(long, value_name = "DIR")]
    pub configs: Option<PathBuf>,
    /// Zyte API base URL [default: the settings' `[upstream] url`, or `ZYTE_API_URL`, or
    /// https://api.zyte.com/v1/]. The key is read from `ZYTE_API_KEY`.
    #[arg(long, value_name = "URL")]
    pub upstream: Option<String>,
    /// Where compiled configs are cached [default: ~/.cache/session-host/compiled].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Do not cache compiled configs.
    #[arg(long, conflicts_with = "cache_dir")]
    pub no_cache: bool,
    /// Bound on the compile cache's entries, in MiB; least recently used entries are deleted
    /// past it.
    #[arg(long, value_name = "MIB", default_value_t = 1024)]
    pub cache_max_mb: u64,
    /// Where pools and sessions are kept across restarts, `kill -9` included
    /// [default: $XDG_STATE_HOME/session-host, else ~/.local/state/session-host]. One process
    /// per dir.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Keep no state across restarts (the reference's behaviour): each start creates its
    /// sessions anew.
    #[arg(long, conflicts_with = "state_dir")]
    pub no_state: bool,
    /// Seconds between rescans of the configs folder, for filesystems that send no events.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    pub rescan_secs: f64,
    /// Pool store: `redis://HOST:PORT/DB` shares pools with every host on that Redis
    /// [default: the settings' `[store] url`, else this host's memory].
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// While Redis does not answer: `closed` answers a 503 `store-unavailable` problem, `local`
    /// serves from this host's own pools until Redis is back [default: the settings'
    /// `[store] on_failure`, else closed].
    #[arg(long, value_name = "POLICY")]
    pub store_on_failure: Option<session_host::settings::OnFailure>,
}

/// A running engine and, when it has a configs folder, its watcher.
pub struct Host {
    /// The engine.
    pub engine: Engine,
    /// The settings in force.
    pub settings: HostSettings,
    /// Keeps the configs folder watched while alive.
    pub watcher: Option<Watcher>,
    /// The durable store, unless `--no-state`: flush it before exiting.
    pub state: Option<Arc<DurableStore>>,
}

impl HostArgs {
    /// The settings file's content (defaults without one), with `--upstream` applied.
    pub fn settings(&self) -> anyhow::Result<HostSettings> {
        let mut settings = match &self.settings {
            Some(path) => HostSettings::load(path)?,
            None => HostSettings::default(),
        };
        if let Some(url) = &self.upstream {
            settings.upstream.url.clone_from(url);
        }
        if let Some(url) = &self.store {
            settings.store.url = Some(url.clone());
        }
        if let Some(policy) = self.store_on_failure {
            settings.store.on_failure = policy;
        }
        Ok(settings)
    }

    /// Builds the engine and loads the configs folder (failures of single configs are logged
    /// and reported by the status endpoint; an unreadable folder is an error).
    pub async fn start(&self) -> anyhow::Result<Host> {
        let mut settings = self.settings()?;
        // `--upstream` beats `ZYTE_API_URL`, which beats the settings file.
        let mut upstream = settings.upstream.clone();
        if self.upstream.is_none() {
            upstream.url = upstream.effective_url();
        }
        let key = ApiKey::from_env().context("set ZYTE_API_KEY to your Zyte API key")?;
        let client = Client::new(&upstream, key).context("cannot create the Zyte API client")?;
        settings.upstream = upstream;
        // Redis holds the shared state itself: no state dir is opened then (issue 16); else
        // the durable store, unless `--no-state` (issue 15).
        let (engine, state) = match &settings.store.url {
            Some(url) => {
                let store = redis_store(url, &settings).await?;
                let engine = Engine::with_store(settings.sessions.clone(), client, store);
                (engine, None)
            }
            None => match self.open_state(&settings)? {
                Some(store) => {
                    let engine =
                        Engine::with_store(settings.sessions.clone(), client, store.clone());
                    (engine, Some(store))
                }
                None => (Engine::new(settings.sessions.clone(), client), None),
            },
        };
        let watcher = match &self.configs {
            Some(dir) => Some(self.watch(dir, &settings, &engine).await?),
            None => None,
        };
        Ok(Host {
            engine,
            settings,
            watcher,
            state,
        })
    }

    /// The state dir asked for: `None` with `--no-state`.
    pub fn state_dir(&self) -> anyhow::Result<Option<PathBuf>> {
        state_dir(self.state_dir.as_ref(), self.no_state)
    }

    /// Opens and restores the state dir, unless `--no-state`.
    fn open_state(&self, settings: &HostSettings) -> anyhow::Result<Option<Arc<DurableStore>>> {
        let Some(dir) = self.state_dir()? else {
            return Ok(None);
        };
        let (store, restored) = DurableStore::open(&dir, &settings.sessions)?;
        tracing::info!(
            dir = %dir.display(),
            "session state restored: {} pools, {} sessions, {} expired",
            restored.pools,
            restored.sessions,
            restored.expired
        );
        Ok(Some(store))
    }

    async fn watch(
        &self,
        dir: &std::path::Path,
        settings: &HostSettings,
        engine: &Engine,
    ) -> anyhow::Result<Watcher> {
        let runtime = Runtime::new(settings.plugins.clone())?;
        let cache = match (&self.cache_dir, self.no_cache) {
            (_, true) => None,
            (Some(dir), false) => Some(CompileCache::new(dir)),
            (None, false) => CompileCache::default_dir().map(CompileCache::new),
        };
        let cache = cache.map(|c| c.with_max_bytes(self.cache_max_mb.saturating_mul(1 << 20)));
        let options = WatchOptions {
            rescan: secs(self.rescan_secs, "--rescan-secs")?,
            ..WatchOptions::default()
        };
        let loader = Loader::new(dir, runtime, cache);
        let (watcher, report) = Watcher::start(loader, engine.clone(), options).await?;
        for problem in &report.problems {
            tracing::warn!(config = %problem.config, file = %problem.file.display(), "{}", problem.error);
        }
        tracing::info!(
            dir = %dir.display(),
            configs = engine.configs().entries().len(),
            problems = report.problems.len(),
            "configs folder loaded and watched"
        );
        Ok(watcher)
    }
}

/// `dir`, else the default state dir; `None` when `off`.
pub fn state_dir(dir: Option<&PathBuf>, off: bool) -> anyhow::Result<Option<PathBuf>> {
    if off {
        return Ok(None);
    }
    match dir {
        Some(dir) => Ok(Some(dir.clone())),
        None => default_dir()
            .map(Some)
            .context("no state dir: set XDG_STATE_HOME or HOME, or pass --state-dir or --no-state"),
    }
}

/// The Redis store at `url` (its password never shown: the error names it redacted).
async fn redis_store(
    url: &str,
    all: &HostSettings,
) -> anyhow::Result<std::sync::Arc<dyn session_host::store::PoolStore>> {
    use session_host::settings::OnFailure;
    use session_host::store::{LocalFallback, RedisOptions, RedisStore};
    let settings = &all.store;
    let options = RedisOptions {
        namespace: settings.namespace.clone(),
        lease_ttl: secs(settings.lease_ttl, "[store] lease_ttl")?,
        pool_ttl: secs(settings.pool_ttl, "[store] pool_ttl")?,
        bounds: session_host::store::PoolLimits::from_settings(&all.sessions),
        ..RedisOptions::default()
    };
    let store = RedisStore::connect(url, options).await?;
    let shown = session_host::store::redis::redact(url);
    tracing::info!(store = %shown, on_failure = ?settings.on_failure, "session pools shared on Redis");
    Ok(match settings.on_failure {
        OnFailure::Closed => std::sync::Arc::new(store),
        OnFailure::Local => std::sync::Arc::new(LocalFallback::new(store, &all.sessions)),
    })
}

/// The duration of `value` seconds, given by option `flag`; an error unless it is positive.
pub fn secs(value: f64, flag: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .with_context(|| format!("{flag} must be a positive number of seconds, got {value}"))
}

/// SIGINT (Ctrl-C) and SIGTERM, listened for from [`Signals::listen`] on, so that one arriving
/// before the command is ready does not kill it uncleanly.
pub struct Signals {
    interrupt: Signal,
    terminate: Signal,
}

impl Signals {
    /// Starts listening.
    pub fn listen() -> anyhow::Result<Self> {
        Ok(Self {
            interrupt: signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?,
            terminate: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
        })
    }

    /// The next signal: its name, and the exit code that it gives by convention (128 + its
    /// number).
    pub async fn next(&mut self) -> (&'static str, u8) {
        tokio::select! {
            _ = self.interrupt.recv() => ("SIGINT", 130),
            _ = self.terminate.recv() => ("SIGTERM", 143),
        }
    }
}
