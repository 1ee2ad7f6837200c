//! Where session state lives: the [`PoolStore`] seam between the engine's pure session logic
//! (lifecycle, checks, retries: [`crate::engine`]) and the state that must be fast, durable or
//! shared.
//!
//! One file per implementation:
//! - [`memory`]: in-process maps, the state of one host, lost at exit.
//! - [`durable`]: the in-memory store written behind to a state file ([`state`], records in
//!   [`record`]), so that sessions survive a restart (issue 15).
//! - [`redis`](self::redis): pools shared by every host on one Redis (issue 16).
//!
//! # Policy: every operation is one whole, atomic step
//!
//! Each method reads and changes one pool in one step, so that a remote implementation (Redis,
//! one script per call) does it in one round trip, and no caller ever reads a value in one call
//! and writes it back in another. Waking the requests that wait for a pool is the store's job
//! too ([`PoolStore::waiter`]): a step that may make a session available, or closes or reopens
//! the pool, wakes them; a step that takes a session does not (waking there would make every
//! waiter wake every other, in a loop that burns the CPU). The in-memory store's release frees
//! one place and wakes one waiter, the longest waiting (issue 17).

//!
//! # Policy: asynchronous steps, leases that expire, waits a remote store can serve
//!
//! The steps are `async` (boxed futures through `async-trait`, so the engine holds an
//! `Arc<dyn PoolStore>`): a remote store (Redis, issue 16) sends each as one round trip. The
//! in-memory store's futures are ready at their first poll, so it pays a box per step and no
//! wait (`cargo bench -p session-host --bench store`).
//!
//! - **Leases expire.** A lease carries a token ([`Lease::token`]); when the store says its
//!   leases have a time to live ([`PoolStore::lease_ttl`]), the engine renews the lease
//!   ([`PoolStore::renew`]) every third of it while its request runs, so that a host killed
//!   with -9 frees its sessions within the TTL. The in-memory store needs none: its holders die
//!   with it.
//! - **Releases survive cancellation.** The engine's drop guards build the release (or the
//!   give-back of a creation slot) as an owned future, poll it once, and spawn it when it is
//!   not ready at once: a dropped request never keeps a session. (The Redis store's release
//!   is ready at once: it is queued, and carried by the pool's next lease: `redis/settle.rs`.)
//! - **Waiting.** [`PoolStore::waiter`] is woken by this host's steps; a store whose sessions
//!   other hosts also free says how often a waiting request must look again
//!   ([`PoolStore::poll_interval`]; the engine caps each wait by it, the request's deadline
//!   still bounding the whole).
//! - **Views.** [`PoolStore::ids`], [`PoolStore::pool`] and [`PoolStore::pools`] are
//!   synchronous: status pages and `/metrics` read them outside any request. A remote store
//!   answers them from a copy it refreshes in the background.
//! - **Counters** that must be global go through [`PoolStore::count`] (fire and forget: the
//!   engine's own counters stay local and exact).

pub mod bounds;
mod durable;
mod memory;
pub mod record;
pub mod redis;
pub mod state;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::Value;
use tokio::sync::Notify;

pub use self::redis::{LocalFallback, RedisOptions, RedisStore, RedisStoreError};
pub use bounds::{PoolKind, PoolLimits, PoolPin};
pub use durable::{DurableStore, FLUSH_EVERY, Restored};
pub use memory::MemoryStore;
pub use state::{StateDb, StateError, default_dir};

use crate::engine::pool::{Choice, Lease, PoolOptions, Rotation, Session};
use crate::engine::stats::{SavedStats, SessionStat, Stats};
use crate::engine::{EngineError, PoolCounts, PoolSnapshot};
use crate::session_data::SessionData;

/// The close reason ([`Step::closed`]) of a step a remote store could not take (its server
/// unreachable, or a call past its timeout): the engine answers it as
/// [`EngineError::StoreUnavailable`], a 503, never as a closed pool.
pub const UNAVAILABLE: &str = "store unavailable";

/// How a pool is registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// At start-up, from `[sessions.pools]`: its options are resolved again, with the first
    /// request's spec, at first sight (issue 14).
    Preset,
    /// By a request: the options freeze now unless the pool exists (docs/reference.md §4.2).
    Request,
}

