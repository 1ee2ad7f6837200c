//! Pool gauges, set at scrape time from the engine's snapshots.

use metrics::gauge;

use super::{POOL_BAD_INITS, POOL_CLOSED, POOL_IN_FLIGHT, POOL_SESSIONS, POOL_SIZE};
use crate::engine::{Engine, PoolSnapshot};

/// Sets the pool gauges of every pool of `engine` (call it before rendering); does nothing
/// while no recorder exists ([`super::active`]).
pub fn observe_engine(engine: &Engine) {
    if !super::active() {
        return;
    }
    for pool in engine.pools() {
        observe_pool(&pool);
    }
}

/// [`observe_engine`], then [`super::render`]: the whole body of a `GET /metrics` handler.
pub fn scrape(engine: &Engine) -> String {
    observe_engine(engine);
    super::render()
}

pub(super) fn observe_pool(pool: &PoolSnapshot) {
    let busy = pool.sessions.iter().filter(|s| s.in_flight > 0).count();
    let live = pool.sessions.len();
    let missing = (pool.size as usize).saturating_sub(live);
    let in_flight: u64 = pool.sessions.iter().map(|s| u64::from(s.in_flight)).sum();
    let states = [("idle", live - busy), ("busy", busy), ("missing", missing)];
    for (state, count) in states {
        gauge!(POOL_SESSIONS, "pool" => pool.id.clone(), "state" => state).set(count as f64);
    }
    gauge!(POOL_SIZE, "pool" => pool.id.clone()).set(pool.size);
    gauge!(POOL_IN_FLIGHT, "pool" => pool.id.clone()).set(in_flight as f64);
    gauge!(POOL_BAD_INITS, "pool" => pool.id.clone()).set(pool.bad_inits);
    let closed = if pool.closed.is_some() { 1.0 } else { 0.0 };
    gauge!(POOL_CLOSED, "pool" => pool.id.clone()).set(closed);
}
