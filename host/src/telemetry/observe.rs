//! Pool gauges, set at scrape time from the pools' aggregates ([`Engine::pool_counts`]:
//! `O(pools)`, whatever their sizes, issue 19).
//!
//! Pools share a `pool` label by [`Engine::metric_label`] (issue 13): the gauges of pools
//! that share one (`other`) are summed. A label whose pools have all been evicted since the last
//! scrape is set to zero rather than left at its last value.

use std::collections::BTreeMap;
use std::sync::Arc;

use metrics::gauge;

use super::{
    POOL_BAD_INITS, POOL_CLOSED, POOL_IN_FLIGHT, POOL_SESSIONS, POOL_SHARED_EVENTS, POOL_SIZE,
};
use crate::engine::{Engine, PoolCounts};

/// Sets the pool gauges of every pool of `engine` (call it before rendering); does nothing
/// while no recorder exists ([`super::active`]).
pub fn observe_engine(engine: &Engine) {
    if !super::active() {
        return;
    }
    let mut by_label: BTreeMap<String, Gauges> = BTreeMap::new();
    let mut shared: BTreeMap<(String, String), u64> = BTreeMap::new();
    for pool in engine.pool_counts() {
        let label = engine.metric_label(&pool.id);
        for (event, n) in engine.shared_stats(&pool.id).unwrap_or_default() {
            *shared.entry((label.clone(), event)).or_default() += n;
        }
        by_label.entry(label).or_default().add(&Gauges::of(&pool));
    }
    // Every host's counters of the shared pools this host serves (issue 16): each host shows
    // the same global figure, so a dashboard aggregates them with `max`, never `sum`. Read
    // from the store's copy, refreshed in the background: no round trip here.
    for ((label, event), n) in shared {
        gauge!(POOL_SHARED_EVENTS, "pool" => label, "event" => event).set(n as f64);
    }
    let last = engine.swap_gauge_labels(by_label.keys().cloned().collect());
    for gone in last.iter().filter(|l| !by_label.contains_key(*l)) {
        Gauges::default().set(gone);
    }
    for (label, gauges) in by_label {
        gauges.set(&label);
    }
}

/// [`super::prime`] (the gateway's and the loaded configs' zero series), [`observe_engine`],
/// then [`super::render`]: the whole body of a `GET /metrics` handler.
pub fn scrape(engine: &Engine) -> String {
    let configs = engine.configs();
    let names: Vec<Arc<str>> = configs
        .entries()
        .iter()
        .map(|c| Arc::from(c.plugin.name()))
        .collect();
    super::prime(super::Front::Gateway, &names);
    observe_engine(engine);
    super::render()
}

#[cfg(test)]
pub(super) fn observe_pool(pool: &crate::engine::PoolSnapshot) {
    Gauges::of(&PoolCounts::of_snapshot(pool)).set(&pool.id);
}

/// The gauge values of one pool, or of the pools sharing a label.
#[derive(Debug, Default)]
struct Gauges {
    idle: usize,
    busy: usize,
    missing: usize,
    size: f64,
    in_flight: u64,
    bad_inits: f64,
    closed: f64,
}

impl Gauges {
    fn of(pool: &PoolCounts) -> Self {
        Self {
            idle: pool.idle(),
            busy: pool.busy,
            missing: pool.missing(),
            size: f64::from(pool.size),
            in_flight: pool.in_flight,
            bad_inits: f64::from(pool.bad_inits),
            closed: if pool.closed.is_some() { 1.0 } else { 0.0 },
        }
    }

    fn add(&mut self, other: &Self) {
        self.idle += other.idle;
        self.busy += other.busy;
        self.missing += other.missing;
        self.size += other.size;
        self.in_flight += other.in_flight;
        self.bad_inits += other.bad_inits;
        self.closed += other.closed;
    }

    fn set(&self, label: &str) {
        let states = [
            ("idle", self.idle),
            ("busy", self.busy),
            ("missing", self.missing),
        ];
        for (state, count) in states {
            gauge!(POOL_SESSIONS, "pool" => label.to_owned(), "state" => state).set(count as f64);
        }
        gauge!(POOL_SIZE, "pool" => label.to_owned()).set(self.size);
        gauge!(POOL_IN_FLIGHT, "pool" => label.to_owned()).set(self.in_flight as f64);
        gauge!(POOL_BAD_INITS, "pool" => label.to_owned()).set(self.bad_inits);
        gauge!(POOL_CLOSED, "pool" => label.to_owned()).set(self.closed);
    }
}
