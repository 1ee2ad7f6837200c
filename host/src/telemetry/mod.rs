//! Prometheus metrics: what the engine, the plugin runtime and the Zyte API client count, and
//! the recorder a front end installs to expose them at `GET /metrics`.
//!
//! ```no_run
//! # fn demo(engine: &session_host::engine::Engine) -> Result<(), session_host::telemetry::TelemetryError> {
//! use session_host::telemetry;
//! telemetry::install()?; // once, at start-up; later calls return the same handle
//! // In the GET /metrics handler: refresh the pool gauges, then render.
//! let body: String = telemetry::scrape(engine);
//! # let _ = body; Ok(()) }
//! ```
//!
//! # Policy
//!
//! - **Recording at the source.** The code that knows an event counts it with the `metrics`
//!   macros: [`crate::engine::stats::Stats`] for every session stat, the plugin runtime around
//!   each hook call, the Zyte API client around each HTTP attempt. Nothing is counted twice and
//!   nothing needs a front end to remember it.
//! - **Off by default.** Until [`install`] or [`recorder`] is called in the process, every
//!   recording function returns after one relaxed atomic load: no clock read, no label
//!   allocation (the `metrics` macros would build their labels even for the no-op recorder).
//!   A recorder installed by other means than this module therefore sees none of these metrics.
//! - **One recorder per process.** [`install`] builds a Prometheus recorder with the buckets
//!   below, installs it globally, describes every metric (`# HELP`), and starts a thread that
//!   runs the exporter's upkeep every [`UPKEEP_INTERVAL`] so that histogram samples do not pile
//!   up between scrapes. It is idempotent: every call returns the same [`PrometheusHandle`].
//!   Tests and embedders that want isolation build their own with [`recorder`] and use it as a
//!   local recorder (`metrics::with_local_recorder`).
//! - **Every family from the first scrape** (issue 19, `families.rs`): [`scrape`] registers
//!   the series whose labels are known before any traffic at 0 ([`prime`]), and [`render`]
//!   adds `# HELP` and `# TYPE` for the families with no series yet ([`complete`]).
//! - **Gauges at scrape time.** Pool gauges are not updated on every change: [`observe_engine`]
//!   sets them from [`Engine::pools`] snapshots, and [`scrape`] does that, then renders. A
//!   label whose pools were all evicted is set to zero.
//! - **Bounded labels.** Label values are pool labels ([`Engine::metric_label`]: the first
//!   [`crate::engine::stats::MAX_POOL_LABELS`] site and config pools by id, every other pool
//!   `other`, issue 13), config names, hook names, and fixed sets of words (events, outcomes,
//!   error kinds, fronts, states). Never URLs, session ids, messages or ids a client chose.
//! - **Names.** `session_host_` prefix, snake_case, `_total` for counters, `_seconds` for
//!   histograms (in seconds).
//!
//! # Metrics
//!
//! Session engine (counted in `Stats`, whatever `stats_per_pool` says):
//!
//! | Name | Type | Labels | Meaning |
//! | --- | --- | --- | --- |
//! | `session_host_session_events_total` | counter | `pool`, `event` | A per-pool session stat of docs/reference.md §8; `event` is its key ([`crate::engine::stats::POOL_KEYS`]: `init/check-passed`, `use/failed`, …) |
//! | `session_host_engine_events_total` | counter | `event` | A stat of no pool: `use/disabled`, `retry/count`, `retry/max_reached`, `retry/reason_count/{reason}` |
//!
//! Pools (set by [`observe_engine`], one series per pool label; pools sharing `other` are summed):
//!
//! | Name | Type | Labels | Meaning |
//! | --- | --- | --- | --- |
//! | `session_host_pool_sessions` | gauge | `pool`, `state` | Sessions by `state`: `idle` (live, no request using it), `busy` (live, used by at least one request), `missing` (size minus live: being created, being replaced, or not started yet) |
//! | `session_host_pool_size` | gauge | `pool` | The pool's frozen size |
//! | `session_host_pool_in_flight` | gauge | `pool` | Requests using the pool's sessions now |
//! | `session_host_pool_bad_inits` | gauge | `pool` | Consecutive failed inits (the pool closes at `max_bad_inits`) |
//! | `session_host_pool_closed` | gauge | `pool` | 1 when the pool is closed, else 0 |
//! | `session_host_pool_shared_events` | gauge | `pool`, `event` | A shared pool's (Redis store, issue 16) session stat summed over every host, as the store last fetched it (about a second old); every host serving the pool shows the same figure: aggregate with `max`, not `sum`. `event` as in `session_host_session_events_total` |
//!
//! Plugin runtime:
//!
//! | Name | Type | Labels | Meaning |
//! | --- | --- | --- | --- |
//! | `session_host_hook_duration_seconds` | histogram | `config`, `hook` | Wall time of one hook call, from taking an instance to its return (`init-session` includes its downloads); failed calls too |
//! | `session_host_hook_errors_total` | counter | `config`, `hook`, `kind` | Failed hook calls; `kind` is [`HookErrorKind`]'s, see [`hook_error_kind`]: `guest_error`, `invalid_output`, `output_too_large`, `trap`, `cpu_limit`, `timeout`, `memory_limit`, `instantiate` |
//! | `session_host_hook_instantiations_total` | counter | `config` | Fresh instances created (a warm instance was not available) |
//!
//! Zyte API client:
//!
//! | Name | Type | Labels | Meaning |
//! | --- | --- | --- | --- |
//! | `session_host_upstream_request_duration_seconds` | histogram | `outcome` | One HTTP attempt to `/extract` (each retry is its own attempt); `outcome` is the status class (`2xx`, `4xx`, `5xx`, …) or the transport error (`timeout`, `connect`, `transport`) |
//!
//! Configs (set by the configs-folder reload, through [`record_reload`],
//! [`record_config_error`], [`set_config_load_errors`] and [`set_configs_loaded`]):
//!
//! | Name | Type | Labels | Meaning |
//! | --- | --- | --- | --- |
//! | `session_host_config_reloads_total` | counter | `outcome` | Reloads of the configs folder by [`ReloadOutcome`]: `applied`, `partial`, `failed` |
//! | `session_host_config_errors_total` | counter | `config` | Times a config file failed to load |
//! | `session_host_config_load_errors` | gauge | | Config files currently failing to load |
//! | `session_host_configs_loaded` | gauge | | Configs currently loaded |
//! | `session_host_config_last_reload_timestamp_seconds` | gauge | | Unix time of the last reload that installed a new set |
//!
//! Front ends (through [`record_request`]):
//!
//! | Name | Type | Labels | Meaning |
//! | --- | --- | --- | --- |
//! | `session_host_requests_total` | counter | `front`, `outcome` | Requests a front end answered; `front` is [`Front`]'s (`gateway`, `run`, `demo`), `outcome` [`RequestOutcome`]'s (`ok`, `bad_input`, `pool_closed`, …) |
//! | `session_host_request_duration_seconds` | histogram | `front` | Time from receiving a request to answering it |
//!
//! # Buckets
//!
//! Hook durations use [`HOOK_BUCKETS`] (10 µs to 1 s, then a few for `init-session`, which waits
//! on downloads): a warm Rust hook takes microseconds and a Python one about a millisecond, so
//! the usual Prometheus buckets (5 ms and up) would put every call in the first one. Every other
//! `_seconds` histogram uses [`LATENCY_BUCKETS`] (1 ms to 5 min, the client's default timeout
//! being 320 s).
//!
//! [`Engine::pools`]: crate::engine::Engine::pools
//! [`HookErrorKind`]: crate::plugin::HookErrorKind