/// The options a pool freezes at registration.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolConfig {
    /// Size, delay and randomisation.
    pub options: PoolOptions,
    /// Consecutive failed inits that close the pool.
    pub max_bad_inits: u32,
    /// Who made it, by its id (which bound it counts against).
    pub kind: PoolKind,
}

/// A request's hold on the pool it registered ([`PoolStore::register`]).
#[derive(Debug)]
pub struct Registered {
    /// Keeps the pool from eviction while the request (or a replacement it spawned) runs.
    pub pin: PoolPin,
    /// Pools dropped to make room (their counters go to the evicted bucket).
    pub evicted: Vec<String>,
}

/// What one rotation step gives a request ([`PoolStore::lease`]).
#[derive(Debug)]
pub struct Step {
    /// The session chosen, or why there is none.
    pub choice: Choice,
    /// The request must create its own session (docs/reference.md §5.4); it holds a creation slot.
    pub create: bool,
    /// Sessions retired proactively in this step (they need replacements).
    pub retired: Vec<String>,
    /// The pool is closed, with this reason: no session was taken.
    pub closed: Option<String>,
    /// The chosen session's data, when the store read it in this step (the in-memory store,
    /// issue 17: one lookup of the pool fewer per request); `None`: the engine asks
    /// [`PoolStore::session_data`].
    pub data: Option<SessionData>,
}

/// A failure counted against a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// A failed check.
    Check,
    /// A 520/521 answer with this status.
    Error(u16),
}

/// The state of every pool. Methods on an unknown pool do nothing and return `None`/`false`.
#[async_trait]
pub trait PoolStore: Send + Sync {
    /// Registers pool `id` at first sight with `config`, within the pool bounds
    /// ([`bounds`]), and records a request's use of it at `now`; a pool registered by
    /// [`Registration::Preset`] takes `config` at its first [`Registration::Request`], and is
    /// never evicted.
    ///
    /// # Errors
    /// A bound is full and none of its pools is evictable ([`EngineError::TooManyPools`]).
    async fn register(
        &self,
        id: &str,
        config: PoolConfig,
        how: Registration,
        now: Instant,
    ) -> Result<Registered, EngineError>;

    /// Every pool id, unsorted.
    fn ids(&self) -> Vec<String>;

    /// Pool `id` at `now`.
    fn pool(&self, id: &str, now: Instant) -> Option<PoolSnapshot>;

    /// Brings the status views ([`PoolStore::pool`], [`PoolStore::counts`]...) up to date now:
    /// a shared store's views are a copy refreshed in the background, which this fetches at
    /// once (one round trip, never on a request's path); a local store's are always current.
    async fn refresh_views(&self) {}

    /// The pool's frozen options.
    async fn options(&self, id: &str) -> Option<PoolOptions>;

    /// What a request waiting for a session of pool `id` waits on.
    fn waiter(&self, id: &str) -> Option<Arc<Notify>>;

    /// The close reason, when the pool is closed.
    async fn closed(&self, id: &str) -> Option<String>;

    /// Closes the pool with `reason` (the first reason wins); returns the reason in force.
    async fn close(&self, id: &str, reason: &str) -> Option<String>;

    /// Reopens a closed pool (bad inits forgotten, missing sessions created again); false when
    /// there is no such pool or it is not closed.
    async fn reopen(&self, id: &str) -> bool;

    /// Reopens every closed pool (synchronous, as config reloads call it from any thread: a
    /// remote store sends it in the background).
    fn reopen_all(&self);

    /// One rotation step at `now`: nothing when the pool is closed ([`Step::closed`]), else a
    /// creation slot while the pool's initial creations last,
    /// else proactive retirement (unless `retire` is false: cookie mode) and the session
    /// available earliest, counted in flight. `u` is a uniform sample for the randomised delay.
    async fn lease(
        &self,
        id: &str,
        now: Instant,
        rotation: &Rotation,
        retire: bool,
        u: f64,
    ) -> Option<Step>;

    /// Adds a session whose init passed, first usable `first_delay` after its creation; with
    /// `for_use` the triggering request holds it. Resets the bad-init count.
    async fn add(
        &self,
        id: &str,
        session: Session,
        first_delay: Duration,
        for_use: bool,
    ) -> Option<Lease>;

    /// A request is done with a session.
    async fn release(&self, id: &str, lease: &Lease);

