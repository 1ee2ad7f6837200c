//! Plain-data views of the pools for a status endpoint.

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
    /// Live sessions.
    pub sessions: Vec<SessionSnapshot>,
    /// Recently retired sessions, oldest first, each with why.
    pub retired: Vec<SessionSnapshot>,
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
    /// Snapshots `pool` at `now`.
    pub fn of(pool: &Pool, now: Instant) -> Self {
        Self {
            id: pool.id.clone(),
            closed: pool.closed().map(str::to_owned),
            size: pool.options.size,
            delay: pool.options.delay,
            randomize_delay: pool.options.randomize_delay,
            bad_inits: pool.bad_inits(),
            pending_initial: pool.pending_initial(),
            sessions: pool
                .sessions()
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
