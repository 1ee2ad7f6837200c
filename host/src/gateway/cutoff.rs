//! The shutdown cut-off: once the drain time is over, every request still running answers
//! `shutting-down` (see the shutdown policy in [`super`]).
//!
//! Policy (issue 17, sixth round): a running request waits on the cut-off by keeping its
//! task's waker in one of [`SHARDS`] lists, the shard of the thread that first polls it, so
//! that the workers (a thread each) never share a list; [`Cutoff::cut`] sets a flag, then wakes
//! every waker of every shard. A request checks the flag on every poll. This replaced a
//! `tokio::sync::watch` wait per request, which cost about 1,400 of a sessions-off request's
//! 55,000 instructions (a subscription, a read lock, and a registration in a list shared by
//! every worker, added and removed under its lock), for a signal sent once in a process's life.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;

/// Lists of waiting requests; a thread uses one (threads past this many share them).
const SHARDS: usize = 16;

/// The cut-off of one gateway: a flag, and the wakers of the requests waiting on it.
pub(super) struct Cutoff {
    cut: AtomicBool,
    shards: [Mutex<Waiters>; SHARDS],
}

impl Default for Cutoff {
    fn default() -> Self {
        Self {
            cut: AtomicBool::new(false),
            shards: std::array::from_fn(|_| Mutex::new(Waiters::default())),
        }
    }
}

impl Cutoff {
    /// Cuts off every running request (and every later one): each answers at its next poll,
    /// and every waiting one is woken for it.
    pub(super) fn cut(&self) {
        self.cut.store(true, Ordering::Release);
        for shard in &self.shards {
            for waker in shard.lock().wakers.iter().flatten() {
                waker.wake_by_ref();
            }
        }
    }

    /// Completes once [`Self::cut`] is called.
    pub(super) fn wait(&self) -> Wait<'_> {
        Wait {
            cutoff: self,
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

/// The future of [`Cutoff::wait`]: its waker is listed from its first poll until it is
/// dropped.
pub(super) struct Wait<'a> {
    cutoff: &'a Cutoff,
    /// Its shard and index there, once listed.
    slot: Option<(usize, usize)>,
}

impl Future for Wait<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let cutoff = self.cutoff;
        if cutoff.cut.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        match self.slot {
            None => {
                let shard = shard();
                let index = cutoff.shards[shard].lock().insert(cx.waker().clone());
                self.slot = Some((shard, index));
            }
            Some((shard, index)) => {
                let mut waiters = cutoff.shards[shard].lock();
                let listed = &mut waiters.wakers[index];
                if !listed.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    *listed = Some(cx.waker().clone());
                }
            }
        }
        // A cut made before the waker was listed is seen here: `cut` sets the flag before it
        // takes the shards' locks.
        if cutoff.cut.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        if let Some((shard, index)) = self.slot {
            let mut waiters = self.cutoff.shards[shard].lock();
            waiters.wakers[index] = None;
            waiters.free.push(index);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// Requests waiting on several threads' shards, or polled on another thread than the
    /// one that listed them, are all woken by one cut; a wait after the cut answers at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn issue_17_a_cut_wakes_every_waiting_request_on_every_thread() {
        let cutoff = Arc::new(Cutoff::default());
        let waiting: Vec<_> = (0..32)
            .map(|_| {
                let cutoff = cutoff.clone();
                tokio::spawn(async move { cutoff.wait().await })
            })
            .collect();
        {
            let dropped = cutoff.wait();
            let mut dropped = std::pin::pin!(dropped);
            assert!(futures::poll!(dropped.as_mut()).is_pending());
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let listed: usize = cutoff.shards.iter().map(|s| s.lock().wakers.len()).sum();
        assert!(listed >= 1, "the waits are listed");
        cutoff.cut();
        for task in waiting {
            tokio::time::timeout(std::time::Duration::from_secs(5), task)
                .await
                .expect("woken by the cut")
                .expect("task");
        }
        assert!(futures::poll!(std::pin::pin!(cutoff.wait())).is_ready());
    }
}
