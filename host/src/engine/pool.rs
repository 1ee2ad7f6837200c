//! One pool's state and its rules, pure and synchronous: option resolution, the initial
//! creations, rotation, thresholds, bad-init counting, closing and retirement history.
//!
//! Every function takes the current time as an argument, so the rules are unit-tested without
//! a clock or a runtime. The in-memory store ([`crate::store::MemoryStore`]) holds each pool
//! under its own mutex, never across an `await`.
//!
//! # Cost (issue 15): `O(log n)` per step in a pool of `n` sessions
//!
//! Sessions sit in a map by id and in two ordered indexes: *ready*, by next-use time, holding
//! only the sessions below the concurrency limit (rotation takes its first entry), and
//! *expiry*, by the time a session becomes due for proactive retirement (retirement pops the
//! entries due, no scan). Every change to a session's timing or in-flight count re-indexes that
//! session only.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::plugin::PoolSpec;
use crate::session_data::SessionData;
use crate::settings::SessionSettings;
use crate::zyte::retry::secs;

/// Zyte API's documented lifetime of a user-managed session (zyte-api 3.1).
pub const ZYTE_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// Zyte API's documented idle limit of a user-managed session (zyte-api 3.1).
pub const ZYTE_IDLE: Duration = Duration::from_secs(2 * 60);
/// Events kept per session, and retired sessions kept per pool, for the status endpoint.
pub const HISTORY: usize = 16;

/// Pool options after precedence (docs/reference.md §4.2), frozen at the pool's first sight.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolOptions {
    /// Number of sessions.
    pub size: u32,
    /// Minimum seconds between two uses of one session.
    pub delay: f64,
    /// Whether each delay is multiplied by a factor drawn from `[0.5, 1.5)`.
    pub randomize_delay: bool,
}

impl PoolOptions {
    /// `[sessions.pools.ID]` > the pool hook's spec > the global settings; the size is clamped
    /// to `max_pool_size` (issue 13; a request asking for more is refused before this).
    pub fn resolve(settings: &SessionSettings, spec: &PoolSpec) -> Self {
        let preset = settings.pools.get(&spec.id).cloned().unwrap_or_default();
        let size = preset.size.or(spec.size).unwrap_or(settings.pool_size);
        if size > settings.max_pool_size {
            tracing::warn!(
                pool = %crate::wire::truncated(&spec.id),
                "pool size {size} clamped to the [sessions] max_pool_size setting ({})",
                settings.max_pool_size
            );
        }
        Self {
            size: size.min(settings.max_pool_size),
            delay: preset.delay.or(spec.delay).unwrap_or(settings.delay),
            randomize_delay: preset
                .randomize_delay
                .or(spec.randomize_delay)
                .unwrap_or(settings.randomize_delay),
        }
    }

    /// The delay before the next use, given a uniform sample `u` in `[0, 1)`.
    pub fn next_delay(&self, u: f64) -> Duration {
        let factor = if self.randomize_delay { 0.5 + u } else { 1.0 };
        secs(self.delay * factor)
    }
}

/// One event in a session's life.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// When it happened.
    pub at: Instant,
    /// What happened, e.g. `init passed`, `check failed`, `error 520`.
    pub what: String,
}

/// A live session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The Zyte API session id (or, in cookie mode, the host's local id).
    pub id: String,
    /// When its init passed.
    pub created: Instant,
    /// Its last hand-out (or its init).
    pub last_use: Instant,
    /// Earliest next hand-out.
    pub next_use: Instant,
    /// Requests using it right now.
    pub in_flight: u32,
    /// Uses so far.
    pub uses: u64,
    /// Failed checks so far.
    pub check_failures: u32,
    /// 520/521 answers so far.
    pub errors: u32,
    /// Cookie jar (cookie mode only).
    pub cookies: Vec<Value>,
    /// Guest data.
    pub data: SessionData,
    /// Its last events.
    pub history: VecDeque<Event>,
}

impl Session {
    /// A session whose init passed at `now`.
    pub fn new(id: String, now: Instant, data: SessionData, cookies: Vec<Value>) -> Self {
        let mut session = Self {
            id,
            created: now,
            last_use: now,
            next_use: now,
            in_flight: 0,
            uses: 0,
            check_failures: 0,
            errors: 0,
            cookies,
            data,
            history: VecDeque::new(),
        };
        session.record(now, "init passed");
        session
    }

    /// Appends an event, keeping the last [`HISTORY`].
    pub fn record(&mut self, at: Instant, what: impl Into<String>) {
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(Event {
            at,
            what: crate::wire::truncated(&what.into()),
        });
    }
}

