//! The recording functions: the crate-internal ones the instrumented code calls, and the
//! public ones for the configs reload and the front ends.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use metrics::{counter, gauge, histogram};

use super::handles::{key, with_config_histogram, with_counter, with_histogram, with_pool_counter};
use super::{
    CONFIG_ERRORS, CONFIG_LAST_RELOAD, CONFIG_LOAD_ERRORS, CONFIG_RELOADS, CONFIGS_LOADED,
    ENGINE_EVENTS, HOOK_DURATION, HOOK_ERRORS, HOOK_INSTANTIATIONS, REQUEST_DURATION, REQUESTS,
    SESSION_EVENTS, UPSTREAM_DURATION, active,
};
use crate::engine::EngineError;
use crate::engine::stats::PREFIX;
use crate::plugin::{Hook, HookErrorKind};

/// Counts a per-pool session stat (`key` as in [`crate::engine::stats::POOL_KEYS`]).
pub(crate) fn session_event(pool: &str, key: &'static str) {
    if !active() {
        return;
    }
    let make = || counter!(SESSION_EVENTS, "pool" => pool.to_owned(), "event" => key);
    with_pool_counter(self::key(SESSION_EVENTS, key, ""), pool, make, |c| {
        c.increment(1);
    });
}

/// Adds `n` to a per-pool session stat (counters an earlier run kept, issue 15).
pub(crate) fn session_events(pool: &str, key: &'static str, n: u64) {
    if !active() {
        return;
    }
    counter!(SESSION_EVENTS, "pool" => pool.to_owned(), "event" => key).increment(n);
}

/// Adds `n` to a stat of no pool, by its full name (counters an earlier run kept).
pub(crate) fn engine_events(name: &str, n: u64) {
    if !active() {
        return;
    }
    let event = name.strip_prefix(PREFIX).unwrap_or(name).to_owned();
    counter!(ENGINE_EVENTS, "event" => event).increment(n);
}

/// Counts a stat of no pool, by its full name (the session prefix is dropped from the label).
pub(crate) fn engine_event(name: &'static str) {
    if !active() {
        return;
    }
    let event = name.strip_prefix(PREFIX).unwrap_or(name);
    let make = || counter!(ENGINE_EVENTS, "event" => event);
    with_counter(key(ENGINE_EVENTS, event, ""), make, |c| c.increment(1));
}

/// Records one hook call of `config`, failed or not, started at [`super::started`].
pub(crate) fn hook_call(config: &Arc<str>, hook: Hook, started: Option<Instant>) {
    if let Some(started) = started {
        let make =
            || histogram!(HOOK_DURATION, "config" => Arc::clone(config), "hook" => hook.name());
        let elapsed = started.elapsed();
        with_config_histogram(key(HOOK_DURATION, hook.name(), ""), config, make, |h| {
            h.record(elapsed);
        });
    }
}

/// Counts a failed hook call.
pub(crate) fn hook_error(config: &Arc<str>, hook: Hook, kind: &HookErrorKind) {
    if !active() {
        return;
    }
    let kind = hook_error_kind(kind);
    counter!(HOOK_ERRORS, "config" => Arc::clone(config), "hook" => hook.name(), "kind" => kind)
        .increment(1);
}

/// Counts a fresh instance of `config`.
pub(crate) fn instantiation(config: &Arc<str>) {
    if !active() {
        return;
    }
    counter!(HOOK_INSTANTIATIONS, "config" => Arc::clone(config)).increment(1);
}

/// Records one HTTP attempt to Zyte API, started at [`super::started`]; `outcome` is
/// [`upstream_status`]'s or a transport error kind.
pub(crate) fn upstream_attempt(outcome: &'static str, started: Option<Instant>) {
    if let Some(started) = started {
        let make = || histogram!(UPSTREAM_DURATION, "outcome" => outcome);
        let elapsed = started.elapsed();
        with_histogram(key(UPSTREAM_DURATION, outcome, ""), make, |h| {
            h.record(elapsed);
        });
    }
}

/// The status class label of an HTTP status: `2xx`, `4xx`, ….
pub(crate) fn upstream_status(status: u16) -> &'static str {
    match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        5 => "5xx",
        _ => "other",
    }
}

/// The `kind` label of a failed hook call.
pub fn hook_error_kind(kind: &HookErrorKind) -> &'static str {
    match kind {
        HookErrorKind::Guest(_) => "guest_error",
        HookErrorKind::InvalidOutput(_) => "invalid_output",
        HookErrorKind::OutputTooLarge { .. } => "output_too_large",
        HookErrorKind::Trap { .. } => "trap",
        HookErrorKind::CpuBudget { .. } => "cpu_limit",
        HookErrorKind::Timeout { .. } => "timeout",
        HookErrorKind::MemoryLimit { .. } => "memory_limit",
        HookErrorKind::Instantiate(_) => "instantiate",
    }
}

/// How a reload of the configs folder ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReloadOutcome {
    /// Every file loaded and the new set is in place.
    Applied,
    /// The new set is in place, but some files failed to load (each reported with
    /// [`record_config_error`]).
    Partial,
    /// Nothing changed: the reload failed as a whole (e.g. the folder cannot be read).
    Failed,
}

