//! Drop guards: the pool bookkeeping a request owns is given back however the request ends,
//! including when its future is dropped mid-await (a gateway 504, a client that disconnects,
//! a deadline). See the cancellation policy in [`crate::engine`].
//!
//! A guard cannot await in `drop`: it builds the store step as an owned future and
//! [`detach`]es it, which finishes it at once when the store answers at once (the in-memory
//! store) and otherwise spawns it (a remote store), so a dropped request still gives back
//! its session. A lease of a store whose leases expire ([`PoolStore::lease_ttl`]) is renewed
//! by a task of its own while it is held.

use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::Inner;
use super::pool::Lease;
use crate::session_data::SessionData;
use crate::store::PoolStore;

/// Runs `step` to its end without awaiting it: polled once here, spawned on the current
/// runtime when not ready. Outside a runtime a step that is not ready is dropped (a remote
/// lease then frees itself at its expiry).
pub(super) fn detach(step: impl Future<Output = ()> + Send + 'static) {
    let mut step = Box::pin(step);
    let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    if let Poll::Ready(()) = step.as_mut().poll(&mut cx) {
        return;
    }
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn(step)),
        Err(_) => tracing::warn!("a pool store step was dropped outside a runtime"),
    }
}

/// A session lease: counted in flight while held, renewed while held when the store's leases
/// expire, released on drop.
pub(super) struct Held {
    inner: Arc<Inner>,
    pool: String,
    lease: Lease,
    renewal: Option<tokio::task::JoinHandle<()>>,
    /// The session's data, when the lease step read it ([`crate::store::Step::data`]).
    data: Option<SessionData>,
}

impl Held {
    /// Takes charge of `lease`, already counted in flight in `pool`.
    pub(super) fn new(inner: &Arc<Inner>, pool: &str, lease: Lease) -> Self {
        let renewal = inner.store.lease_ttl().map(|ttl| {
            tokio::spawn(renew(
                inner.store.clone(),
                pool.to_owned(),
                lease.clone(),
                ttl,
            ))
        });
        Self {
            inner: inner.clone(),
            pool: pool.to_owned(),
            lease,
            renewal,
            data: None,
        }
    }

    /// This lease with the session's data the lease step read (`None`: it read none).
    pub(super) fn with_data(mut self, data: Option<SessionData>) -> Self {
        self.data = data;
        self
    }

    /// The session's data, when the lease step read it: the store need not be asked again.
    pub(super) fn data(&self) -> Option<&SessionData> {
        self.data.as_ref()
    }
}

/// Renews `lease` every third of its `ttl` until it is gone or the task is aborted.
async fn renew(store: Arc<dyn PoolStore>, pool: String, lease: Lease, ttl: std::time::Duration) {
    loop {
        tokio::time::sleep(ttl / 3).await;
        if !store.renew(&pool, &lease).await {
            tracing::warn!(pool = %pool, "a session lease expired while its request ran");
            return;
        }
    }
}

impl Deref for Held {
    type Target = Lease;

    fn deref(&self) -> &Lease {
        &self.lease
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(renewal) = self.renewal.take() {
            renewal.abort();
        }
        let store = self.inner.store.clone();
        let (pool, lease) = (
            std::mem::take(&mut self.pool),
            std::mem::take(&mut self.lease),
        );
        detach(async move { store.release(&pool, &lease).await });
    }
}

/// A session creation in progress (an initial one, or a replacement). Unless [`Creating::done`]
/// is called, dropping it gives the slot back to the pool ([`super::pool::Pool::give_back`]), so
/// that a later request creates the session: a creation cut short never shrinks the pool.
pub(super) struct Creating {
    inner: Arc<Inner>,
    pool: String,
    done: bool,
}

impl Creating {
    /// A creation for `pool`.
    pub(super) fn new(inner: &Arc<Inner>, pool: &str) -> Self {
        Self {
            inner: inner.clone(),
            pool: pool.to_owned(),
            done: false,
        }
    }

    /// The session was added to the pool.
    pub(super) fn done(mut self) {
        self.done = true;
    }
}

