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
        }
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
