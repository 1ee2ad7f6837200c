//! The in-memory store: a map of pools, each behind its own mutex (issue 15: no engine-wide
//! lock), never held across an `await`. The map of pools, with the pool bounds and eviction
//! ([`super::bounds`]), has a lock of its own, held for a lookup or a registration only. Each step costs `O(log n)` in a pool of `n` sessions
//! ([`crate::engine::pool`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::Notify;

use super::bounds::{Entry, PoolLimits, PoolMap, PoolPin};
use super::record::{PoolRecord, Wall};
use super::{Failure, PoolConfig, PoolStore, Registered, Registration, Step};
use crate::engine::cookies;
use crate::engine::pool::{Choice, Lease, Pool, PoolOptions, Rotation, Session};
use crate::engine::{EngineError, PoolCounts, PoolSnapshot};
use crate::session_data::SessionData;
use crate::settings::SessionSettings;

pub(super) struct Slot {
    pool: Mutex<Pool>,
    pub(super) notify: Arc<Notify>,
    /// Held by the requests using the pool.
    pub(super) pin: PoolPin,
    /// Registered at start-up from `[sessions.pools]` and not yet seen in a request (changed
    /// under the pool's lock).
    preset_only: AtomicBool,
}

/// The state of one host's pools, in memory.
pub struct MemoryStore {
    pools: Mutex<PoolMap>,
    limits: PoolLimits,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new(&SessionSettings::default())
    }
}

impl MemoryStore {
    /// An empty store with the pool bounds of `settings`.
    pub fn new(settings: &SessionSettings) -> Self {
        Self {
            pools: Mutex::new(PoolMap::default()),
            limits: PoolLimits::from_settings(settings),
        }
    }

    fn slot(&self, id: &str) -> Option<Arc<Slot>> {
        self.pools.lock().slots.get(id).map(|e| e.slot.clone())
    }

    /// Runs `f` on pool `id` and wakes its waiters.
    fn with_pool<R>(&self, id: &str, f: impl FnOnce(&mut Pool) -> R) -> Option<R> {
        let slot = self.slot(id)?;
        let out = f(&mut slot.pool.lock());
        slot.notify.notify_waiters();
        Some(out)
    }

    /// Runs `f` on pool `id` without waking its waiters (see the module policy).
    fn with_pool_quiet<R>(&self, id: &str, f: impl FnOnce(&mut Pool) -> R) -> Option<R> {
        let slot = self.slot(id)?;
        let mut pool = slot.pool.lock();
        Some(f(&mut pool))
    }

    fn slots(&self) -> Vec<Arc<Slot>> {
        let pools = self.pools.lock();
        pools.slots.values().map(|e| e.slot.clone()).collect()
    }
}

/// What the durable store ([`super::durable`]) reads and puts back.
impl MemoryStore {
    /// Pool `id`'s record (`None`: no such pool).
    pub(crate) fn export_pool(&self, id: &str, wall: &Wall) -> Option<PoolRecord> {
        self.with_pool_quiet(id, |p| {
            PoolRecord::of(
                &p.options,
                p.max_bad_inits,
                p.bad_inits(),
                p.closed(),
                p.retired(),
                wall,
            )
        })
    }

    /// A copy of session `session_id` of pool `id`: `None` when there is no such pool,
    /// `Some(None)` when the session is not live.
    pub(crate) fn export_session(&self, id: &str, session_id: &str) -> Option<Option<Session>> {
        self.with_pool_quiet(id, |p| p.session(session_id).cloned())
    }

    /// Every live session id of pool `id`.
    pub(crate) fn session_ids(&self, id: &str) -> Vec<String> {
        let ids = self.with_pool_quiet(id, |p| p.sessions().iter().map(|s| s.id.clone()).collect());
        ids.unwrap_or_default()
    }

    /// Puts back a registered pool's state: `sessions` (each first usable at its next use,
    /// nothing in flight), then the record's bad inits, close reason and retired sessions.
    pub(crate) fn restore_pool(
        &self,
        id: &str,
        sessions: Vec<Session>,
        record: &PoolRecord,
        wall: &Wall,
    ) {
        self.with_pool(id, |p| {
            for session in sessions {
                let first = session.next_use.saturating_duration_since(session.created);
                p.add(session, first, false);
            }
            p.restore(
                record.bad_inits,
                record.closed.clone(),
                record.retired(wall),
            );
        });
    }
}

