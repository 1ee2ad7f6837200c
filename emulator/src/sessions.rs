//! Sessions: user-managed (`session.id`) and Zyte-managed (`sessionContext`) lifecycles.
//!
//! Policy (all durations and limits come from [`Policy`]; emulated time from [`crate::Clock`]):
//! - User-managed sessions are keyed by (API key, `session.id`). An unknown id creates the
//!   session; that request is its first use. A session expires 15 min after creation, 2 min after
//!   its last use, or at its 3rd ban in a row (a successful use resets the streak). After expiry
//!   it is a tombstone for a random 5–10 min: reusing the id gets `/problem/session-expired`.
//!   After the tombstone, the id creates a new session.
//! - Creating a session may fail: `/problem/session-creation-error` with probability
//!   `session_creation_error_rate`, or `/problem/over-session-limit` when the API key already has
//!   `max_active_sessions` active user-managed sessions (tombstones do not count).
//! - A session's location is fixed at creation (set by a successful setLocation of the creating
//!   request); its cookies derive from its id, so they are fixed too.
//! - Zyte-managed sessions are pooled per (API key, canonical `sessionContext`). A request reuses
//!   the pool's live session or creates one, running `sessionContextParameters.actions` to fix
//!   its location. They expire 4 h after creation or at their 3rd ban (in a row or not), with no
//!   tombstone, and do not count toward `max_active_sessions`.
//! - Expiry is detected lazily, on use and on every stats snapshot (which also forgets sessions
//!   whose tombstone is over); each expiry is counted once, for the site that created it.
//!
//! The table is one mutex held for a few map operations per session request; requests without a
//! session never touch it.

use std::collections::HashMap;
use std::time::Duration;

use parking_lot::Mutex;
use rand::Rng;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::policy::Policy;
use crate::stats::{SessionState, SessionStats};

/// Which API a session belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    /// `session.id`.
    User,
    /// `sessionContext`.
    Context,
}

/// Why a session expired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpiryReason {
    /// Maximum lifetime since creation.
    Lifetime,
    /// Inactivity.
    Idle,
    /// Too many bans.
    Bans,
}

/// Session-related counters of one site.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SiteSessionCounters {
    /// Sessions created by requests to the site.
    pub created: u64,
    /// Sessions created there that expired.
    pub expiries: u64,
}

/// What a request sees of its session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionView {
    /// The id.
    pub id: Uuid,
    /// User- or Zyte-managed.
    pub kind: SessionKind,
    /// Location fixed at creation.
    pub location: Option<String>,
    /// Uses before this request.
    pub uses_before: u64,
    /// Whether this request created it.
    pub created_now: bool,
}

/// Why a session could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionError {
    /// Tombstoned.
    Expired,
    /// Too many active sessions.
    OverLimit,
    /// Injected creation failure.
    CreationError,
}

/// Which session a request asks for.
#[derive(Clone, Copy, Debug)]
pub enum SessionRef<'a> {
    /// `session.id`.
    User(Uuid),
    /// A canonical `sessionContext` and the location its init actions would set.
    Context(&'a str, Option<&'a str>),
}

#[derive(Clone, Copy, Debug)]
struct Ended {
    at: Duration,
    reason: ExpiryReason,
    tombstone_until: Duration,
}

#[derive(Clone, Debug)]
struct Session {
    kind: SessionKind,
    site: String,
    created_at: Duration,
    last_used: Duration,
    uses: u64,
    bans: u64,
    consecutive_bans: u32,
    location: Option<String>,
    tombstone_len: Duration,
    ended: Option<Ended>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Liveness {
    Active,
    Tombstoned,
    Gone,
}

impl Session {
    fn natural_end(&self, policy: &Policy) -> (Duration, ExpiryReason) {
        if self.kind == SessionKind::Context {
            let lifetime = Duration::from_secs(policy.context_session_lifetime_secs);
            return (
                self.created_at.saturating_add(lifetime),
                ExpiryReason::Lifetime,
            );
        }
        let lifetime_end = self
            .created_at
            .saturating_add(Duration::from_secs(policy.user_session_lifetime_secs));
        let idle_end = self
            .last_used
            .saturating_add(Duration::from_secs(policy.user_session_idle_secs));
        if idle_end < lifetime_end {
            (idle_end, ExpiryReason::Idle)
        } else {
            (lifetime_end, ExpiryReason::Lifetime)
        }
    }

    /// Marks the session ended if its time is up; true if it ended just now.
    fn refresh(&mut self, now: Duration, policy: &Policy) -> bool {
        if self.ended.is_some() {
            return false;
        }
        let (at, reason) = self.natural_end(policy);
        if now < at {
            return false;
        }
        self.end(at, reason);
        true
    }

    fn end(&mut self, at: Duration, reason: ExpiryReason) {
        self.ended = Some(Ended {
            at,
            reason,
            tombstone_until: at.saturating_add(self.tombstone_len),
        });
    }