/// A session taken out of rotation, with why.
#[derive(Debug, Clone)]
pub struct Retired {
    /// The session.
    pub session: Session,
    /// Why it was retired.
    pub reason: String,
}

/// What rotation gives a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Choice {
    /// Use this session now; it is counted in flight.
    Ready(Lease),
    /// The best session is available after this long.
    Wait(Duration),
    /// Every session serves as many requests as allowed.
    Busy,
    /// The pool has no session (all being created or replaced).
    Empty,
}

/// A session handed to one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lease {
    /// The session id.
    pub session_id: String,
    /// Its cookie jar, in cookie mode.
    pub cookies: Vec<Value>,
    /// The store's id of this hold on the session, renewed and released by it (a remote
    /// store's lease expires unless renewed: [`crate::store::PoolStore::lease_ttl`]); `0` in
    /// the in-memory store, whose holders die with it.
    pub token: u64,
}

/// Rotation limits (engine settings that are not per pool).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rotation {
    /// Requests one session may serve at once.
    pub max_concurrency: u32,
    /// Age at which a session is retired, if any.
    pub max_age: Option<Duration>,
    /// Idle time after which a session is retired, if any.
    pub max_idle: Option<Duration>,
}

impl Rotation {
    /// The limits `settings` ask for.
    pub fn from_settings(s: &SessionSettings) -> Self {
        let before = |limit: Duration, margin: f64| {
            (margin >= 0.0 && margin < limit.as_secs_f64()).then(|| limit - secs(margin))
        };
        // 0 means no limit, the reference's behaviour.
        let max_concurrency = match s.max_session_concurrency {
            0 => u32::MAX,
            n => n,
        };
        Self {
            max_concurrency,
            max_age: before(ZYTE_LIFETIME, s.retire_before_lifetime),
            max_idle: before(ZYTE_IDLE, s.retire_before_idle),
        }
    }
}

/// An index: by time and the session's insertion number (unique in the pool; ties go to the
/// older session), the session's id. The id is the value, not part of the key, so that
/// removing an entry builds its key without copying the id's `Arc` (issue 17).
type Index = BTreeMap<(Instant, u64), Arc<str>>;

/// A session and where it sits in the indexes.
#[derive(Debug)]
struct Entry {
    session: Session,
    /// The map's key, shared with the index keys: a change re-indexes the session from one
    /// lookup of its id (issue 17).
    key: Arc<str>,
    seq: u64,
    ready_at: Option<Instant>,
    due_at: Option<Instant>,
}

/// One pool.
#[derive(Debug)]
pub struct Pool {
    /// Its id.
    pub id: String,
    /// Its frozen options.
    pub options: PoolOptions,
    /// Consecutive failed inits that close it.
    pub max_bad_inits: u32,
    pending_initial: u32,
    /// Its sessions by id. Hashed with foldhash, not std's SipHash (issue 17: a request looks
    /// it up several times, about 1.4 k instructions under SipHash). Safe here because the
    /// keys are not chosen by clients: session ids are made by the host (or read back from its
    /// own store), and their number is bounded by the pool's `size`. foldhash is seeded at
    /// random per process and per map, which defeats precomputed collisions; it does not claim
    /// resistance against an attacker who observes hashes (its README), so maps keyed by what
    /// clients send (pool ids from URLs: `store::bounds::PoolMap`, `engine::stats`) keep SipHash.
    sessions: foldhash::HashMap<Arc<str>, Entry>,
    /// Sessions below the concurrency limit, by next-use time.
    ready: Index,
    /// Sessions with an age or idle limit, by the time they become due for retirement.
    due: Index,
    /// The limits the indexes were built for.
    rotation: Rotation,
    next_seq: u64,
    bad_inits: u32,
    closed: Option<String>,
    retired: VecDeque<Retired>,
    /// Live sessions with a request in flight, and the requests in flight: kept at each step
    /// so that [`Pool::busy`] and [`Pool::in_flight`] cost no scan (issue 15).
    busy: usize,
    in_flight: u64,
}

impl Pool {
    /// A new pool; its first `options.size` requests will each create a session.
    pub fn new(id: String, options: PoolOptions, settings: &SessionSettings) -> Self {
        let max_bad_inits = settings
            .max_bad_inits_per_pool
            .get(&id)
            .copied()
            .unwrap_or(settings.max_bad_inits);
        Self::with_limits(id, options, max_bad_inits)
    }

