//! Counters named like the reference's stats (section 8), per pool and in aggregate.
//!
//! A key is the part after `scrapy-zyte-api/sessions/[pools/{pool}/]`, e.g. `init/check-passed`.
//! [`Stats::snapshot`] spells the full names the way `stats_per_pool` asks: per pool
//! `scrapy-zyte-api/sessions/pools/{pool}/{key}`, else the aggregate
//! `scrapy-zyte-api/sessions/{key}`. `use/disabled` is never per pool, and Scrapy's retry stats
//! (`retry/count`, `retry/reason_count/{reason}`, `retry/max_reached`) keep their names.
//!
//! # Durable (issue 15)
//!
//! The counters are plain atomics on the request path; a durable store reads them in the
//! background ([`Stats::saved`], compared with what it wrote last, so nothing is added to a
//! request) and an engine started on its state carries on from them ([`Stats::restore`],
//! which adds them to the Prometheus counters too).
//!
//! # Bounds (issue 13)
//!
//! - Counters are kept per live pool, so their number follows the pool bounds
//!   ([`crate::store::bounds`]); an evicted pool's counters are added to the pool [`EVICTED`], so the
//!   aggregate stays true.
//! - Prometheus `pool` label values ([`Stats::label`]) are only given to site and config pools
//!   ([`PoolKind::Named`]), and to at most [`MAX_POOL_LABELS`] of them; pools named by
//!   requests, params pools, location pools and the pools past that bound share the label
//!   [`OTHER_LABEL`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock};

use crate::settings::SessionSettings;
use crate::store::PoolKind;
use crate::telemetry;

/// The pool that holds the counters of evicted pools.
pub const EVICTED: &str = "(evicted)";
/// The Prometheus `pool` label of every pool without a label of its own.
pub const OTHER_LABEL: &str = "other";
/// Site and config pools that get a Prometheus `pool` label of their own, first come first
/// served. Each label value costs about ten series (the session events and the pool gauges),
/// which the exporter keeps until the host stops: 200 keeps `/metrics` under about 5,000 lines
/// whatever the clients send.
pub const MAX_POOL_LABELS: usize = 200;

/// The prefix of every session stat.
pub const PREFIX: &str = "scrapy-zyte-api/sessions/";

/// Every per-pool key of docs/reference.md §8, in [`SessionStat`] order.
pub const POOL_KEYS: [&str; SessionStat::COUNT] = [
    "init/check-passed",
    "init/check-failed",
    "init/check-error",
    "init/param-error",
    "init/failed",
    "init/over-limit",
    "init/server-error",
    "use/check-passed",
    "use/check-failed",
    "use/check-error",
    "use/failed",
    "use/expired",
];

/// A per-pool session stat (reference section 8): an index into a pool's counters, so that
/// counting costs no string-keyed lookup (issue 15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionStat {
    /// `init/check-passed`
    InitCheckPassed,
    /// `init/check-failed`
    InitCheckFailed,
    /// `init/check-error`
    InitCheckError,
    /// `init/param-error`
    InitParamError,
    /// `init/failed`
    InitFailed,
    /// `init/over-limit`
    InitOverLimit,
    /// `init/server-error`
    InitServerError,
    /// `use/check-passed`
    UseCheckPassed,
    /// `use/check-failed`
    UseCheckFailed,
    /// `use/check-error`
    UseCheckError,
    /// `use/failed`
    UseFailed,
    /// `use/expired`
    UseExpired,
}

impl SessionStat {
    /// Number of stats.
    pub const COUNT: usize = 12;

    /// Its key, e.g. `init/check-passed`.
    pub fn as_str(self) -> &'static str {
        POOL_KEYS[self as usize]
    }
}

/// One pool's counters, indexed by [`SessionStat`], and its Prometheus label.
#[derive(Debug, Default)]
struct Counters {
    counts: [AtomicU64; SessionStat::COUNT],
    /// [`Stats::label`] of the pool, kept at its first count with metrics on (issue 17: it
    /// took a lock, a hash and a copy of the id at every count). It cannot change after: the
    /// labels set only grows, so a pool in it stays, and one left out when it was full stays out.
    label: std::sync::OnceLock<String>,
}

