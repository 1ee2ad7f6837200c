//! What one `/events` message holds: aggregates over every pool, the top offenders, the page of
//! pools in view, the selected pool's sessions with their "why retired" timelines, and hook and
//! upstream latency from the metrics.
//!
//! Policy:
//! - **Bounded messages.** Whatever the number of pools and sessions, a message holds
//!   [`TOP_OFFENDERS`] offenders, at most [`MAX_PAGE`] pools (as counts, no sessions), and one
//!   pool's timeline: at most [`TIMELINE_SESSIONS`] of its live sessions and its bounded list
//!   of retired ones ([`crate::engine::pool::HISTORY`]). With 1,000 pools and 100,000 sessions a
//!   message stays under [`MAX_MESSAGE_BYTES`] (`issue_19_dashboard_at_1000_pools_and_100000_sessions`).
//! - **Cost.** A tick reads every pool's aggregates once ([`Engine::pool_counts`], kept by the
//!   store at each step), the counters once, and the selected pool's timeline: O(pools +
//!   [`TIMELINE_SESSIONS`]) per tick and open stream, whatever the pools' sizes, off the async
//!   threads ([`super::events`] runs it in `spawn_blocking`).
//! - **Words.** A pool's *uses* are its `use/*` counts but `use/expired`; its *success rate* the
//!   share of them whose check passed; its *bans* the outcomes the reference counts as bans:
//!   `use/check-failed` (its config's check said the session was banned) and `use/failed` (a
//!   520/521 answer, "download errors (incl. bans)", docs/reference.md §5.10); its *check
//!   failures* the checks that could not decide or failed at init (`init/check-failed`,
//!   `init/check-error`, `use/check-error`); its *rate* uses per second since the previous tick.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use serde_json::{Value, json};

use crate::engine::{Engine, PoolCounts, PoolSnapshot};
use crate::telemetry;

/// Offenders listed: the pools with the most bans and check failures, closed ones first.
pub const TOP_OFFENDERS: usize = 10;
/// Most pools on a page of the dashboard.
pub const MAX_PAGE: usize = 100;
/// Live sessions of the selected pool in a message (a sample, [`PoolCounts`] gives the totals):
/// a timeline row costs about 1 KB with its events.
pub const TIMELINE_SESSIONS: usize = 100;
/// A bound on one message, whatever the number of pools and sessions: the page, offenders and
/// timeline at their limits, with ids and texts at their longest, stay under it.
pub const MAX_MESSAGE_BYTES: usize = 512 * 1024;

/// What a stream asked for (the query of `GET /events`).
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct View {
    /// First pool of the page, in the order of ids.
    #[serde(default)]
    pub offset: usize,
    /// Pools on the page (at most [`MAX_PAGE`], default 20).
    pub limit: Option<usize>,
    /// The pool whose sessions' timelines are shown.
    pub pool: Option<String>,
}

/// One stream's memory between ticks: each pool's uses at the last one, for rates.
#[derive(Debug, Default)]
pub struct Rates {
    last: Option<(Instant, HashMap<String, u64>)>,
}

/// One pool's counts, from the engine's counters.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    uses: u64,
    passed: u64,
    bans: u64,
    check_failures: u64,
}

impl Counts {
    fn of(stats: &BTreeMap<String, u64>) -> Self {
        let get = |key: &str| stats.get(key).copied().unwrap_or(0);
        let uses = [
            "use/check-passed",
            "use/check-failed",
            "use/check-error",
            "use/failed",
        ];
        Self {
            uses: uses.iter().map(|k| get(k)).sum(),
            passed: get("use/check-passed"),
            bans: get("use/check-failed") + get("use/failed"),
            check_failures: get("init/check-failed")
                + get("init/check-error")
                + get("use/check-error"),
        }
    }
}

/// One message for `view`, updating `rates`.
pub fn message(engine: &Engine, view: &View, rates: &mut Rates) -> Value {
    let pools = engine.pool_counts();
    let stats = engine.stats().per_pool;
    let counts: HashMap<&str, Counts> = stats
        .iter()
        .map(|(id, s)| (id.as_str(), Counts::of(s)))
        .collect();
    let now = Instant::now();
    let per_sec = per_second(rates, &counts, now);
    let row = |pool: &PoolCounts| {
        let c = counts.get(pool.id.as_str()).copied().unwrap_or_default();
        pool_row(
            pool,
            c,
            per_sec.get(pool.id.as_str()).copied().unwrap_or(0.0),
        )
    };
    let limit = view.limit.unwrap_or(20).min(MAX_PAGE);
    let page: Vec<Value> = pools
        .iter()
        .skip(view.offset)
        .take(limit)
        .map(row)
        .collect();
    let offenders: Vec<Value> = offenders(&pools, &counts).into_iter().map(row).collect();
    let timeline = view
        .pool
        .as_deref()
        .and_then(|id| engine.pool_bounded(id, TIMELINE_SESSIONS));
    json!({
        "totals": totals(&pools, &counts, per_sec.values().fold(0.0, |a, b| a + b)),
        "configs": engine.configs().status(),
        "offenders": offenders,
        "page": {"offset": view.offset, "limit": limit, "total": pools.len(), "pools": page},
        "timeline": timeline.map(|(c, p)| timeline_of(&c, &p)),
        "latency": latency(&telemetry::render()),
    })
}

