//! `[store] on_failure = "local"`: the Redis store, with this host's own in-memory pools while
//! Redis does not answer.
//!
//! # Policy
//!
//! - **Switching out.** A lease that Redis cannot take ([`super::super::UNAVAILABLE`]) marks
//!   Redis down; that request, and every step after it, goes to the local pools (a
//!   [`MemoryStore`] holding every pool this host registered, with the same options), so
//!   requests go on being served. While down, the global bounds do not hold: each host creates
//!   up to `size` sessions of its own.
//! - **Switching back.** While down, one background task sends Redis a `PING` every
//!   [`PROBE`]; the first answer switches every later step back to Redis (a Redis restarted
//!   empty gets its pools registered again at their next lease).
//! - **Leases across a switch** are released to the store in use at release time: a Redis lease
//!   released while Redis is down frees itself within the lease TTL; a local lease released
//!   after the switch back is forgotten with the local pools' state, which no step reads while
//!   Redis answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::Value;
use tokio::sync::Notify;

use super::RedisStore;
use crate::engine::pool::{Lease, PoolOptions, Rotation, Session};
use crate::engine::stats::SessionStat;
use crate::engine::{EngineError, PoolCounts, PoolSnapshot};
use crate::session_data::SessionData;
use crate::settings::SessionSettings;
use crate::store::{
    Failure, MemoryStore, PoolConfig, PoolStore, Registered, Registration, Step, UNAVAILABLE,
};

/// How often a host whose Redis is down asks it again: a quarter second brings the shared pools
/// back soon after Redis, for one `PING` per host per period while it is down.
pub const PROBE: Duration = Duration::from_millis(250);

/// The Redis store, falling back to local pools while Redis is down (see the module policy).
pub struct LocalFallback {
    redis: Arc<RedisStore>,
    local: MemoryStore,
    probing: Arc<AtomicBool>,
}

impl LocalFallback {
    /// `redis`, with local pools bounded by `settings` for its outages.
    pub fn new(redis: RedisStore, settings: &SessionSettings) -> Self {
        Self {
            redis: Arc::new(redis),
            local: MemoryStore::new(settings),
            probing: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The store steps go to now.
    fn active(&self) -> &dyn PoolStore {
        if self.redis.is_down() {
            &self.local
        } else {
            self.redis.as_ref()
        }
    }

    /// Starts the task that pings Redis until it answers, unless one runs.
    fn probe(&self) {
        if self.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        let (redis, probing) = (self.redis.clone(), self.probing.clone());
        tracing::warn!("Redis does not answer: serving from this host's local pools until it does");
        super::spawn(async move {
            while !redis.ping().await {
                tokio::time::sleep(PROBE).await;
            }
            probing.store(false, Ordering::Release);
            tracing::info!("Redis answers again: pools are shared again");
        });
    }
}

#[async_trait]
impl PoolStore for LocalFallback {
    async fn register(
        &self,
        id: &str,
        config: PoolConfig,
        how: Registration,
        now: Instant,
    ) -> Result<Registered, EngineError> {
        // Locally always, so that the local pool is ready the moment Redis goes down; in Redis
        // while it answers (a call to a Redis known down would wait for its timeout).
        let local = self.local.register(id, config.clone(), how, now).await;
        if self.redis.is_down() {
            return local;
        }
        self.redis.register(id, config, how, now).await
    }

    fn ids(&self) -> Vec<String> {
        self.active().ids()
    }

    fn pool(&self, id: &str, now: Instant) -> Option<PoolSnapshot> {
        self.active().pool(id, now)
    }

    async fn options(&self, id: &str) -> Option<PoolOptions> {
        self.active().options(id).await
    }

    fn waiter(&self, id: &str) -> Option<Arc<Notify>> {
        self.active().waiter(id)
    }

    async fn closed(&self, id: &str) -> Option<String> {
        self.active().closed(id).await
    }

    async fn close(&self, id: &str, reason: &str) -> Option<String> {
        self.active().close(id, reason).await
    }

    async fn reopen(&self, id: &str) -> bool {
        self.active().reopen(id).await
    }

    fn reopen_all(&self) {
        self.local.reopen_all();
        self.redis.reopen_all();
    }

    async fn lease(
        &self,
        id: &str,
        now: Instant,
        rotation: &Rotation,
        retire: bool,
        u: f64,
    ) -> Option<Step> {
        if !self.redis.is_down() {
            let step = self.redis.lease(id, now, rotation, retire, u).await;
            let unavailable = |s: &Step| s.closed.as_deref() == Some(UNAVAILABLE);
            if !step.as_ref().is_some_and(unavailable) {
                return step;
            }
        }
        self.probe();
        self.local.lease(id, now, rotation, retire, u).await
    }

    async fn add(
        &self,
        id: &str,
        session: Session,
        first_delay: Duration,
        for_use: bool,
    ) -> Option<Lease> {
        let store = self.active();
        store.add(id, session, first_delay, for_use).await
    }

    async fn release(&self, id: &str, lease: &Lease) {
        self.active().release(id, lease).await;
    }

    async fn renew(&self, id: &str, lease: &Lease) -> bool {
        self.active().renew(id, lease).await
    }

    fn lease_ttl(&self) -> Option<Duration> {
        self.redis.lease_ttl()
    }

    fn poll_interval(&self) -> Option<Duration> {
        self.redis.poll_interval()
    }

    fn count(&self, id: &str, stat: SessionStat) {
        self.active().count(id, stat);
    }

    async fn give_back(&self, id: &str) {
        self.active().give_back(id).await;
    }

    async fn session_data(&self, id: &str, session_id: &str) -> Option<SessionData> {
        self.active().session_data(id, session_id).await
    }

    async fn merge_cookies(&self, id: &str, session_id: &str, cookies: Vec<Value>) {
        self.active().merge_cookies(id, session_id, cookies).await;
    }

    async fn count_failure(
        &self,
        id: &str,
        session_id: &str,
        failure: Failure,
        max: u32,
        now: Instant,
    ) -> bool {
        let store = self.active();
        store.count_failure(id, session_id, failure, max, now).await
    }

    async fn retire(&self, id: &str, session_id: &str, reason: &str, now: Instant) -> bool {
        self.active().retire(id, session_id, reason, now).await
    }

    async fn bad_init(&self, id: &str) -> Option<(u32, bool)> {
        self.active().bad_init(id).await
    }

    async fn bad_inits(&self, id: &str) -> Option<u32> {
        self.active().bad_inits(id).await
    }

    fn pools(&self, now: Instant) -> Vec<PoolSnapshot> {
        self.active().pools(now)
    }

    async fn refresh_views(&self) {
        self.active().refresh_views().await;
    }

    fn pool_bounded(
        &self,
        id: &str,
        now: Instant,
        max_sessions: usize,
    ) -> Option<(PoolCounts, PoolSnapshot)> {
        self.active().pool_bounded(id, now, max_sessions)
    }

    fn counts(&self, now: Instant) -> Vec<PoolCounts> {
        self.active().counts(now)
    }

    fn shared_stats(&self, id: &str) -> Option<std::collections::BTreeMap<String, u64>> {
        self.active().shared_stats(id)
    }
}
