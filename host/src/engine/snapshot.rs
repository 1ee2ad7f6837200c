//! Plain-data views of the pools for a status endpoint: [`PoolCounts`], a pool's aggregates
//! at `O(1)` (what `/metrics`, the dashboard's totals and pages read, issue 19), and
//! [`PoolSnapshot`], with its sessions.

use std::time::Instant;

use super::pool::{Event, Pool, Session};

/// One pool, as a status endpoint shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PoolSnapshot {
    /// The pool id.
    pub id: String,
    /// The close reason, when closed.
    pub closed: Option<String>,
    /// Frozen size.
    pub size: u32,
    /// Frozen delay, in seconds.
    pub delay: f64,
    /// Frozen randomisation.
    pub randomize_delay: bool,
    /// Consecutive failed inits.
    pub bad_inits: u32,
    /// Initial creations not started yet.
    pub pending_initial: u32,
    /// Live sessions: every one ([`PoolSnapshot::of`]) or some ([`PoolSnapshot::bounded`]).
    pub sessions: Vec<SessionSnapshot>,
    /// Recently retired sessions, oldest first, each with why.
    pub retired: Vec<SessionSnapshot>,
}

/// One pool's aggregates, kept by the store at each step: reading them costs no scan of the
/// sessions, whatever the pool's size.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct PoolCounts {
    /// The pool id.
    pub id: String,
    /// The close reason, when closed.
    pub closed: Option<String>,
    /// Frozen size.
    pub size: u32,
    /// Live sessions.
    pub live: usize,
    /// Live sessions with a request in flight.
    pub busy: usize,
    /// Requests in flight.
    pub in_flight: u64,
    /// Consecutive failed inits.
    pub bad_inits: u32,
    /// Retired sessions kept with why (at most [`super::pool::HISTORY`]).
    pub retired: usize,
}

impl PoolCounts {
    /// The aggregates of `pool` (`O(1)`).
    pub fn of(pool: &Pool) -> Self {
        Self {
            id: pool.id.clone(),
            closed: pool.closed().map(str::to_owned),
            size: pool.options.size,
            live: pool.len(),
            busy: pool.busy(),
            in_flight: pool.in_flight(),
            bad_inits: pool.bad_inits(),
            retired: pool.retired().len(),
        }
    }

    /// The aggregates of a snapshot with every live session (stores without counts of their
    /// own; `O(n)`).
    pub fn of_snapshot(pool: &PoolSnapshot) -> Self {
        let busy = pool.sessions.iter().filter(|s| s.in_flight > 0).count();
        Self {
            id: pool.id.clone(),
            closed: pool.closed.clone(),
            size: pool.size,
            live: pool.sessions.len(),
            busy,
            in_flight: pool.sessions.iter().map(|s| u64::from(s.in_flight)).sum(),
            bad_inits: pool.bad_inits,
            retired: pool.retired.len(),
        }
    }

    /// Live sessions with nothing in flight.
    pub fn idle(&self) -> usize {
        self.live - self.busy.min(self.live)
    }

    /// Sessions missing from the pool's size.
    pub fn missing(&self) -> usize {
        (self.size as usize).saturating_sub(self.live)
    }
}

/// One session.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SessionSnapshot {
    /// The session id.
    pub id: String,
    /// Seconds since its init passed.
    pub age_secs: f64,
    /// Uses so far.
    pub uses: u64,
    /// Requests using it now.
    pub in_flight: u32,
    /// Failed checks.
    pub check_failures: u32,
    /// 520/521 answers.
    pub errors: u32,
    /// Why it was retired (retired sessions only).
    pub retired_because: Option<String>,
    /// Its last events, oldest first, as `"-12.3s: what"` (seconds before the snapshot).
    pub history: Vec<String>,
}

impl PoolSnapshot {
    /// Snapshots `pool` at `now`, with every live session (`O(n log n)`).
    pub fn of(pool: &Pool, now: Instant) -> Self {
        Self::bounded(pool, now, usize::MAX)
    }

    /// Snapshots `pool` at `now` with at most `max_sessions` live sessions (`O(max_sessions)`,
    /// [`Pool::some_sessions`]); [`PoolCounts::live`] says how many there are.
    pub fn bounded(pool: &Pool, now: Instant, max_sessions: usize) -> Self {
        let sessions = match max_sessions >= pool.len() {
            true => pool.sessions(),
            false => pool.some_sessions(max_sessions),
        };
        Self {
            id: pool.id.clone(),
            closed: pool.closed().map(str::to_owned),
            size: pool.options.size,
            delay: pool.options.delay,
            randomize_delay: pool.options.randomize_delay,
            bad_inits: pool.bad_inits(),
            pending_initial: pool.pending_initial(),
            sessions: sessions
                .into_iter()
                .map(|s| session(s, None, now))
                .collect(),
            retired: pool
                .retired()
                .iter()
                .map(|r| session(&r.session, Some(&r.reason), now))
                .collect(),
        }
    }
}

fn session(s: &Session, reason: Option<&str>, now: Instant) -> SessionSnapshot {
    SessionSnapshot {
        id: s.id.clone(),
        age_secs: now.saturating_duration_since(s.created).as_secs_f64(),
        uses: s.uses,
        in_flight: s.in_flight,
        check_failures: s.check_failures,
        errors: s.errors,
        retired_because: reason.map(str::to_owned),
        history: s.history.iter().map(|e| event(e, now)).collect(),
    }
}

fn event(e: &Event, now: Instant) -> String {
    let ago = now.saturating_duration_since(e.at).as_secs_f64();
    format!("-{ago:.1}s: {}", e.what)
}