impl ReloadOutcome {
    /// The `outcome` label.
    pub fn as_str(self) -> &'static str {
        match self {
            ReloadOutcome::Applied => "applied",
            ReloadOutcome::Partial => "partial",
            ReloadOutcome::Failed => "failed",
        }
    }
}

/// Counts a reload of the configs folder (the initial load included). `Applied` and `Partial`
/// also set `session_host_config_last_reload_timestamp_seconds` to now.
pub fn record_reload(outcome: ReloadOutcome) {
    if !active() {
        return;
    }
    counter!(CONFIG_RELOADS, "outcome" => outcome.as_str()).increment(1);
    if outcome != ReloadOutcome::Failed {
        let now = SystemTime::now().duration_since(UNIX_EPOCH);
        gauge!(CONFIG_LAST_RELOAD).set(now.unwrap_or_default().as_secs_f64());
    }
}

/// Counts one failed load of the config file named `config` (its file stem).
pub fn record_config_error(config: &str) {
    if !active() {
        return;
    }
    counter!(CONFIG_ERRORS, "config" => config.to_owned()).increment(1);
}

/// Sets how many config files fail to load right now (after a reload: 0 when all loaded).
pub fn set_config_load_errors(count: usize) {
    if !active() {
        return;
    }
    gauge!(CONFIG_LOAD_ERRORS).set(count as f64);
}

/// Sets how many configs are loaded right now.
pub fn set_configs_loaded(count: usize) {
    if !active() {
        return;
    }
    gauge!(CONFIGS_LOADED).set(count as f64);
}

/// The front end that answered a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Front {
    /// `session-host serve`.
    Gateway,
    /// `session-host run`.
    Run,
    /// `session-host demo`.
    Demo,
}

impl Front {
    /// The `front` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Front::Gateway => "gateway",
            Front::Run => "run",
            Front::Demo => "demo",
        }
    }
}

/// How a front end answered a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestOutcome {
    /// The engine returned a response.
    Ok,
    /// The request was invalid ([`EngineError::BadInput`], or refused by the front end itself:
    /// malformed JSON, oversize body).
    BadInput,
    /// The client did not authenticate (gateway only).
    Unauthorized,
    /// [`EngineError::PoolClosed`].
    PoolClosed,
    /// [`EngineError::NoSession`].
    NoSession,
    /// [`EngineError::Config`].
    ConfigError,
    /// [`EngineError::Upstream`].
    UpstreamError,
    /// [`EngineError::GaveUp`].
    GaveUp,
    /// [`EngineError::Timeout`]: the request's deadline passed.
    Timeout,
    /// [`EngineError::TooManyPools`]: a pool bound is full (issue 13).
    TooManyPools,
    /// [`EngineError::StoreUnavailable`]: the shared store is down (issue 16).
    StoreUnavailable,
}

impl RequestOutcome {
    /// The outcome of an engine result.
    pub fn of<T>(result: &Result<T, EngineError>) -> Self {
        result
            .as_ref()
            .map_or_else(Self::from, |_| RequestOutcome::Ok)
    }

    /// The `outcome` label.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestOutcome::Ok => "ok",
            RequestOutcome::BadInput => "bad_input",
            RequestOutcome::Unauthorized => "unauthorized",
            RequestOutcome::PoolClosed => "pool_closed",
            RequestOutcome::NoSession => "no_session",
            RequestOutcome::ConfigError => "config_error",
            RequestOutcome::UpstreamError => "upstream_error",
            RequestOutcome::GaveUp => "gave_up",
            RequestOutcome::Timeout => "timeout",
            RequestOutcome::TooManyPools => "too_many_pools",
            RequestOutcome::StoreUnavailable => "store_unavailable",
        }
    }
}

impl From<&EngineError> for RequestOutcome {
    fn from(error: &EngineError) -> Self {
        match error {
            EngineError::BadInput(_) => RequestOutcome::BadInput,
            EngineError::PoolClosed { .. } => RequestOutcome::PoolClosed,
            EngineError::NoSession { .. } => RequestOutcome::NoSession,
            EngineError::Config(_) => RequestOutcome::ConfigError,
            EngineError::Upstream { .. } => RequestOutcome::UpstreamError,
            EngineError::GaveUp { .. } => RequestOutcome::GaveUp,
            EngineError::Timeout { .. } => RequestOutcome::Timeout,
            EngineError::TooManyPools { .. } => RequestOutcome::TooManyPools,
            EngineError::StoreUnavailable { .. } => RequestOutcome::StoreUnavailable,
        }
    }
}

/// Counts a request a front end answered, and how long it took.
pub fn record_request(front: Front, outcome: RequestOutcome, elapsed: Duration) {
    if !active() {
        return;
    }
    let (front, outcome) = (front.as_str(), outcome.as_str());
    let make = || counter!(REQUESTS, "front" => front, "outcome" => outcome);
    with_counter(key(REQUESTS, front, outcome), make, |c| c.increment(1));
    let make = || histogram!(REQUEST_DURATION, "front" => front);
    with_histogram(key(REQUEST_DURATION, front, ""), make, |h| {
        h.record(elapsed);
    });
}