mod families;
mod handles;
mod observe;
mod record;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusRecorder};

pub use families::{FAMILIES, Kind, complete, describe, prime};
pub use metrics_exporter_prometheus::PrometheusHandle;
pub use observe::{observe_engine, scrape};
pub use record::{
    Front, ReloadOutcome, RequestOutcome, hook_error_kind, record_config_error, record_reload,
    record_request, set_config_load_errors, set_configs_loaded,
};
pub(crate) use record::{
    engine_event, engine_events, hook_call, hook_error, instantiation, session_event,
    session_events,
};
pub(crate) use record::{upstream_attempt, upstream_status};

/// Per-pool session stats (`pool`, `event`).
pub const SESSION_EVENTS: &str = "session_host_session_events_total";
/// Session stats of no pool (`event`).
pub const ENGINE_EVENTS: &str = "session_host_engine_events_total";
/// Sessions of a pool by state (`pool`, `state`).
pub const POOL_SESSIONS: &str = "session_host_pool_sessions";
/// A pool's size (`pool`).
pub const POOL_SIZE: &str = "session_host_pool_size";
/// Requests using a pool's sessions (`pool`).
pub const POOL_IN_FLIGHT: &str = "session_host_pool_in_flight";
/// A pool's consecutive failed inits (`pool`).
pub const POOL_BAD_INITS: &str = "session_host_pool_bad_inits";
/// 1 when a pool is closed (`pool`).
pub const POOL_CLOSED: &str = "session_host_pool_closed";
/// A shared pool's session stats, summed over every host (`pool`, `event`; issue 16).
pub const POOL_SHARED_EVENTS: &str = "session_host_pool_shared_events";
/// Hook call durations (`config`, `hook`).
pub const HOOK_DURATION: &str = "session_host_hook_duration_seconds";
/// Failed hook calls (`config`, `hook`, `kind`).
pub const HOOK_ERRORS: &str = "session_host_hook_errors_total";
/// Fresh instances (`config`).
pub const HOOK_INSTANTIATIONS: &str = "session_host_hook_instantiations_total";
/// Zyte API attempt durations (`outcome`).
pub const UPSTREAM_DURATION: &str = "session_host_upstream_request_duration_seconds";
/// Configs-folder reloads (`outcome`).
pub const CONFIG_RELOADS: &str = "session_host_config_reloads_total";
/// Config files that failed to load (`config`).
pub const CONFIG_ERRORS: &str = "session_host_config_errors_total";
/// Config files failing to load now.
pub const CONFIG_LOAD_ERRORS: &str = "session_host_config_load_errors";
/// Configs loaded now.
pub const CONFIGS_LOADED: &str = "session_host_configs_loaded";
/// Unix time of the last reload that installed a new set.
pub const CONFIG_LAST_RELOAD: &str = "session_host_config_last_reload_timestamp_seconds";
/// Requests answered by a front end (`front`, `outcome`).
pub const REQUESTS: &str = "session_host_requests_total";
/// Front-end request durations (`front`).
pub const REQUEST_DURATION: &str = "session_host_request_duration_seconds";