    fn liveness(&self, now: Duration) -> Liveness {
        match self.ended {
            None => Liveness::Active,
            Some(ended) if now < ended.tombstone_until => Liveness::Tombstoned,
            Some(_) => Liveness::Gone,
        }
    }

    fn use_at(&mut self, id: Uuid, now: Duration, created_now: bool) -> SessionView {
        let view = SessionView {
            id,
            kind: self.kind,
            location: self.location.clone(),
            uses_before: self.uses,
            created_now,
        };
        self.uses += 1;
        self.last_used = now;
        view
    }

    fn stats(&self, id: Uuid, policy: &Policy) -> SessionStats {
        let (expires_at, reason) = match self.ended {
            Some(ended) => (ended.at, Some(ended.reason)),
            None => (self.natural_end(policy).0, None),
        };
        SessionStats {
            id: id.to_string(),
            kind: self.kind,
            site: self.site.clone(),
            state: if self.ended.is_some() {
                SessionState::Expired
            } else {
                SessionState::Active
            },
            uses: self.uses,
            bans: self.bans,
            consecutive_bans: self.consecutive_bans,
            location: self.location.clone(),
            created_at_secs: self.created_at.as_secs_f64(),
            last_used_secs: self.last_used.as_secs_f64(),
            expires_at_secs: expires_at.as_secs_f64(),
            expiry_reason: reason,
            tombstone_until_secs: self.ended.map(|e| e.tombstone_until.as_secs_f64()),
        }
    }
}

/// Sessions of one API key.
#[derive(Debug, Default)]
struct KeySessions {
    sessions: HashMap<Uuid, Session>,
    /// Live user-managed sessions (ended ones are subtracted when marked).
    active: usize,
    pools: HashMap<String, Vec<Uuid>>,
}

type Counters = HashMap<String, SiteSessionCounters>;

/// What [`SessionTable::acquire`] needs to know about the request.
#[derive(Debug)]
pub struct Acquire<'a> {
    /// API key.
    pub key: &'a str,
    /// Request host (the site a new session is counted for).
    pub host: &'a str,
    /// Emulated now.
    pub now: Duration,
}

impl KeySessions {
    fn note_end(kind: SessionKind, site: &str, active: &mut usize, counters: &mut Counters) {
        if kind == SessionKind::User {
            *active = active.saturating_sub(1);
        }
        counters.entry(site.to_owned()).or_default().expiries += 1;
    }

    fn acquire(
        &mut self,
        target: SessionRef<'_>,
        a: &Acquire<'_>,
        policy: &Policy,
        rng: &mut impl Rng,
        counters: &mut Counters,
    ) -> Result<SessionView, SessionError> {
        match target {
            SessionRef::User(id) => self.acquire_user(id, a, policy, rng, counters),
            SessionRef::Context(context, location) => {
                self.acquire_context(context, location, a, policy, rng, counters)
            }
        }
    }

    fn acquire_user(
        &mut self,
        id: Uuid,
        a: &Acquire<'_>,
        policy: &Policy,
        rng: &mut impl Rng,
        counters: &mut Counters,
    ) -> Result<SessionView, SessionError> {
        if let Some(session) = self.sessions.get_mut(&id) {
            if session.refresh(a.now, policy) {
                Self::note_end(session.kind, &session.site, &mut self.active, counters);
            }
            match session.liveness(a.now) {
                Liveness::Active => return Ok(session.use_at(id, a.now, false)),
                Liveness::Tombstoned => return Err(SessionError::Expired),
                Liveness::Gone => {}
            }
        }
        if rng.random::<f64>() < policy.session_creation_error_rate {
            return Err(SessionError::CreationError);
        }
        if self.active >= policy.max_active_sessions {
            self.sweep(a.now, policy, counters);
            if self.active >= policy.max_active_sessions {
                return Err(SessionError::OverLimit);
            }
        }
        self.active += 1;
        Ok(self.create(id, SessionKind::User, None, a, policy, rng, counters))
    }