/// The engine's counters. Counting a pool's stat takes a read lock and an atomic add; the
/// write lock only when a pool is counted the first time.
#[derive(Debug, Default)]
pub struct Stats {
    pools: RwLock<HashMap<String, Arc<Counters>>>,
    global: Mutex<BTreeMap<String, u64>>,
    labels: Mutex<HashSet<String>>,
    client_prefix: String,
    /// The pool labels of the gauges at the last scrape.
    pub(super) gauge_labels: Mutex<std::collections::BTreeSet<String>>,
}

/// The raw counters, as a durable store keeps them: per pool by [`SessionStat`] index, and the
/// stats of no pool by full name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SavedStats {
    /// Per pool, indexed by [`SessionStat`].
    pub pools: HashMap<String, [u64; SessionStat::COUNT]>,
    /// Stats of no pool (`use/disabled`, retries), by full name.
    pub global: BTreeMap<String, u64>,
}

/// A copy of the counters, ready to export.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StatsSnapshot {
    /// Full stat names as the reference spells them (honouring `stats_per_pool`).
    pub counters: BTreeMap<String, u64>,
    /// Per pool, by key (e.g. `use/check-passed`), whatever `stats_per_pool` says.
    pub per_pool: BTreeMap<String, BTreeMap<String, u64>>,
}

impl StatsSnapshot {
    /// A counter by full name, 0 when absent.
    pub fn get(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }

    /// A pool's counter by key, 0 when absent.
    pub fn pool(&self, pool: &str, key: &str) -> u64 {
        self.per_pool
            .get(pool)
            .and_then(|p| p.get(key))
            .copied()
            .unwrap_or(0)
    }
}

impl Stats {
    /// Counters for an engine with `settings` (which say what a request-named pool is).
    pub fn new(settings: &SessionSettings) -> Self {
        Self {
            client_prefix: settings.client_pool_prefix.clone(),
            ..Self::default()
        }
    }

    /// The Prometheus `pool` label of `pool`: its id for the first [`MAX_POOL_LABELS`] site and
    /// config pools, else [`OTHER_LABEL`].
    pub fn label(&self, pool: &str) -> String {
        if PoolKind::of(pool, &self.client_prefix) != PoolKind::Named {
            return OTHER_LABEL.into();
        }
        let mut labels = self.labels.lock();
        if labels.contains(pool) || labels.len() < MAX_POOL_LABELS && labels.insert(pool.into()) {
            return pool.into();
        }
        OTHER_LABEL.into()
    }