/// Buckets of [`HOOK_DURATION`], in seconds: 10 µs to 1 s for ordinary hooks, then up to a
/// minute for `init-session`, which waits on its downloads.
pub const HOOK_BUCKETS: [f64; 20] = [
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0, 60.0,
];

/// Buckets of every other `_seconds` histogram: 1 ms (an emulator on loopback) to 5 minutes
/// (the client's default timeout per attempt is 320 s).
pub const LATENCY_BUCKETS: [f64; 17] = [
    0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0,
    60.0, 300.0,
];

/// How often the upkeep thread drains histogram samples into their buckets. Rendering drains
/// them too; this bounds the memory they take when nobody scrapes.
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Why metrics could not be installed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TelemetryError {
    /// The recorder's configuration was refused (e.g. empty buckets).
    #[error("cannot build the Prometheus recorder: {0}")]
    Build(String),
    /// Another global `metrics` recorder was installed before ours.
    #[error("another metrics recorder is already installed in this process")]
    AlreadyInstalled,
}

static INSTALLED: OnceLock<Result<PrometheusHandle, TelemetryError>> = OnceLock::new();

/// Set once a recorder of this module exists; the recording functions do nothing before.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Whether metrics are recorded (a recorder of this module was built in this process).
pub fn active() -> bool {
    ACTIVE.load(Ordering::Relaxed)
}

/// The start of something to time, when metrics are recorded.
pub(crate) fn started() -> Option<Instant> {
    active().then(Instant::now)
}

/// Installs the Prometheus recorder globally (once per process) and returns its handle; later
/// calls return the same handle, or the same error.
pub fn install() -> Result<PrometheusHandle, TelemetryError> {
    INSTALLED.get_or_init(install_once).clone()
}

/// The installed recorder's handle, if [`install`] succeeded.
pub fn handle() -> Option<PrometheusHandle> {
    INSTALLED.get().and_then(|r| r.as_ref().ok()).cloned()
}

/// Every metric in the Prometheus text format, each family listed even before its first
/// series ([`complete`]); empty when [`install`] has not succeeded.
pub fn render() -> String {
    handle().map(|h| complete(h.render())).unwrap_or_default()
}

/// A Prometheus recorder with this module's buckets, not installed: for tests and embedders
/// that use it as a local recorder. Call [`describe`] under it to get the `# HELP` lines.
/// Turns recording on for the whole process ([`active`]).
pub fn recorder() -> Result<PrometheusRecorder, TelemetryError> {
    let build = |e: metrics_exporter_prometheus::BuildError| TelemetryError::Build(e.to_string());
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(HOOK_DURATION.into()), &HOOK_BUCKETS)
        .map_err(build)?
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
        .map_err(build)?;
    let recorder = builder.build_recorder();
    ACTIVE.store(true, Ordering::Relaxed);
    Ok(recorder)
}

fn install_once() -> Result<PrometheusHandle, TelemetryError> {
    let recorder = recorder()?;
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|_| TelemetryError::AlreadyInstalled)?;
    handles::remember_global();
    describe();
    let upkeep = handle.clone();
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                upkeep.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        // Rendering drains histograms too, so metrics still work; only memory between
        // scrapes is unbounded.
        tracing::warn!("cannot start the metrics upkeep thread: {e}");
    }
    Ok(handle)
}

#[cfg(test)]
mod tests;