    fn acquire_context(
        &mut self,
        context: &str,
        location: Option<&str>,
        a: &Acquire<'_>,
        policy: &Policy,
        rng: &mut impl Rng,
        counters: &mut Counters,
    ) -> Result<SessionView, SessionError> {
        let pool = self.pools.get(context).cloned().unwrap_or_default();
        for id in pool {
            let Some(session) = self.sessions.get_mut(&id) else {
                continue;
            };
            if session.refresh(a.now, policy) {
                Self::note_end(session.kind, &session.site, &mut self.active, counters);
            }
            if session.liveness(a.now) == Liveness::Active {
                return Ok(session.use_at(id, a.now, false));
            }
        }
        if rng.random::<f64>() < policy.session_creation_error_rate {
            return Err(SessionError::CreationError);
        }
        let id = uuid::Builder::from_random_bytes(rng.random()).into_uuid();
        let view = self.create(
            id,
            SessionKind::Context,
            location.map(str::to_owned),
            a,
            policy,
            rng,
            counters,
        );
        let sessions = &self.sessions;
        let pool = self.pools.entry(context.to_owned()).or_default();
        pool.retain(|id| sessions.get(id).is_some_and(|s| s.ended.is_none()));
        pool.push(id);
        Ok(view)
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "internal constructor fed by the two acquire paths"
    )]
    fn create(
        &mut self,
        id: Uuid,
        kind: SessionKind,
        location: Option<String>,
        a: &Acquire<'_>,
        policy: &Policy,
        rng: &mut impl Rng,
        counters: &mut Counters,
    ) -> SessionView {
        let tombstone_len = match kind {
            SessionKind::User => policy.tombstone_len(rng.random()),
            SessionKind::Context => Duration::ZERO,
        };
        let mut session = Session {
            kind,
            site: a.host.to_owned(),
            created_at: a.now,
            last_used: a.now,
            uses: 0,
            bans: 0,
            consecutive_bans: 0,
            location,
            tombstone_len,
            ended: None,
        };
        counters.entry(a.host.to_owned()).or_default().created += 1;
        let view = session.use_at(id, a.now, true);
        self.sessions.insert(id, session);
        view
    }

    fn finish(&mut self, id: Uuid, outcome: &Finish, policy: &Policy, counters: &mut Counters) {
        let Some(session) = self.sessions.get_mut(&id) else {
            return;
        };
        if !outcome.banned {
            session.consecutive_bans = 0;
            if outcome.created_now && session.location.is_none() {
                session.location.clone_from(&outcome.location);
            }
            return;
        }
        session.bans += 1;
        session.consecutive_bans += 1;
        let limit_hit = match session.kind {
            SessionKind::User => {
                session.consecutive_bans >= policy.user_session_max_consecutive_bans
            }
            SessionKind::Context => session.bans >= u64::from(policy.context_session_max_bans),
        };
        if limit_hit && session.ended.is_none() {
            session.end(outcome.now, ExpiryReason::Bans);
            Self::note_end(session.kind, &session.site, &mut self.active, counters);
        }
    }

    /// Marks expired sessions and forgets those whose tombstone is over.
    fn sweep(&mut self, now: Duration, policy: &Policy, counters: &mut Counters) {
        let active = &mut self.active;
        self.sessions.retain(|_, session| {
            if session.refresh(now, policy) {
                Self::note_end(session.kind, &session.site, active, counters);
            }
            session.liveness(now) != Liveness::Gone
        });
        let sessions = &self.sessions;
        self.pools.retain(|_, pool| {
            pool.retain(|id| sessions.contains_key(id));
            !pool.is_empty()
        });
    }
}

/// How a session request ended.
#[derive(Clone, Debug)]
pub struct Finish {
    /// Emulated now.
    pub now: Duration,
    /// Whether the response was a ban (520).
    pub banned: bool,
    /// Whether this request created the session.
    pub created_now: bool,
    /// Location set by the request's actions.
    pub location: Option<String>,
}

#[derive(Debug, Default)]
struct Inner {
    keys: HashMap<String, KeySessions>,
    counters: Counters,
}

/// Every session of the emulator.
#[derive(Debug, Default)]
pub struct SessionTable {
    inner: Mutex<Inner>,
}

impl SessionTable {
    /// Uses (or creates) the session a request asks for.
    pub fn acquire(
        &self,
        target: SessionRef<'_>,
        a: &Acquire<'_>,
        policy: &Policy,
        rng: &mut impl Rng,
    ) -> Result<SessionView, SessionError> {
        let mut inner = self.inner.lock();
        let Inner { keys, counters } = &mut *inner;
        if !keys.contains_key(a.key) {
            keys.insert(a.key.to_owned(), KeySessions::default());
        }
        let sessions = keys.get_mut(a.key).ok_or(SessionError::CreationError)?;
        sessions.acquire(target, a, policy, rng, counters)
    }

    /// Records the outcome of a request that used session `id` of `key`.
    pub fn finish(&self, key: &str, id: Uuid, outcome: &Finish, policy: &Policy) {
        let mut inner = self.inner.lock();
        let Inner { keys, counters } = &mut *inner;
        if let Some(sessions) = keys.get_mut(key) {
            sessions.finish(id, outcome, policy, counters);
        }
    }

    /// Sweeps, then lists every known session and the per-site counters.
    pub fn snapshot(&self, now: Duration, policy: &Policy) -> (Vec<SessionStats>, Counters) {
        let mut inner = self.inner.lock();
        let Inner { keys, counters } = &mut *inner;
        let mut list = Vec::new();
        for sessions in keys.values_mut() {
            sessions.sweep(now, policy, counters);
            list.extend(sessions.sessions.iter().map(|(id, s)| s.stats(*id, policy)));
        }
        list.sort_by(|a, b| {
            a.created_at_secs
                .total_cmp(&b.created_at_secs)
                .then_with(|| a.id.cmp(&b.id))
        });
        (list, counters.clone())
    }

    /// Forgets everything.
    pub fn reset(&self) {
        *self.inner.lock() = Inner::default();
    }
}

#[cfg(test)]
#[path = "sessions_tests.rs"]
mod tests;
