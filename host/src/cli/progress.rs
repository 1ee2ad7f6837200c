//! The progress display of the batch commands (`run`, `demo`), on stderr: an indicatif bar on a
//! terminal, plain lines every [`PLAIN_PERIOD`] otherwise (logs and CI keep a readable record).
//! Both show done/total, errors, the rate of this run, and a live line of pool stats that the
//! caller provides.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How often the bar's message (rate, errors, pool stats) is refreshed: often enough to look
/// live, rarely enough that reading the engine's stats costs nothing.
const BAR_PERIOD: Duration = Duration::from_millis(250);

/// How often a plain line is printed when stderr is not a terminal: a record every few seconds
/// without flooding a log.
pub const PLAIN_PERIOD: Duration = Duration::from_secs(5);

/// A running progress display. Dropping it stops the refresh without a last line.
pub struct Progress {
    state: Arc<State>,
    ticker: tokio::task::JoinHandle<()>,
}

struct State {
    bar: Option<ProgressBar>,
    total: u64,
    /// Done before this run started (resumed inputs): not part of the rate.
    before: u64,
    done: AtomicU64,
    errors: AtomicU64,
    started: Instant,
    detail: Box<dyn Fn() -> String + Send + Sync>,
}

impl Progress {
    /// Starts showing the progress of `total` items, `before` of which are already done;
    /// `detail` gives the live pool stats.
    pub fn start(
        total: usize,
        before: usize,
        detail: impl Fn() -> String + Send + Sync + 'static,
    ) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total as u64).with_position(before as u64);
            let style = ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        let state = Arc::new(State {
            bar,
            total: total as u64,
            before: before as u64,
            done: AtomicU64::new(before as u64),
            errors: AtomicU64::new(0),
            started: Instant::now(),
            detail: Box::new(detail),
        });
        let ticker = tokio::spawn(tick(state.clone()));
        Self { state, ticker }
    }

    /// Counts one item done, an error unless `ok`.
    pub fn record(&self, ok: bool) {
        let done = self.state.done.fetch_add(1, Relaxed) + 1;
        self.state.errors.fetch_add(u64::from(!ok), Relaxed);
        if let Some(bar) = &self.state.bar {
            bar.set_position(done);
        }
    }

    /// Prints `line` on stderr without breaking the bar.
    pub fn println(&self, line: &str) {
        match &self.state.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    /// Stops the display, with a last line; returns how long the run took.
    pub fn finish(self) -> Duration {
        self.ticker.abort();
        match &self.state.bar {
            Some(bar) => {
                bar.set_message(self.state.message());
                bar.finish();
            }
            None => eprintln!("{}", self.state.line()),
        }
        self.state.started.elapsed()
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.ticker.abort();
    }
}

async fn tick(state: Arc<State>) {
    let period = if state.bar.is_some() {
        BAR_PERIOD
    } else {
        PLAIN_PERIOD
    };
    let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        interval.tick().await;
        match &state.bar {
            Some(bar) => bar.set_message(state.message()),
            None => eprintln!("{}", state.line()),
        }
    }
}

impl State {
    /// Errors, rate and pool stats: the bar's message.
    fn message(&self) -> String {
        let errors = self.errors.load(Relaxed);
        let done = self.done.load(Relaxed).saturating_sub(self.before);
        let rate = done as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
        format!("{errors} errors, {rate:.1}/s | {}", (self.detail)())
    }

    /// A plain progress line.
    fn line(&self) -> String {
        let done = self.done.load(Relaxed);
        format!("{done}/{} done, {}", self.total, self.message())
    }
}