impl Drop for Creating {
    fn drop(&mut self) {
        if !self.done {
            let store = self.inner.store.clone();
            let pool = std::mem::take(&mut self.pool);
            detach(async move { store.give_back(&pool).await });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use async_trait::async_trait;
    use serde_json::{Value, json};
    use tokio::sync::Notify;

    use super::*;
    use crate::engine::pool::{PoolOptions, Rotation, Session};
    use crate::engine::{Engine, EngineError, EngineRequest, PoolSnapshot};
    use crate::session_data::SessionData;
    use crate::settings::SessionSettings;
    use crate::store::{Failure, MemoryStore, PoolConfig, Registered, Registration, Step};

    /// The in-memory store, whose `add` takes [`ADD`] first: a remote store's round trip.
    struct SlowAdd(MemoryStore);

    const ADD: Duration = Duration::from_millis(400);

    #[async_trait]
    impl PoolStore for SlowAdd {
        async fn register(
            &self,
            id: &str,
            config: PoolConfig,
            how: Registration,
            now: Instant,
        ) -> Result<Registered, EngineError> {
            self.0.register(id, config, how, now).await
        }
        fn ids(&self) -> Vec<String> {
            self.0.ids()
        }
        fn pool(&self, id: &str, now: Instant) -> Option<PoolSnapshot> {
            self.0.pool(id, now)
        }
        async fn options(&self, id: &str) -> Option<PoolOptions> {
            self.0.options(id).await
        }
        fn waiter(&self, id: &str) -> Option<Arc<Notify>> {
            self.0.waiter(id)
        }
        async fn closed(&self, id: &str) -> Option<String> {
            self.0.closed(id).await
        }
        async fn close(&self, id: &str, reason: &str) -> Option<String> {
            self.0.close(id, reason).await
        }
        async fn reopen(&self, id: &str) -> bool {
            self.0.reopen(id).await
        }
        fn reopen_all(&self) {
            self.0.reopen_all();
        }
        async fn lease(
            &self,
            id: &str,
            now: Instant,
            rotation: &Rotation,
            retire: bool,
            u: f64,
        ) -> Option<Step> {
            self.0.lease(id, now, rotation, retire, u).await
        }
        async fn add(
            &self,
            id: &str,
            session: Session,
            first_delay: Duration,
            for_use: bool,
        ) -> Option<Lease> {
            tokio::time::sleep(ADD).await;
            self.0.add(id, session, first_delay, for_use).await
        }
        async fn release(&self, id: &str, lease: &Lease) {
            self.0.release(id, lease).await;
        }
        async fn give_back(&self, id: &str) {
            self.0.give_back(id).await;
        }
        async fn session_data(&self, id: &str, session_id: &str) -> Option<SessionData> {
            self.0.session_data(id, session_id).await
        }
        async fn merge_cookies(&self, id: &str, session_id: &str, cookies: Vec<Value>) {
            self.0.merge_cookies(id, session_id, cookies).await;
        }
        async fn count_failure(
            &self,
            id: &str,
            session_id: &str,
            failure: Failure,
            max: u32,
            now: Instant,
        ) -> bool {
            let counted = self.0.count_failure(id, session_id, failure, max, now);
            counted.await
        }
        async fn retire(&self, id: &str, session_id: &str, reason: &str, now: Instant) -> bool {
            self.0.retire(id, session_id, reason, now).await
        }
        async fn bad_init(&self, id: &str) -> Option<(u32, bool)> {
            self.0.bad_init(id).await
        }
        async fn bad_inits(&self, id: &str) -> Option<u32> {
            self.0.bad_inits(id).await
        }
        fn pools(&self, now: Instant) -> Vec<PoolSnapshot> {
            self.0.pools(now)
        }
    }

    fn get() -> EngineRequest {
        let body = json!({"url": "https://example.com/", "httpResponseBody": true});
        let mut request = EngineRequest::new(body.as_object().cloned().unwrap_or_default());
        request.controls.enabled = Some(true);
        request
    }

    #[tokio::test]
    async fn issue_16_a_creation_cancelled_while_the_store_adds_its_session_gives_its_slot_back() {
        let emulator = zyte_emulator::start(zyte_emulator::EmulatorConfig::default())
            .await
            .expect("emulator");
        let upstream = crate::settings::UpstreamSettings {
            url: emulator.base_url(),
            wait_scale: 0.0,
            ..crate::settings::UpstreamSettings::default()
        };
        let key = crate::zyte::ApiKey::new("test-key");
        let client = crate::zyte::Client::new(&upstream, key).expect("client");
        let settings = SessionSettings {
            enabled: true,
            randomize_delay: false,
            pool_size: 1,
            ..SessionSettings::default()
        };
        let store = Arc::new(SlowAdd(MemoryStore::new(&settings)));
        let engine = Engine::with_store(settings, client, store);
        // Cut short while the store adds the session the init just made.
        let cut = tokio::time::timeout(ADD / 2, engine.execute(get())).await;
        assert!(cut.is_err(), "dropped mid-add: {cut:?}");
        let pool = &engine.pools()[0];
        assert_eq!(
            (pool.sessions.len(), pool.pending_initial),
            (0, 1),
            "no session, and the slot back: the next request creates it"
        );
        let next = tokio::time::timeout(ADD * 5, engine.execute(get())).await;
        assert!(matches!(next, Ok(Ok(_))), "{next:?}");
        drop(emulator);
    }
}