#[async_trait]
impl PoolStore for MemoryStore {
    async fn register(
        &self,
        id: &str,
        config: PoolConfig,
        how: Registration,
        now: Instant,
    ) -> Result<Registered, EngineError> {
        let mut pools = self.pools.lock();
        // The pin is taken, and the use recorded, on the entry found or made here: no second
        // lookup of a client-derived id under SipHash (issue 17). A new entry is made used now.
        let (pin, evicted) = match pools.get_touched(id, now, how == Registration::Request) {
            Some(entry) => {
                let slot = entry.slot.clone();
                if how == Registration::Request && slot.preset_only.load(Ordering::Relaxed) {
                    // Reference 4.2: options freeze at the first request's spec; a preset's own
                    // keys still win, so only the keys it leaves out change.
                    slot.pool.lock().options = config.options;
                    slot.preset_only.store(false, Ordering::Relaxed);
                }
                (slot.pin.clone(), Vec::new())
            }
            None => {
                let preset = how == Registration::Preset;
                let evicted = match preset {
                    true => Vec::new(),
                    false => pools.make_room(config.kind, &self.limits, now)?,
                };
                let pool = Pool::with_limits(id.to_owned(), config.options, config.max_bad_inits);
                let slot = Arc::new(Slot {
                    pool: Mutex::new(pool),
                    notify: Arc::new(Notify::new()),
                    pin: PoolPin::default(),
                    preset_only: AtomicBool::new(preset),
                });
                let pin = slot.pin.clone();
                let entry = Entry {
                    slot,
                    keep: preset,
                    kind: config.kind,
                    last_used: now,
                };
                pools.insert(id.to_owned(), entry);
                (pin, evicted)
            }
        };
        Ok(Registered { pin, evicted })
    }

    fn ids(&self) -> Vec<String> {
        self.pools.lock().slots.keys().cloned().collect()
    }

    fn pool(&self, id: &str, now: Instant) -> Option<PoolSnapshot> {
        let slot = self.slot(id)?;
        let pool = slot.pool.lock();
        Some(PoolSnapshot::of(&pool, now))
    }

    async fn options(&self, id: &str) -> Option<PoolOptions> {
        self.with_pool_quiet(id, |p| p.options.clone())
    }

    fn waiter(&self, id: &str) -> Option<Arc<Notify>> {
        self.slot(id).map(|s| s.notify.clone())
    }

    async fn closed(&self, id: &str) -> Option<String> {
        self.with_pool_quiet(id, |p| p.closed().map(str::to_owned))?
    }

    async fn close(&self, id: &str, reason: &str) -> Option<String> {
        self.with_pool(id, |p| {
            p.close(reason);
            p.closed().unwrap_or(reason).to_owned()
        })
    }

    async fn reopen(&self, id: &str) -> bool {
        let Some(slot) = self.slot(id) else {
            return false;
        };
        let mut pool = slot.pool.lock();
        if pool.closed().is_none() {
            return false;
        }
        pool.reopen();
        slot.notify.notify_waiters();
        true
    }

    fn reopen_all(&self) {
        for slot in self.slots() {
            let mut pool = slot.pool.lock();
            if pool.closed().is_some() {
                pool.reopen();
                slot.notify.notify_waiters();
            }
        }
    }

    async fn lease(
        &self,
        id: &str,
        now: Instant,
        rotation: &Rotation,
        retire: bool,
        u: f64,
    ) -> Option<Step> {
        self.with_pool_quiet(id, |p| {
            if let Some(reason) = p.closed() {
                return Step {
                    choice: Choice::Empty,
                    create: false,
                    retired: Vec::new(),
                    closed: Some(reason.to_owned()),
                    data: None,
                };
            }
            if p.take_initial() {
                return Step {
                    choice: Choice::Empty,
                    create: true,
                    retired: Vec::new(),
                    closed: None,
                    data: None,
                };
            }
            let retired = match retire {
                true => p.retire_expiring(now, rotation),
                false => Vec::new(),
            };
            let choice = p.choose(now, rotation, u);
            // Read under the same lock: what `session_data` would read next (issue 17).
            let data = match &choice {
                Choice::Ready(lease) => p.session(&lease.session_id).map(|s| s.data.clone()),
                _ => None,
            };
            Step {
                choice,
                create: false,
                retired,
                closed: None,
                data,
            }
        })
    }