    /// A new pool closing after `max_bad_inits` consecutive failed inits.
    pub fn with_limits(id: String, options: PoolOptions, max_bad_inits: u32) -> Self {
        Self {
            id,
            pending_initial: options.size,
            options,
            max_bad_inits,
            sessions: foldhash::HashMap::default(),
            ready: Index::new(),
            due: Index::new(),
            rotation: Rotation {
                max_concurrency: u32::MAX,
                max_age: None,
                max_idle: None,
            },
            next_seq: 0,
            bad_inits: 0,
            closed: None,
            retired: VecDeque::new(),
            busy: 0,
            in_flight: 0,
        }
    }

    /// The close reason, if the pool is closed.
    pub fn closed(&self) -> Option<&str> {
        self.closed.as_deref()
    }

    /// Live sessions, oldest first (`O(n log n)`: for status pages, not for requests).
    pub fn sessions(&self) -> Vec<&Session> {
        let mut entries: Vec<&Entry> = self.sessions.values().collect();
        entries.sort_by_key(|e| e.seq);
        entries.into_iter().map(|e| &e.session).collect()
    }

    /// Number of live sessions.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether the pool has no live session.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Live sessions with a request in flight (`O(1)`).
    pub fn busy(&self) -> usize {
        self.busy
    }

    /// Requests in flight on live sessions (`O(1)`).
    pub fn in_flight(&self) -> u64 {
        self.in_flight
    }

    /// Up to `limit` live sessions, oldest first: the first `limit` the map holds, so that a
    /// status page costs `O(limit)` whatever the pool's size (not a ranking).
    pub fn some_sessions(&self, limit: usize) -> Vec<&Session> {
        let mut entries: Vec<&Entry> = self.sessions.values().take(limit).collect();
        entries.sort_by_key(|e| e.seq);
        entries.into_iter().map(|e| &e.session).collect()
    }

    /// Counts `in_flight` of a session joining (`joins`) or leaving the counts.
    fn tally(&mut self, in_flight: u32, joins: bool) {
        let busy = usize::from(in_flight > 0);
        if joins {
            self.busy += busy;
            self.in_flight += u64::from(in_flight);
        } else {
            self.busy -= busy;
            self.in_flight -= u64::from(in_flight);
        }
    }

    /// Recently retired sessions, oldest first.
    pub fn retired(&self) -> &VecDeque<Retired> {
        &self.retired
    }

    /// Consecutive failed inits.
    pub fn bad_inits(&self) -> u32 {
        self.bad_inits
    }

    /// Initial creations not started yet.
    pub fn pending_initial(&self) -> u32 {
        self.pending_initial
    }

    /// Whether the next request must create its own session (docs/reference.md §5.4); counts it.
    pub fn take_initial(&mut self) -> bool {
        let take = self.pending_initial > 0;
        self.pending_initial -= u32::from(take);
        take
    }

    /// A creation (initial or replacement) ended without a session (cut by a deadline, or its
    /// request dropped): the next request creates one instead (issue 12). Never more pending
    /// than the sessions missing.
    pub fn give_back(&mut self) {
        let live = u32::try_from(self.sessions.len()).unwrap_or(u32::MAX);
        let missing = self.options.size.saturating_sub(live);
        self.pending_initial = (self.pending_initial + 1).min(missing);
    }

    /// Removes sessions that will be past the rotation's age or idle limit at their next
    /// possible use (`max(now, next_use)`), so a session that a request can still use within its
    /// lifetime is never replaced (issue 14: a 115 s delay must not replace a session on every
    /// reuse). Improves on the reference (docs/reference.md §5.11), which only replaces sessions
    /// after Zyte API has already expired them. Pops the due index: only the sessions due are
    /// visited.
    pub fn retire_expiring(&mut self, now: Instant, rotation: &Rotation) -> Vec<String> {
        self.sync(rotation);
        let mut retired = Vec::new();
        while self
            .due
            .first_key_value()
            .is_some_and(|((at, _), _)| *at <= now)
        {
            let Some((_, id)) = self.due.pop_first() else {
                break;
            };
            let why = self
                .sessions
                .get(&id)
                .and_then(|e| expiring(&e.session, now, rotation))
                .unwrap_or("age limit");
            if self.retire(&id, &format!("proactive: {why}"), now) {
                retired.push(id.to_string());
            }
        }
        retired
    }