/// Uses per second of each pool since the last tick (empty at the first).
fn per_second<'a>(
    rates: &mut Rates,
    counts: &HashMap<&'a str, Counts>,
    now: Instant,
) -> HashMap<&'a str, f64> {
    let uses: HashMap<String, u64> = counts
        .iter()
        .map(|(id, c)| ((*id).to_owned(), c.uses))
        .collect();
    let mut out = HashMap::new();
    if let Some((then, last)) = &rates.last {
        let secs = now.duration_since(*then).as_secs_f64().max(0.001);
        for (id, c) in counts {
            let before = last.get(*id).copied().unwrap_or(0);
            out.insert(*id, c.uses.saturating_sub(before) as f64 / secs);
        }
    }
    rates.last = Some((now, uses));
    out
}

/// The sums over every pool.
fn totals(pools: &[PoolCounts], counts: &HashMap<&str, Counts>, rate: f64) -> Value {
    let (mut idle, mut busy, mut missing, mut in_flight) = (0usize, 0usize, 0usize, 0u64);
    for pool in pools {
        let (i, b, m, f) = occupancy(pool);
        (idle, busy, missing, in_flight) = (idle + i, busy + b, missing + m, in_flight + f);
    }
    let sum = counts.values().fold(Counts::default(), |a, c| Counts {
        uses: a.uses + c.uses,
        passed: a.passed + c.passed,
        bans: a.bans + c.bans,
        check_failures: a.check_failures + c.check_failures,
    });
    json!({
        "pools": pools.len(),
        "closed": pools.iter().filter(|p| p.closed.is_some()).count(),
        "idle": idle, "busy": busy, "missing": missing, "in_flight": in_flight,
        "uses": sum.uses, "rate": rate, "success_rate": success(sum),
        "bans": sum.bans, "check_failures": sum.check_failures,
    })
}

/// Idle, busy and missing sessions, and requests in flight, of one pool.
fn occupancy(pool: &PoolCounts) -> (usize, usize, usize, u64) {
    (pool.idle(), pool.busy, pool.missing(), pool.in_flight)
}

fn success(c: Counts) -> Option<f64> {
    (c.uses > 0).then(|| c.passed as f64 / c.uses as f64)
}

/// One pool's row.
fn pool_row(pool: &PoolCounts, c: Counts, rate: f64) -> Value {
    let (idle, busy, missing, in_flight) = occupancy(pool);
    json!({
        "id": pool.id, "closed": pool.closed, "size": pool.size,
        "idle": idle, "busy": busy, "missing": missing, "in_flight": in_flight,
        "rate": rate, "success_rate": success(c), "uses": c.uses,
        "bans": c.bans, "check_failures": c.check_failures, "bad_inits": pool.bad_inits,
    })
}

/// The [`TOP_OFFENDERS`] pools with a close or the most bans and check failures.
fn offenders<'a>(pools: &'a [PoolCounts], counts: &HashMap<&str, Counts>) -> Vec<&'a PoolCounts> {
    let score = |p: &PoolCounts| {
        let c = counts.get(p.id.as_str()).copied().unwrap_or_default();
        (p.closed.is_some(), c.bans + c.check_failures)
    };
    let mut scored: Vec<_> = pools
        .iter()
        .map(|p| (score(p), p))
        .filter(|(s, _)| s.0 || s.1 > 0)
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
    scored
        .into_iter()
        .take(TOP_OFFENDERS)
        .map(|(_, p)| p)
        .collect()
}

/// The sessions of `pool` (some live ones, then the retired ones), each with its events and
/// why it retired; `counts` says how many are live.
fn timeline_of(counts: &PoolCounts, pool: &PoolSnapshot) -> Value {
    let live = pool.sessions.iter().map(|s| (s, "live"));
    let retired = pool.retired.iter().rev().map(|s| (s, "retired"));
    let sessions: Vec<Value> = live
        .chain(retired)
        .map(|(s, state)| {
            json!({
                "id": s.id, "state": state, "age_secs": s.age_secs, "uses": s.uses,
                "check_failures": s.check_failures, "errors": s.errors,
                "retired_because": s.retired_because, "history": s.history,
            })
        })
        .collect();
    json!({"pool": pool.id, "closed": pool.closed, "live": counts.live,
           "shown_live": pool.sessions.len(), "sessions": sessions})
}