    /// Extends `lease` by [`PoolStore::lease_ttl`]; false when it is gone (it expired, or the
    /// session was retired), and the request goes on without holding it.
    async fn renew(&self, id: &str, lease: &Lease) -> bool {
        let _ = (id, lease);
        true
    }

    /// How long a lease lasts unless the engine renews it (a task per held lease, every third
    /// of it); `None`: leases last until released, or the store renews the leases it handed
    /// out itself (the Redis store: one ticker per host).
    fn lease_ttl(&self) -> Option<Duration> {
        None
    }

    /// How often a request waiting for a session of this store looks again, when sessions can
    /// be freed where [`PoolStore::waiter`] does not see it (another host); `None`: the waiter
    /// sees every change.
    fn poll_interval(&self) -> Option<Duration> {
        None
    }

    /// Counts `stat` for pool `id` where every host sees it (fire and forget); the in-memory
    /// store has nothing to add to the engine's own counters.
    fn count(&self, id: &str, stat: SessionStat) {
        let _ = (id, stat);
    }

    /// The counters an earlier run kept (a durable store), for the engine to carry on from;
    /// taken once (issue 15). Stores that keep none: `None`.
    fn saved_stats(&self) -> Option<SavedStats> {
        None
    }

    /// Keeps the engine's `stats` durable: a durable store reads them in the background, off
    /// the request path (issue 15). Stores that keep none ignore them.
    fn keep_stats(&self, stats: Arc<Stats>) {
        let _ = stats;
    }

    /// A creation ended without a session: the next request creates one instead.
    async fn give_back(&self, id: &str);

    /// The session's guest data (shared: the guest's writes land in the store).
    async fn session_data(&self, id: &str, session_id: &str) -> Option<SessionData>;

    /// Merges a response's cookies into the session's jar (cookie mode).
    async fn merge_cookies(&self, id: &str, session_id: &str, cookies: Vec<Value>);

    /// Counts `failure` against the session at `now`; true when it reached `max` (`0` behaving
    /// like `1`) and the session must be replaced.
    async fn count_failure(
        &self,
        id: &str,
        session_id: &str,
        failure: Failure,
        max: u32,
        now: Instant,
    ) -> bool;

    /// Takes a session out of rotation with `reason`, keeping its history; false when it is
    /// already gone (a concurrent failure replaced it: docs/reference.md §5.11, refresh once).
    async fn retire(&self, id: &str, session_id: &str, reason: &str, now: Instant) -> bool;

    /// Counts a failed init; the count, and whether the pool must close with
    /// `bad_session_inits`.
    async fn bad_init(&self, id: &str) -> Option<(u32, bool)>;

    /// Consecutive failed inits.
    async fn bad_inits(&self, id: &str) -> Option<u32>;

    /// Every pool at `now`, sorted by id.
    fn pools(&self, now: Instant) -> Vec<PoolSnapshot>;

    /// Pool `id` at `now`, its aggregates and at most `max_sessions` of its live sessions (a
    /// status page). By default [`PoolStore::pool`], counted and cut.
    fn pool_bounded(
        &self,
        id: &str,
        now: Instant,
        max_sessions: usize,
    ) -> Option<(PoolCounts, PoolSnapshot)> {
        let mut pool = self.pool(id, now)?;
        let counts = PoolCounts::of_snapshot(&pool);
        pool.sessions.truncate(max_sessions);
        Some((counts, pool))
    }

    /// Pool `id`'s counters summed over every host sharing it (a remote store), by stat key,
    /// as last fetched in the background: no round trip. `None`: the store shares no counters
    /// (the engine's own, [`crate::engine::Engine::stats`], are the whole story).
    fn shared_stats(&self, id: &str) -> Option<std::collections::BTreeMap<String, u64>> {
        let _ = id;
        None
    }

    /// Every pool's aggregates, unsorted: what `/metrics` and the dashboard read at each scrape
    /// (issue 19). The in-memory store keeps them at each step, so this costs `O(pools)`
    /// whatever the pools' sizes; by default they are counted from [`PoolStore::pools`].
    fn counts(&self, now: Instant) -> Vec<PoolCounts> {
        self.pools(now)
            .iter()
            .map(PoolCounts::of_snapshot)
            .collect()
    }
}
