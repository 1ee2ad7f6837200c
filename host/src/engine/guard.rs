//! Drop guards: the pool bookkeeping a request owns is given back however the request ends,
//! including when its future is dropped mid-await (a gateway 504, a client that disconnects,
//! a deadline). See the cancellation policy in [`crate::engine`].

use std::ops::Deref;
use std::sync::Arc;

use super::Inner;
use super::pool::Lease;

/// A session lease: counted in flight while held, released on drop.
pub(super) struct Held {
    inner: Arc<Inner>,
    pool: String,
    lease: Lease,
}

impl Held {
    /// Takes charge of `lease`, already counted in flight in `pool`.
    pub(super) fn new(inner: &Arc<Inner>, pool: &str, lease: Lease) -> Self {
        Self {
            inner: inner.clone(),
            pool: pool.to_owned(),
            lease,
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
        let sid = &self.lease.session_id;
        self.inner.store.release(&self.pool, sid);
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
            self.inner.store.give_back(&self.pool);
        }
    }
}