    /// Hands out the session available earliest among those below the concurrency limit
    /// (improves on docs/reference.md §5.6: no head-of-line blocking behind a session that is
    /// waiting out its delay). `u` is a uniform sample for the randomised delay.
    pub fn choose(&mut self, now: Instant, rotation: &Rotation, u: f64) -> Choice {
        self.sync(rotation);
        if self.sessions.is_empty() {
            return Choice::Empty;
        }
        let first = self.ready.first_key_value();
        let Some((next_use, id)) = first.map(|(&(at, _), id)| (at, id.clone())) else {
            return Choice::Busy;
        };
        if next_use > now {
            return Choice::Wait(next_use - now);
        }
        let delay = self.options.next_delay(u);
        let lease = self.update(&id, |session| {
            session.in_flight += 1;
            session.uses += 1;
            session.last_use = now;
            session.next_use = now + delay;
            Lease {
                session_id: session.id.clone(),
                cookies: session.cookies.clone(),
                token: 0,
            }
        });
        lease.map_or(Choice::Busy, Choice::Ready)
    }

    /// Adds a session whose init passed, first usable `first_delay` after its creation (the
    /// engine passes the reference's `first + next`, docs/reference.md §5.5); with `for_use` the
    /// triggering request holds it. Resets the bad-init count.
    pub fn add(&mut self, mut session: Session, first_delay: Duration, for_use: bool) -> Lease {
        self.bad_inits = 0;
        session.next_use = session.created + first_delay;
        if for_use {
            session.in_flight = 1;
            session.uses = 1;
        }
        let lease = Lease {
            session_id: session.id.clone(),
            cookies: session.cookies.clone(),
            token: 0,
        };
        let id: Arc<str> = Arc::from(session.id.as_str());
        if let Some(old) = self.sessions.remove(&id) {
            self.unindex(&old);
            self.tally(old.session.in_flight, false);
        }
        self.tally(session.in_flight, true);
        let seq = self.next_seq;
        self.next_seq += 1;
        let entry = Entry {
            session,
            key: id.clone(),
            seq,
            ready_at: None,
            due_at: None,
        };
        self.sessions.insert(id.clone(), entry);
        self.reindex(&id);
        lease
    }

    /// A request is done with a session.
    pub fn release(&mut self, session_id: &str) {
        self.update(session_id, |s| s.in_flight = s.in_flight.saturating_sub(1));
    }

    /// Changes a live session with `f`, then re-indexes it; `None` when it is not live.
    pub fn update<R>(&mut self, session_id: &str, f: impl FnOnce(&mut Session) -> R) -> Option<R> {
        let entry = self.sessions.get_mut(session_id)?;
        let before = entry.session.in_flight;
        let out = f(&mut entry.session);
        let after = entry.session.in_flight;
        reindex(&mut self.ready, &mut self.due, self.rotation, entry);
        self.tally(before, false);
        self.tally(after, true);
        Some(out)
    }

    /// The session, if it is live, for reading.
    pub fn session(&self, session_id: &str) -> Option<&Session> {
        self.sessions.get(session_id).map(|e| &e.session)
    }

    /// Counts a failed check; true when the session must be replaced (`failures >= max`,
    /// `0` behaving like `1`).
    pub fn check_failed(&mut self, session_id: &str, max: u32, now: Instant) -> bool {
        self.count(session_id, now, "check failed", |s| {
            s.check_failures += 1;
            s.check_failures >= max.max(1)
        })
    }

    /// Counts a 520/521; true when the session must be replaced.
    pub fn errored(&mut self, session_id: &str, status: u16, max: u32, now: Instant) -> bool {
        self.count(session_id, now, &format!("error {status}"), |s| {
            s.errors += 1;
            s.errors >= max.max(1)
        })
    }

    fn count(
        &mut self,
        id: &str,
        now: Instant,
        what: &str,
        bump: impl FnOnce(&mut Session) -> bool,
    ) -> bool {
        self.update(id, |s| {
            s.record(now, what);
            bump(s)
        })
        .unwrap_or(false)
    }

    /// Takes a session out of the pool; false when it is already gone (a concurrent failure
    /// refreshed it: docs/reference.md §5.11, refresh once).
    pub fn retire(&mut self, session_id: &str, reason: &str, now: Instant) -> bool {
        let Some(entry) = self.sessions.remove(session_id) else {
            return false;
        };
        self.unindex(&entry);
        self.tally(entry.session.in_flight, false);
        let mut session = entry.session;
        session.record(now, format!("retired: {reason}"));
        // Its data and cookies go with it; only the history is kept.
        session.data = SessionData::new();
        session.cookies.clear();
        if self.retired.len() == HISTORY {
            self.retired.pop_front();
        }
        self.retired.push_back(Retired {
            session,
            reason: crate::wire::truncated(reason),
        });
        true
    }