    /// Moves the counters of an evicted `pool` to [`EVICTED`].
    pub fn forget(&self, pool: &str) {
        let mut pools = self.pools.write();
        let Some(counters) = pools.remove(pool) else {
            return;
        };
        let evicted = pools.entry(EVICTED.into()).or_default();
        for (into, from) in evicted.counts.iter().zip(&counters.counts) {
            into.fetch_add(from.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }

    /// Counts `stat` for `pool`, in the Prometheus metrics too ([`crate::telemetry`]).
    pub fn inc(&self, pool: &str, stat: SessionStat) {
        let counters = self.pools.read().get(pool).cloned();
        let counters = match counters {
            Some(counters) => counters,
            None => self
                .pools
                .write()
                .entry(pool.to_owned())
                .or_default()
                .clone(),
        };
        if telemetry::active() {
            let label = counters.label.get_or_init(|| self.label(pool));
            telemetry::session_event(label, stat.as_str());
        }
        counters.counts[stat as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a stat that belongs to no pool (full name), in the metrics too.
    pub fn inc_global(&self, name: &'static str) {
        telemetry::engine_event(name);
        let mut global = self.global.lock();
        match global.get_mut(name) {
            Some(n) => *n += 1,
            None => drop(global.insert(name.to_owned(), 1)),
        }
    }

    /// The raw counters, for a durable store ([`SavedStats`]).
    pub fn saved(&self) -> SavedStats {
        let pools = self.pools.read();
        let pools = pools.iter().map(|(id, c)| (id.clone(), c.load())).collect();
        let global = self.global.lock().clone();
        SavedStats { pools, global }
    }

    /// Adds `saved` (an earlier run's counters) to the counters and to the Prometheus metrics.
    pub fn restore(&self, saved: SavedStats) {
        for (pool, values) in saved.pools {
            let label = self.label(&pool);
            let counters = self.pools.write().entry(pool).or_default().clone();
            for (i, n) in values.into_iter().enumerate().filter(|(_, n)| *n > 0) {
                counters.counts[i].fetch_add(n, Ordering::Relaxed);
                telemetry::session_events(&label, POOL_KEYS[i], n);
            }
        }
        let mut global = self.global.lock();
        for (name, n) in saved.global {
            telemetry::engine_events(&name, n);
            *global.entry(name).or_default() += n;
        }
    }

    /// The counters, named as `per_pool` asks.
    pub fn snapshot(&self, per_pool: bool) -> StatsSnapshot {
        let pools: BTreeMap<String, BTreeMap<&'static str, u64>> = self
            .pools
            .read()
            .iter()
            .map(|(pool, counters)| (pool.clone(), counters.values()))
            .collect();
        let mut counters: BTreeMap<String, u64> = self
            .global
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        for (pool, keys) in pools.iter() {
            for (key, value) in keys {
                let name = if per_pool {
                    format!("{PREFIX}pools/{pool}/{key}")
                } else {
                    format!("{PREFIX}{key}")
                };
                *counters.entry(name).or_default() += value;
            }
        }
        let per_pool = pools
            .iter()
            .map(|(pool, keys)| {
                let keys = keys.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
                (pool.clone(), keys)
            })
            .collect();
        StatsSnapshot { counters, per_pool }
    }
}

impl Counters {
    /// Every count, by [`SessionStat`] index.
    fn load(&self) -> [u64; SessionStat::COUNT] {
        std::array::from_fn(|i| self.counts[i].load(Ordering::Relaxed))
    }

    /// The counts that are not zero, by key.
    fn values(&self) -> BTreeMap<&'static str, u64> {
        POOL_KEYS
            .iter()
            .zip(&self.counts)
            .map(|(key, n)| (*key, n.load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_stats_per_pool() {
        let stats = Stats::default();
        stats.inc("a.com", SessionStat::UseCheckPassed);
        stats.inc("b.com@10001", SessionStat::UseCheckPassed);
        stats.inc_global("scrapy-zyte-api/sessions/use/disabled");
        let flat = stats.snapshot(false);
        assert_eq!(flat.get("scrapy-zyte-api/sessions/use/check-passed"), 2);
        assert_eq!(flat.get("scrapy-zyte-api/sessions/use/disabled"), 1);
        let split = stats.snapshot(true);
        assert_eq!(
            split.get("scrapy-zyte-api/sessions/pools/b.com@10001/use/check-passed"),
            1
        );
        assert_eq!(split.get("scrapy-zyte-api/sessions/use/check-passed"), 0);
        assert_eq!(split.pool("a.com", "use/check-passed"), 1);
    }

    #[test]
    fn issue_13_labels_are_bounded_and_evicted_counters_kept() {
        let stats = Stats::new(&SessionSettings::default());
        for id in ["client/x", "a.com[0]", "a.com@US"] {
            assert_eq!(stats.label(id), OTHER_LABEL);
        }
        for n in 0..MAX_POOL_LABELS {
            assert_eq!(stats.label(&format!("site{n}.com")), format!("site{n}.com"));
        }
        assert_eq!(stats.label("late.com"), OTHER_LABEL);
        assert_eq!(stats.label("site0.com"), "site0.com");
        stats.inc("client/x", SessionStat::UseCheckPassed);
        stats.inc("client/y", SessionStat::UseCheckPassed);
        stats.forget("client/x");
        stats.forget("client/y");
        let snapshot = stats.snapshot(false);
        assert_eq!(snapshot.get("scrapy-zyte-api/sessions/use/check-passed"), 2);
        assert_eq!(snapshot.per_pool.len(), 1);
        assert_eq!(snapshot.pool(EVICTED, "use/check-passed"), 2);
    }

    #[test]
    fn issue_15_saved_counters_restore_and_carry_on() {
        let stats = Stats::default();
        stats.inc("a.com", SessionStat::UseCheckPassed);
        stats.inc("a.com", SessionStat::InitCheckPassed);
        stats.inc_global("retry/count");
        let saved = stats.saved();
        assert_eq!(
            saved.pools["a.com"][SessionStat::UseCheckPassed as usize],
            1
        );
        let again = Stats::default();
        again.restore(saved);
        again.inc("a.com", SessionStat::UseCheckPassed);
        again.inc_global("retry/count");
        let snapshot = again.snapshot(false);
        assert_eq!(snapshot.pool("a.com", "use/check-passed"), 2);
        assert_eq!(snapshot.pool("a.com", "init/check-passed"), 1);
        assert_eq!(snapshot.get("retry/count"), 2);
    }
}
