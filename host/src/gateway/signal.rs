//! A signal sent once in a server's life, waited on by every request or connection: the
//! shutdown cut-off (once the drain time is over, every request still running answers
//! `shutting-down`) and the start of the drain (every connection finishes its request and
//! closes); see the shutdown policy in [`super`].
//!
//! Policy (issue 17, sixth round): a waiter keeps its task's waker in one of [`SHARDS`] lists,
//! the shard of the thread that first polls it, so that the workers (a thread each) never
//! share a list; [`Signal::send`] sets a flag, then wakes every waker of every shard. A waiter
//! checks the flag on every poll. For the cut-off this replaced a `tokio::sync::watch` wait per
//! request, which cost about 800 of a sessions-off request's 52,000 instructions (a
//! subscription, a read lock, and a registration in a list shared by every worker, added and
//! removed under its lock); for the drain, hyper-util's `GracefulShutdown`, whose per-connection
//! `watch` wait was polled again with every poll of the connection (about 500 a request).

use std::cell::Cell;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;

/// Lists of waiting requests; a thread uses one (threads past this many share them).
const SHARDS: usize = 16;

/// A signal: a flag, and the wakers of the requests or connections waiting on it.
pub(super) struct Signal {
    sent: AtomicBool,
    shards: [Mutex<Waiters>; SHARDS],
}

impl Default for Signal {
    fn default() -> Self {
        Self {
            sent: AtomicBool::new(false),
            shards: std::array::from_fn(|_| Mutex::new(Waiters::default())),
        }
    }
}

impl Signal {
    /// Sends the signal: every waiter (and every later one) completes at its next poll, and
    /// every waiting one is woken for it.
    pub(super) fn send(&self) {
        self.sent.store(true, Ordering::Release);
        for shard in &self.shards {
            for waker in shard.lock().wakers.iter().flatten() {
                waker.wake_by_ref();
            }
        }
    }

    /// Completes once [`Self::send`] is called.
    pub(super) fn wait(&self) -> Wait<&Self> {
        Wait {
            signal: self,
            slot: None,
        }
    }

    /// [`Self::wait`] holding the signal.
    pub(super) fn wait_owned(self: Arc<Self>) -> Wait<Arc<Self>> {
        Wait {
            signal: self,
            slot: None,
        }
    }
}

/// The wakers of one shard, at stable indices (a freed index is reused).
#[derive(Default)]
struct Waiters {
    wakers: Vec<Option<Waker>>,
    free: Vec<usize>,
}

impl Waiters {
    fn insert(&mut self, waker: Waker) -> usize {
        match self.free.pop() {
            Some(index) => {
                self.wakers[index] = Some(waker);
                index
            }
            None => {
                self.wakers.push(Some(waker));
                self.wakers.len() - 1
            }
        }
    }
}

/// This thread's shard: threads take the next one when they first wait.
fn shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: Cell<Option<usize>> = const { Cell::new(None) };
    }
    SHARD
        .try_with(|shard| match shard.get() {
            Some(index) => index,
            None => {
                let index = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
                shard.set(Some(index));
                index
            }
        })
        .unwrap_or(0)
}

/// The future of [`Signal::wait`]: its waker is listed from its first poll until it is
/// dropped.
pub(super) struct Wait<R: Deref<Target = Signal>> {
    signal: R,
    /// Its shard and index there, once listed.
    slot: Option<(usize, usize)>,
}

impl<R: Deref<Target = Signal> + Unpin> Future for Wait<R> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let signal = &*this.signal;
        if signal.sent.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        match this.slot {
            None => {
                let shard = shard();
                let index = signal.shards[shard].lock().insert(cx.waker().clone());
                this.slot = Some((shard, index));
            }
            Some((shard, index)) => {
                let mut waiters = signal.shards[shard].lock();
                let listed = &mut waiters.wakers[index];
                if !listed.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    *listed = Some(cx.waker().clone());
                }
            }
        }
        // A signal sent before the waker was listed is seen here: `send` sets the flag before it
        // takes the shards' locks.
        if signal.sent.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl<R: Deref<Target = Signal>> Drop for Wait<R> {
    fn drop(&mut self) {
        if let Some((shard, index)) = self.slot {
            let mut waiters = self.signal.shards[shard].lock();
            waiters.wakers[index] = None;
            waiters.free.push(index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Waiters on several threads' shards, or polled on another thread than the one that
    /// listed them, are all woken by one signal; a wait after it answers at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn issue_17_a_signal_wakes_every_waiter_on_every_thread() {
        let signal = Arc::new(Signal::default());
        let waiting: Vec<_> = (0..32)
            .map(|_| {
                let signal = signal.clone();
                tokio::spawn(async move { signal.wait().await })
            })
            .collect();
        {
            let dropped = signal.wait();
            let mut dropped = std::pin::pin!(dropped);
            assert!(futures::poll!(dropped.as_mut()).is_pending());
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let listed: usize = signal.shards.iter().map(|s| s.lock().wakers.len()).sum();
        assert!(listed >= 1, "the waits are listed");
        signal.send();
        for task in waiting {
            tokio::time::timeout(std::time::Duration::from_secs(5), task)
                .await
                .expect("woken by the signal")
                .expect("task");
        }
        assert!(futures::poll!(std::pin::pin!(signal.wait())).is_ready());
    }
}