    /// Counts a failed init; true when the pool must close with `bad_session_inits`.
    pub fn bad_init(&mut self) -> bool {
        self.bad_inits += 1;
        self.bad_inits >= self.max_bad_inits.max(1)
    }

    /// Closes the pool with `reason` (the first reason wins).
    pub fn close(&mut self, reason: &str) {
        self.closed
            .get_or_insert_with(|| crate::wire::truncated(reason));
    }

    /// Reopens a closed pool: bad inits are forgotten and missing sessions are created again
    /// by the next requests.
    pub fn reopen(&mut self) {
        self.closed = None;
        self.bad_inits = 0;
        let live = u32::try_from(self.sessions.len()).unwrap_or(u32::MAX);
        self.pending_initial = self.options.size.saturating_sub(live);
    }

    /// Puts back state read from a durable store (issue 15), after its sessions were
    /// [`Pool::add`]ed: the bad-init count, the close reason and the retired sessions; the
    /// sessions missing from the pool's size are created by the next requests.
    pub fn restore(&mut self, bad_inits: u32, closed: Option<String>, retired: VecDeque<Retired>) {
        self.bad_inits = bad_inits;
        self.closed = closed.map(|c| crate::wire::truncated(&c));
        self.retired = retired;
        let live = u32::try_from(self.sessions.len()).unwrap_or(u32::MAX);
        self.pending_initial = self.options.size.saturating_sub(live);
    }

    /// Rebuilds the indexes when the rotation limits change (never, in an engine: they are
    /// settings; `O(n)` once).
    fn sync(&mut self, rotation: &Rotation) {
        if self.rotation == *rotation {
            return;
        }
        self.rotation = *rotation;
        let ids: Vec<Arc<str>> = self.sessions.keys().cloned().collect();
        for id in ids {
            self.reindex(&id);
        }
    }

    /// Takes `entry` out of the indexes.
    fn unindex(&mut self, entry: &Entry) {
        if let Some(at) = entry.ready_at {
            self.ready.remove(&(at, entry.seq));
        }
        if let Some(at) = entry.due_at {
            self.due.remove(&(at, entry.seq));
        }
    }

    /// Puts session `id` back in the indexes after a change.
    fn reindex(&mut self, id: &Arc<str>) {
        if let Some(entry) = self.sessions.get_mut(id) {
            reindex(&mut self.ready, &mut self.due, self.rotation, entry);
        }
    }
}

/// Why `s` is due for proactive retirement at `now`, if it is: it will be past the age limit,
/// or (unused) past the idle limit, at its next possible use.
fn expiring(s: &Session, now: Instant, rotation: &Rotation) -> Option<&'static str> {
    let next = s.next_use.max(now);
    let old = rotation.max_age.is_some_and(|a| next >= s.created + a);
    let idle = rotation
        .max_idle
        .is_some_and(|i| s.in_flight == 0 && next >= s.last_use + i);
    old.then_some("age limit").or(idle.then_some("idle limit"))
}

/// The earliest `now` at which [`expiring`] holds for `s`: its limit `e`, or at once (its
/// creation time, already past) when its next use is already past `e`.
fn due_at(s: &Session, rotation: &Rotation) -> Option<Instant> {
    let age = rotation.max_age.map(|a| s.created + a);
    let idle = rotation
        .max_idle
        .filter(|_| s.in_flight == 0)
        .map(|i| s.last_use + i);
    let limit = match (age, idle) {
        (Some(a), Some(i)) => a.min(i),
        (a, i) => a.or(i)?,
    };
    Some(if s.next_use >= limit {
        s.created
    } else {
        limit
    })
}

/// Puts `entry` back in the indexes `ready` and `due` after a change, under `rotation`.
fn reindex(ready: &mut Index, due: &mut Index, rotation: Rotation, entry: &mut Entry) {
    let seq = entry.seq;
    let s = &entry.session;
    let ready_at = (s.in_flight < rotation.max_concurrency).then_some(s.next_use);
    let due_at = due_at(s, &rotation);
    let (old_ready, old_due) = (entry.ready_at, entry.due_at);
    entry.ready_at = ready_at;
    entry.due_at = due_at;
    if old_ready != ready_at {
        if let Some(at) = old_ready {
            ready.remove(&(at, seq));
        }
        if let Some(at) = ready_at {
            ready.insert((at, seq), entry.key.clone());
        }
    }
    if old_due != due_at {
        if let Some(at) = old_due {
            due.remove(&(at, seq));
        }
        if let Some(at) = due_at {
            due.insert((at, seq), entry.key.clone());
        }
    }
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