/// Hook latency per config and hook, and upstream latency and outcomes, from the metrics text.
pub fn latency(text: &str) -> Value {
    let hooks = histogram(text, telemetry::HOOK_DURATION, &["config", "hook"]);
    let errors = counter(text, telemetry::HOOK_ERRORS, &["config", "hook"]);
    let hooks: Vec<Value> = hooks
        .into_iter()
        .filter(|(_, (_, count))| *count > 0.0)
        .map(|(labels, (sum, count))| {
            let failed = errors.get(&labels).copied().unwrap_or(0.0);
            json!({"config": labels[0], "hook": labels[1], "calls": count,
                   "mean_ms": sum / count * 1000.0, "errors": failed})
        })
        .collect();
    let upstream = histogram(text, telemetry::UPSTREAM_DURATION, &["outcome"]);
    let total: f64 = upstream.values().map(|(_, c)| c).sum();
    let failed: f64 = upstream
        .iter()
        .filter(|(l, _)| l[0] != "2xx")
        .map(|(_, (_, c))| c)
        .sum();
    let upstream: Vec<Value> = upstream
        .into_iter()
        .filter(|(_, (_, count))| *count > 0.0)
        .map(|(l, (sum, count))| json!({"outcome": l[0], "count": count, "mean_ms": sum / count * 1000.0}))
        .collect();
    let error_rate = (total > 0.0).then(|| failed / total);
    json!({"hooks": hooks, "upstream": upstream, "upstream_error_rate": error_rate})
}

/// `(sum, count)` of each series of histogram `name`, keyed by the values of `keys`.
fn histogram(text: &str, name: &str, keys: &[&str]) -> BTreeMap<Vec<String>, (f64, f64)> {
    let sums = counter(text, &format!("{name}_sum"), keys);
    let counts = counter(text, &format!("{name}_count"), keys);
    counts
        .into_iter()
        .map(|(labels, count)| {
            let sum = sums.get(&labels).copied().unwrap_or(0.0);
            (labels, (sum, count))
        })
        .collect()
}

/// The value of each series of `name`, keyed by the values of `keys`, summed over the others.
fn counter(text: &str, name: &str, keys: &[&str]) -> BTreeMap<Vec<String>, f64> {
    let mut out = BTreeMap::new();
    let prefix = format!("{name}{{");
    for line in text.lines().filter(|l| l.starts_with(&prefix)) {
        let Some((labels, value)) = line[prefix.len()..].rsplit_once("} ") else {
            continue;
        };
        let Ok(value) = value.trim().parse::<f64>() else {
            continue;
        };
        let key: Vec<String> = keys.iter().map(|k| label(labels, k)).collect();
        *out.entry(key).or_insert(0.0) += value;
    }
    out
}

/// The value of label `key` in `a="1",b="2"` (empty when absent).
fn label(labels: &str, key: &str) -> String {
    let start = format!("{key}=\"");
    let found = labels.split("\",").find_map(|part| {
        let part = part.trim_start_matches(',');
        part.strip_prefix(&start)
    });
    found
        .map(|v| v.trim_end_matches('"').to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_19_bans_count_every_outcome_the_reference_counts_as_a_ban() {
        let stats: BTreeMap<String, u64> = [
            ("use/check-passed", 5),
            ("use/check-failed", 2),
            ("use/failed", 3),
            ("use/check-error", 1),
            ("use/expired", 4),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let counts = Counts::of(&stats);
        assert_eq!(counts.bans, 5, "use/check-failed + use/failed (520/521)");
        assert_eq!(counts.check_failures, 1);
        assert_eq!(counts.uses, 11);
    }

    #[test]
    fn latency_reads_hook_and_upstream_histograms() {
        let text = "\
session_host_hook_duration_seconds_sum{config=\"a\",hook=\"check\"} 0.5
session_host_hook_duration_seconds_count{config=\"a\",hook=\"check\"} 2
session_host_hook_errors_total{config=\"a\",hook=\"check\",kind=\"trap\"} 1
session_host_upstream_request_duration_seconds_sum{outcome=\"2xx\"} 3
session_host_upstream_request_duration_seconds_count{outcome=\"2xx\"} 3
session_host_upstream_request_duration_seconds_sum{outcome=\"5xx\"} 1
session_host_upstream_request_duration_seconds_count{outcome=\"5xx\"} 1
";
        let value = latency(text);
        assert_eq!(
            value["hooks"],
            json!([{"config": "a", "hook": "check", "calls": 2.0, "mean_ms": 250.0, "errors": 1.0}])
        );
        assert_eq!(
            value["upstream"][1],
            json!({"outcome": "5xx", "count": 1.0, "mean_ms": 1000.0})
        );
        assert_eq!(value["upstream_error_rate"], json!(0.25));
    }
}
