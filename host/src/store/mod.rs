//! Where session state lives: the [`PoolStore`] seam between the engine's pure session logic
//! (lifecycle, checks, retries: [`crate::engine`]) and the state that must be fast, durable or
//! shared.
//!
//! One file per implementation:
//! - [`memory`]: in-process maps, the state of one host, lost at exit.
//! - [`durable`]: the in-memory store written behind to a state file ([`state`], records in
//!   [`record`]), so that sessions survive a restart (issue 15).
//!
//! # Policy: every operation is one whole, atomic step
//!
//! Each method reads and changes one pool in one step, so that a remote implementation (Redis,
//! one script per call) does it in one round trip, and no caller ever reads a value in one call
//! and writes it back in another. Waking the requests that wait for a pool is the store's job
//! too ([`PoolStore::waiter`]): a step that may make a session available, or closes or reopens
//! the pool, wakes them; a step that takes a session does not (waking there would make every
//! waiter wake every other, in a loop that burns the CPU).

//!
//! # For a remote store (issue 16)
//!
//! The trait is synchronous today, as its one implementation holds no connection. A remote
//! implementation needs, still to do: `async` methods (the engine's drop guards then send the
//! release from a spawned task), a lease with an expiry renewed while its request runs (a host
//! killed with -9 must not hold a session's in-flight count for ever; the in-memory store needs
//! none, since its holders die with it), and waiting through the server's notifications instead
//! of a local [`Notify`].

pub mod bounds;
mod durable;
mod memory;
pub mod record;
pub mod state;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Notify;

pub use bounds::{PoolKind, PoolLimits, PoolPin};
pub use durable::{DurableStore, FLUSH_EVERY, Restored};
pub use memory::MemoryStore;
pub use state::{StateDb, StateError, default_dir};

use crate::engine::pool::{Choice, Lease, PoolOptions, Rotation, Session};
use crate::engine::{EngineError, PoolSnapshot};
use crate::session_data::SessionData;

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
pub trait PoolStore: Send + Sync {
    /// Registers pool `id` at first sight with `config`, within the pool bounds
    /// ([`bounds`]), and records a request's use of it at `now`; a pool registered by
    /// [`Registration::Preset`] takes `config` at its first [`Registration::Request`], and is
    /// never evicted.
    ///
    /// # Errors
    /// A bound is full and none of its pools is evictable ([`EngineError::TooManyPools`]).
    fn register(
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

    /// The pool's frozen options.
    fn options(&self, id: &str) -> Option<PoolOptions>;

    /// What a request waiting for a session of pool `id` waits on.
    fn waiter(&self, id: &str) -> Option<Arc<Notify>>;

    /// The close reason, when the pool is closed.
    fn closed(&self, id: &str) -> Option<String>;

    /// Closes the pool with `reason` (the first reason wins); returns the reason in force.
    fn close(&self, id: &str, reason: &str) -> Option<String>;

    /// Reopens a closed pool (bad inits forgotten, missing sessions created again); false when
    /// there is no such pool or it is not closed.
    fn reopen(&self, id: &str) -> bool;

    /// Reopens every closed pool.
    fn reopen_all(&self);

    /// One rotation step at `now`: a creation slot while the pool's initial creations last,
    /// else proactive retirement (unless `retire` is false: cookie mode) and the session
    /// available earliest, counted in flight. `u` is a uniform sample for the randomised delay.
    fn lease(
        &self,
        id: &str,
        now: Instant,
        rotation: &Rotation,
        retire: bool,
        u: f64,
    ) -> Option<Step>;

    /// Adds a session whose init passed, first usable `first_delay` after its creation; with
    /// `for_use` the triggering request holds it. Resets the bad-init count.
    fn add(
        &self,
        id: &str,
        session: Session,
        first_delay: Duration,
        for_use: bool,
    ) -> Option<Lease>;

    /// A request is done with a session.
    fn release(&self, id: &str, session_id: &str);

    /// A creation ended without a session: the next request creates one instead.
    fn give_back(&self, id: &str);

    /// The session's guest data (shared: the guest's writes land in the store).
    fn session_data(&self, id: &str, session_id: &str) -> Option<SessionData>;

    /// Merges a response's cookies into the session's jar (cookie mode).
    fn merge_cookies(&self, id: &str, session_id: &str, cookies: Vec<Value>);

    /// Counts `failure` against the session at `now`; true when it reached `max` (`0` behaving
    /// like `1`) and the session must be replaced.
    fn count_failure(
        &self,
        id: &str,
        session_id: &str,
        failure: Failure,
        max: u32,
        now: Instant,
    ) -> bool;

    /// Takes a session out of rotation with `reason`, keeping its history; false when it is
    /// already gone (a concurrent failure replaced it: docs/reference.md §5.11, refresh once).
    fn retire(&self, id: &str, session_id: &str, reason: &str, now: Instant) -> bool;

    /// Counts a failed init; the count, and whether the pool must close with
    /// `bad_session_inits`.
    fn bad_init(&self, id: &str) -> Option<(u32, bool)>;

    /// Consecutive failed inits.
    fn bad_inits(&self, id: &str) -> Option<u32>;

    /// Every pool at `now`, sorted by id.
    fn pools(&self, now: Instant) -> Vec<PoolSnapshot>;
}
