//! The in-memory store: every pool in one map, behind one mutex, never held across an `await`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::Notify;

use super::{Failure, PoolConfig, PoolStore, Registration, Step};
use crate::engine::PoolSnapshot;
use crate::engine::cookies;
use crate::engine::pool::{Choice, Lease, Pool, PoolOptions, Rotation, Session};
use crate::session_data::SessionData;

struct Slot {
    pool: Pool,
    notify: Arc<Notify>,
    /// Registered at start-up from `[sessions.pools]` and not yet seen in a request.
    preset_only: bool,
}

/// The state of one host's pools, in memory.
#[derive(Default)]
pub struct MemoryStore {
    pools: Mutex<HashMap<String, Slot>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `f` on pool `id` and wakes its waiters.
    fn with_pool<R>(&self, id: &str, f: impl FnOnce(&mut Pool) -> R) -> Option<R> {
        let mut pools = self.pools.lock();
        let slot = pools.get_mut(id)?;
        let out = f(&mut slot.pool);
        slot.notify.notify_waiters();
        Some(out)
    }

    /// Runs `f` on pool `id` without waking its waiters (see the module policy).
    fn with_pool_quiet<R>(&self, id: &str, f: impl FnOnce(&mut Pool) -> R) -> Option<R> {
        self.pools.lock().get_mut(id).map(|slot| f(&mut slot.pool))
    }
}

impl PoolStore for MemoryStore {
    fn register(&self, id: &str, config: PoolConfig, how: Registration) {
        let mut pools = self.pools.lock();
        match (pools.get_mut(id), how) {
            (Some(slot), Registration::Request) if slot.preset_only => {
                // Reference 4.2: options freeze at the first request's spec; a preset's own
                // keys still win, so only the keys it leaves out change.
                slot.pool.options = config.options;
                slot.preset_only = false;
            }
            (Some(_), _) => {}
            (None, how) => {
                let pool = Pool::with_limits(id.to_owned(), config.options, config.max_bad_inits);
                let slot = Slot {
                    pool,
                    notify: Arc::new(Notify::new()),
                    preset_only: how == Registration::Preset,
                };
                pools.insert(id.to_owned(), slot);
            }
        }
    }

    fn options(&self, id: &str) -> Option<PoolOptions> {
        self.pools.lock().get(id).map(|s| s.pool.options.clone())
    }

    fn waiter(&self, id: &str) -> Option<Arc<Notify>> {
        self.pools.lock().get(id).map(|s| s.notify.clone())
    }

    fn closed(&self, id: &str) -> Option<String> {
        self.pools.lock().get(id)?.pool.closed().map(str::to_owned)
    }

    fn close(&self, id: &str, reason: &str) -> Option<String> {
        self.with_pool(id, |p| {
            p.close(reason);
            p.closed().unwrap_or(reason).to_owned()
        })
    }

    fn reopen(&self, id: &str) -> bool {
        let mut pools = self.pools.lock();
        let Some(slot) = pools.get_mut(id).filter(|s| s.pool.closed().is_some()) else {
            return false;
        };
        slot.pool.reopen();
        slot.notify.notify_waiters();
        true
    }

    fn reopen_all(&self) {
        let mut pools = self.pools.lock();
        for slot in pools.values_mut().filter(|s| s.pool.closed().is_some()) {
            slot.pool.reopen();
            slot.notify.notify_waiters();
        }
    }

    fn lease(
        &self,
        id: &str,
        now: Instant,
        rotation: &Rotation,
        retire: bool,
        u: f64,
    ) -> Option<Step> {
        self.with_pool_quiet(id, |p| {
            if p.take_initial() {
                return Step {
                    choice: Choice::Empty,
                    create: true,
                    retired: Vec::new(),
                };
            }
            let retired = match retire {
                true => p.retire_expiring(now, rotation),
                false => Vec::new(),
            };
            Step {
                choice: p.choose(now, rotation, u),
                create: false,
                retired,
            }
        })
    }

    fn add(
        &self,
        id: &str,
        session: Session,
        first_delay: Duration,
        for_use: bool,
    ) -> Option<Lease> {
        self.with_pool(id, |p| p.add(session, first_delay, for_use))
    }

    fn release(&self, id: &str, session_id: &str) {
        self.with_pool(id, |p| p.release(session_id));
    }

    fn give_back(&self, id: &str) {
        self.with_pool(id, Pool::give_back);
    }

    fn session_data(&self, id: &str, session_id: &str) -> Option<SessionData> {
        let mut pools = self.pools.lock();
        let slot = pools.get_mut(id)?;
        slot.pool.session_mut(session_id).map(|s| s.data.clone())
    }

    fn merge_cookies(&self, id: &str, session_id: &str, new: Vec<Value>) {
        self.with_pool(id, |p| {
            if let Some(s) = p.session_mut(session_id) {
                cookies::merge(&mut s.cookies, new);
            }
        });
    }

    fn count_failure(
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

    fn retire(&self, id: &str, session_id: &str, reason: &str, now: Instant) -> bool {
        self.with_pool(id, |p| p.retire(session_id, reason, now)) == Some(true)
    }

    fn bad_init(&self, id: &str) -> Option<(u32, bool)> {
        self.with_pool(id, |p| {
            let close = p.bad_init();
            (p.bad_inits(), close)
        })
    }

    fn bad_inits(&self, id: &str) -> Option<u32> {
        self.with_pool_quiet(id, |p| p.bad_inits())
    }

    fn pools(&self, now: Instant) -> Vec<PoolSnapshot> {
        let pools = self.pools.lock();
        let mut out: Vec<_> = pools
            .values()
            .map(|s| PoolSnapshot::of(&s.pool, now))
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }
}
