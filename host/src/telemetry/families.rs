//! Every metric family from the first scrape (issue 19): Prometheus sees each series from
//! start-up, so dashboards and alerts do not break after a restart.
//!
//! Policy:
//! - **Known label sets start at zero.** [`prime`] registers, at value 0, every series whose
//!   labels are known before any traffic: requests and their duration per front end and
//!   outcome, upstream attempts per outcome, engine events, config reloads per outcome, and
//!   per loaded config its hook durations, hook errors per kind and instantiations. Registering
//!   is idempotent, so [`super::scrape`] calls it on every scrape, which also covers configs a
//!   reload adds. Its cost is one registry look-up per series (a few hundred with ten configs),
//!   independent of pools and sessions.
//! - **Families without a known label set** (the per-pool ones, before the first pool exists)
//!   still appear: [`complete`] appends their `# HELP` and `# TYPE` lines, with no sample,
//!   which the text format allows.
//! - **One table.** [`FAMILIES`] names every family once, with its type and help; [`describe`]
//!   and [`complete`] both read it, so a new metric cannot miss either.

use std::sync::Arc;

use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, histogram};

use super::record::{Front, ReloadOutcome, RequestOutcome};
use super::*;
use crate::plugin::Hook;

/// A metric family's Prometheus type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A monotonic counter (`_total`).
    Counter,
    /// A gauge.
    Gauge,
    /// A histogram (`_seconds`).
    Histogram,
}