    async fn add(
        &self,
        id: &str,
        session: Session,
        first_delay: Duration,
        for_use: bool,
    ) -> Option<Lease> {
        self.with_pool(id, |p| p.add(session, first_delay, for_use))
    }

    /// Wakes one waiting request, the longest waiting (tokio's `Notify::notify_one` is
    /// FIFO), not all: a release frees one place in one session (issue 17). Waking them all
    /// made each release cost one lease step per waiter, most of them failing and queueing
    /// again at the back, and on the gateway a thread wake-up for each waiter on the other
    /// worker. A woken request that leaves without looking hands the wake-up on to the next
    /// (tokio forwards it when its `Notified` is dropped); one that looks and finds the place
    /// taken (a request that arrived meanwhile) waits for the next release, or the engine's
    /// one-second look at a busy pool.
    async fn release(&self, id: &str, lease: &Lease) {
        let Some(slot) = self.slot(id) else {
            return;
        };
        slot.pool.lock().release(&lease.session_id);
        slot.notify.notify_one();
    }

    async fn give_back(&self, id: &str) {
        self.with_pool(id, Pool::give_back);
    }

    async fn session_data(&self, id: &str, session_id: &str) -> Option<SessionData> {
        self.with_pool_quiet(id, |p| p.session(session_id).map(|s| s.data.clone()))?
    }

    async fn merge_cookies(&self, id: &str, session_id: &str, new: Vec<Value>) {
        self.with_pool(id, |p| {
            p.update(session_id, |s| cookies::merge(&mut s.cookies, new));
        });
    }

    async fn count_failure(
        &self,
        id: &str,
        session_id: &str,
        failure: Failure,
        max: u32,
        now: Instant,
    ) -> bool {
        let counted = self.with_pool(id, |p| match failure {
            Failure::Check => p.check_failed(session_id, max, now),
            Failure::Error(status) => p.errored(session_id, status, max, now),
        });
        counted == Some(true)
    }

    async fn retire(&self, id: &str, session_id: &str, reason: &str, now: Instant) -> bool {
        self.with_pool(id, |p| p.retire(session_id, reason, now)) == Some(true)
    }

    async fn bad_init(&self, id: &str) -> Option<(u32, bool)> {
        self.with_pool(id, |p| {
            let close = p.bad_init();
            (p.bad_inits(), close)
        })
    }

    async fn bad_inits(&self, id: &str) -> Option<u32> {
        self.with_pool_quiet(id, |p| p.bad_inits())
    }

    fn pool_bounded(
        &self,
        id: &str,
        now: Instant,
        max_sessions: usize,
    ) -> Option<(PoolCounts, PoolSnapshot)> {
        let slot = self.slot(id)?;
        let pool = slot.pool.lock();
        Some((
            PoolCounts::of(&pool),
            PoolSnapshot::bounded(&pool, now, max_sessions),
        ))
    }

    fn counts(&self, _now: Instant) -> Vec<PoolCounts> {
        let slots = self.slots();
        slots
            .iter()
            .map(|s| PoolCounts::of(&s.pool.lock()))
            .collect()
    }