impl Kind {
    /// The word of a `# TYPE` line.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// Every metric family: its name, type and help text.
pub const FAMILIES: [(&str, Kind, &str); 19] = [
    (
        SESSION_EVENTS,
        Kind::Counter,
        "Session stats of docs/reference.md §8, per pool",
    ),
    (
        ENGINE_EVENTS,
        Kind::Counter,
        "Session stats of no pool: use/disabled and retries",
    ),
    (
        POOL_SESSIONS,
        Kind::Gauge,
        "Sessions of a pool by state (idle, busy, missing)",
    ),
    (POOL_SIZE, Kind::Gauge, "The pool's size"),
    (
        POOL_IN_FLIGHT,
        Kind::Gauge,
        "Requests using the pool's sessions",
    ),
    (
        POOL_BAD_INITS,
        Kind::Gauge,
        "Consecutive failed inits of the pool",
    ),
    (POOL_CLOSED, Kind::Gauge, "1 when the pool is closed"),
    (
        POOL_SHARED_EVENTS,
        Kind::Gauge,
        "A shared pool's session stats summed over every host (aggregate with max)",
    ),
    (HOOK_DURATION, Kind::Histogram, "Duration of one hook call"),
    (
        HOOK_ERRORS,
        Kind::Counter,
        "Failed hook calls by error kind",
    ),
    (
        HOOK_INSTANTIATIONS,
        Kind::Counter,
        "Fresh instances of a config",
    ),
    (
        UPSTREAM_DURATION,
        Kind::Histogram,
        "Duration of one HTTP attempt to Zyte API, by outcome",
    ),
    (
        CONFIG_RELOADS,
        Kind::Counter,
        "Reloads of the configs folder by outcome",
    ),
    (
        CONFIG_ERRORS,
        Kind::Counter,
        "Times a config file failed to load",
    ),
    (
        CONFIG_LOAD_ERRORS,
        Kind::Gauge,
        "Config files failing to load now",
    ),
    (CONFIGS_LOADED, Kind::Gauge, "Configs loaded now"),
    (
        CONFIG_LAST_RELOAD,
        Kind::Gauge,
        "Unix time of the last reload that applied",
    ),
    (
        REQUESTS,
        Kind::Counter,
        "Requests answered by a front end, by outcome",
    ),
    (
        REQUEST_DURATION,
        Kind::Histogram,
        "Front-end request duration",
    ),
];

/// Describes every family of [`FAMILIES`] to the current recorder (the `# HELP` lines).
pub fn describe() {
    for (name, kind, help) in FAMILIES {
        match kind {
            Kind::Counter => describe_counter!(name, help),
            Kind::Gauge => describe_gauge!(name, help),
            Kind::Histogram => describe_histogram!(name, Unit::Seconds, help),
        }
    }
}

/// The `outcome` labels of [`UPSTREAM_DURATION`] (status classes and transport errors).
pub const UPSTREAM_OUTCOMES: [&str; 6] = ["2xx", "4xx", "5xx", "timeout", "connect", "transport"];
/// The `event` labels of [`ENGINE_EVENTS`] known in advance (retry reasons are not).
pub const ENGINE_EVENT_NAMES: [&str; 3] = ["use/disabled", "retry/count", "retry/max_reached"];
/// The `kind` labels of [`HOOK_ERRORS`].
pub const HOOK_ERROR_KINDS: [&str; 8] = [
    "guest_error",
    "invalid_output",
    "output_too_large",
    "trap",
    "cpu_limit",
    "timeout",
    "memory_limit",
    "instantiate",
];
/// Every [`RequestOutcome`].
const REQUEST_OUTCOMES: [RequestOutcome; 11] = [
    RequestOutcome::Ok,
    RequestOutcome::BadInput,
    RequestOutcome::Unauthorized,
    RequestOutcome::PoolClosed,
    RequestOutcome::NoSession,
    RequestOutcome::ConfigError,
    RequestOutcome::UpstreamError,
    RequestOutcome::GaveUp,
    RequestOutcome::Timeout,
    RequestOutcome::TooManyPools,
    RequestOutcome::StoreUnavailable,
];

/// Registers at zero every series of `front` and of `configs` whose labels are known before
/// any traffic (see the module policy). Does nothing while no recorder exists.
pub fn prime(front: Front, configs: &[Arc<str>]) {
    if !active() {
        return;
    }
    let front = front.as_str();
    for outcome in REQUEST_OUTCOMES {
        counter!(REQUESTS, "front" => front, "outcome" => outcome.as_str()).increment(0);
    }
    let _registered = histogram!(REQUEST_DURATION, "front" => front);
    for outcome in UPSTREAM_OUTCOMES {
        let _registered = histogram!(UPSTREAM_DURATION, "outcome" => outcome);
    }
    for event in ENGINE_EVENT_NAMES {
        counter!(ENGINE_EVENTS, "event" => event).increment(0);
    }
    for outcome in [
        ReloadOutcome::Applied,
        ReloadOutcome::Partial,
        ReloadOutcome::Failed,
    ] {
        counter!(CONFIG_RELOADS, "outcome" => outcome.as_str()).increment(0);
    }
    configs.iter().for_each(prime_config);
}

/// The zero series of one config: hook durations and errors, instantiations, load errors.
fn prime_config(config: &Arc<str>) {
    counter!(HOOK_INSTANTIATIONS, "config" => Arc::clone(config)).increment(0);
    counter!(CONFIG_ERRORS, "config" => Arc::clone(config)).increment(0);
    for hook in Hook::ALL {
        let _registered =
            histogram!(HOOK_DURATION, "config" => Arc::clone(config), "hook" => hook.name());
        for kind in HOOK_ERROR_KINDS {
            let config = Arc::clone(config);
            counter!(HOOK_ERRORS, "config" => config, "hook" => hook.name(), "kind" => kind)
                .increment(0);
        }
    }
}

/// `text` (a rendered exposition) with the `# HELP` and `# TYPE` lines of every family of
/// [`FAMILIES`] it lacks appended, so that each family is listed even with no series yet.
pub fn complete(mut text: String) -> String {
    for (name, kind, help) in FAMILIES {
        if !text.contains(&format!("# TYPE {name} ")) {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            let kind = kind.as_str();
            text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_19_a_fresh_exporter_lists_every_family_and_zeroes_known_series() {
        let recorder = recorder().expect("the recorder builds");
        metrics::with_local_recorder(&recorder, || {
            describe();
            prime(Front::Gateway, &[Arc::from("csrf-token")]);
        });
        let text = complete(recorder.handle().render());
        for (name, kind, _) in FAMILIES {
            assert!(text.contains(&format!("# HELP {name} ")), "{name}:\n{text}");
            let kind = kind.as_str();
            assert!(text.contains(&format!("# TYPE {name} {kind}\n")), "{name}");
        }
        let zero = [
            r#"session_host_requests_total{front="gateway",outcome="ok"} 0"#,
            r#"session_host_request_duration_seconds_count{front="gateway"} 0"#,
            r#"session_host_upstream_request_duration_seconds_count{outcome="2xx"} 0"#,
            r#"session_host_hook_duration_seconds_count{config="csrf-token",hook="check"} 0"#,
            r#"session_host_hook_errors_total{config="csrf-token",hook="check",kind="trap"} 0"#,
            r#"session_host_config_reloads_total{outcome="failed"} 0"#,
        ];
        for line in zero {
            assert!(text.lines().any(|l| l == line), "{line}:\n{text}");
        }
        // Completing twice adds nothing.
        assert_eq!(complete(text.clone()), text);
    }
}