    fn pools(&self, now: Instant) -> Vec<PoolSnapshot> {
        let mut out: Vec<_> = self
            .slots()
            .iter()
            .map(|s| PoolSnapshot::of(&s.pool.lock(), now))
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::store::PoolKind;

    const ROTATION: Rotation = Rotation {
        max_concurrency: 1,
        max_age: None,
        max_idle: None,
    };

    /// A store with one named pool `p` of `size` sessions, no delay, registered at `now`.
    fn store_with_pool(size: u32, now: Instant) -> MemoryStore {
        let store = MemoryStore::default();
        let options = PoolOptions {
            size,
            delay: 0.0,
            randomize_delay: false,
        };
        let config = PoolConfig {
            options,
            max_bad_inits: 8,
            kind: PoolKind::Named,
        };
        block_on(store.register("p", config, Registration::Request, now)).expect("register");
        store
    }

    /// The counts kept at each step match the ones counted from a full snapshot.
    #[test]
    fn issue_19_counts_follow_every_step_without_a_scan() {
        let now = Instant::now();
        let store = store_with_pool(3, now);
        let check = |what: &str| {
            let kept = store.counts(now).pop().expect("one pool");
            let counted = PoolCounts::of_snapshot(&store.pool("p", now).expect("pool"));
            assert_eq!(kept, counted, "after {what}");
            kept
        };
        for _ in 0..3 {
            let step = block_on(store.lease("p", now, &ROTATION, true, 0.0)).expect("pool");
            assert!(step.create, "the initial creations");
        }
        let add = |id: &str, for_use| {
            let session = Session::new(id.into(), now, SessionData::new(), vec![]);
            block_on(store.add("p", session, Duration::ZERO, for_use)).expect("added")
        };
        let held = add("a", true);
        add("b", false);
        add("c", false);
        check("adds");
        let Some(step) = block_on(store.lease("p", now, &ROTATION, true, 0.0)) else {
            panic!("pool");
        };
        let Choice::Ready(lease) = step.choice else {
            panic!("a session: {:?}", step.choice);
        };
        let counts = check("a lease");
        assert_eq!((counts.live, counts.busy, counts.in_flight), (3, 2, 2));
        block_on(store.release("p", &held));
        block_on(store.retire("p", &lease.session_id, "banned", now));
        let counts = check("a release and a retirement of a busy session");
        assert_eq!((counts.live, counts.busy, counts.in_flight), (2, 0, 0));
        assert_eq!((counts.idle(), counts.missing(), counts.retired), (2, 1, 1));
        let (counts, page) = store.pool_bounded("p", now, 1).expect("pool");
        assert_eq!((counts.live, page.sessions.len()), (2, 1));
    }

    /// Issue 17: a release frees one place in one session, so it wakes one waiting request,
    /// the longest waiting; it used to wake them all, and every woken request but one took
    /// a lease step for nothing and queued again at the back (on the gateway, most of them on
    /// the other worker's thread: a thread wake-up each).
    #[test]
    fn issue_17_a_release_wakes_one_waiting_request_not_all() {
        use futures::FutureExt;

        let now = Instant::now();
        let store = store_with_pool(1, now);
        let step = block_on(store.lease("p", now, &ROTATION, true, 0.0)).expect("pool");
        assert!(step.create, "the initial creation");
        let session = Session::new("a".into(), now, SessionData::new(), vec![]);
        let held = block_on(store.add("p", session, Duration::ZERO, true)).expect("added");
        let notify = store.waiter("p").expect("pool");
        let mut waiting: Vec<_> = (0..8).map(|_| Box::pin(notify.notified())).collect();
        for w in &mut waiting {
            w.as_mut().enable();
        }
        block_on(store.release("p", &held));
        let woken: Vec<bool> = waiting
            .iter_mut()
            .map(|w| w.as_mut().now_or_never().is_some())
            .collect();
        let mut first_only = vec![false; 8];
        first_only[0] = true;
        assert_eq!(woken, first_only, "the first to wait is woken, alone");
        // A woken request that leaves before it looks (its deadline passed) hands the wake-up
        // on to the next.
        drop(waiting.remove(0));
        let step = block_on(store.lease("p", now, &ROTATION, true, 0.0)).expect("pool");
        let Choice::Ready(held) = step.choice else {
            panic!("the session is free: {:?}", step.choice);
        };
        block_on(store.release("p", &held));
        drop(waiting.remove(0));
        let woken = waiting
            .iter_mut()
            .map(|w| w.as_mut().now_or_never().is_some())
            .filter(|&ready| ready);
        assert_eq!(woken.count(), 1, "the wake-up passed on, to one request");
    }
}
