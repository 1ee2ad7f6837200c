//! hyper's header-read timer, one per connection (issue 17, eighth round).
//!
//! hyper arms [`EdgeLimits::header_read_timeout`](super::EdgeLimits::header_read_timeout) each
//! time it starts reading a request's head (so an idle keep-alive connection is cut after it
//! too), and drops the timer once the head is read: with hyper-util's `TokioTimer`, every
//! request of a keep-alive connection allocated a tokio `Sleep`, registered it in the runtime's
//! timer wheel on its first poll (a lock, and a write to the runtime's eventfd when it became
//! the earliest timer: 0.16 to 0.31 per request by `benches/gateway-syscalls`, none with this
//! timer), and took it out again on drop: 654 instructions per request by
//! `benches/gateway-instructions off`, 335 with this timer.
//!
//! Policy: the same deadlines, kept cheaper. Each connection has one tokio `Sleep`, made at its
//! first head and dropped with the connection; hyper borrows it for each head through [`Lent`].
//! Arming it for the next head only writes the new deadline down: the sleep, registered for an
//! earlier one, fires then, finds the deadline moved, and is reset to it (a wheel move once per
//! timeout at most, not per request; an earlier deadline resets it at once). So the head read
//! fails at its own deadline, as with `TokioTimer`. A sleep that fires while not lent (a
//! request served for longer than the timeout) wakes the connection's task once for nothing.
//! A second sleep asked for while the first is lent (hyper does not, today) gets a sleep of
//! its own, as `TokioTimer` gives, so any use of the timer keeps its meaning.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use hyper::rt::{Sleep, Timer};
use hyper_util::rt::TokioTimer;

/// The timer of one connection (see the module policy); clones share its sleep.
#[derive(Debug, Clone, Default)]
pub(super) struct ConnectionTimer {
    shared: Arc<Mutex<Shared>>,
}

/// The connection's sleep, the deadline of the head being read (the sleep's own may be
/// earlier: it is moved when it fires), and whether a [`Lent`] holds the sleep.
#[derive(Debug, Default)]
struct Shared {
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    deadline: Option<tokio::time::Instant>,
    lent: bool,
}

impl Shared {
    /// Sets the deadline to `deadline`; the sleep is reset now only when it would fire late.
    fn arm(&mut self, deadline: tokio::time::Instant) {
        self.deadline = Some(deadline);
        match self.sleep.as_mut() {
            Some(sleep) if deadline < sleep.deadline() => sleep.as_mut().reset(deadline),
            Some(_) => {}
            None => self.sleep = Some(Box::pin(tokio::time::sleep_until(deadline))),
        }
    }
}

impl ConnectionTimer {
    /// Locks the shared sleep. A panic while it was locked leaves it usable: each of its
    /// fields is written in one step.
    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The connection's sleep, lent to hyper until it drops this (see the module policy).
struct Lent {
    timer: ConnectionTimer,
}

impl Future for Lent {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut shared = self.timer.lock();
        let Shared {
            sleep: Some(sleep),
            deadline: Some(deadline),
            ..
        } = &mut *shared
        else {
            // Not reachable: both are set before the sleep is lent.
            return Poll::Ready(());
        };
        loop {
            ready!(sleep.as_mut().poll(cx));
            if sleep.deadline() >= *deadline {
                return Poll::Ready(());
            }
            // It fired at an earlier head's deadline: on to this head's.
            sleep.as_mut().reset(*deadline);
        }
    }
}

impl Sleep for Lent {}

impl Drop for Lent {
    fn drop(&mut self) {
        self.timer.lock().lent = false;
    }
}

impl Timer for ConnectionTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        self.sleep_until(self.now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        let mut shared = self.lock();
        if shared.lent {
            return TokioTimer::new().sleep_until(deadline);
        }
        shared.arm(deadline.into());
        shared.lent = true;
        drop(shared);
        Box::pin(Lent {
            timer: self.clone(),
        })
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, new_deadline: Instant) {
        if sleep.as_mut().downcast_mut_pin::<Lent>().is_some() {
            self.lock().arm(new_deadline.into());
        } else {
            TokioTimer::new().reset(sleep, new_deadline);
        }
    }

    fn now(&self) -> Instant {
        // tokio's clock, as `TokioTimer`'s (it can be paused in tests).
        tokio::time::Instant::now().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `sleep` has fired, without waiting.
    async fn fired(sleep: &mut Pin<Box<dyn Sleep>>) -> bool {
        std::future::poll_fn(|cx| Poll::Ready(sleep.as_mut().poll(cx).is_ready())).await
    }

    /// The lent sleep fires at the deadline it was last given: a later one (the next head of a
    /// keep-alive connection) moves it, and one asked for while it is lent is a sleep of its
    /// own, which does not move it; an earlier deadline is kept too. Sleeps never fire early, so
    /// the lower bounds are exact.
    #[tokio::test]
    async fn issue_17_the_connection_sleep_keeps_each_deadline() {
        let ms = Duration::from_millis;
        let timer = ConnectionTimer::default();
        let start = timer.now();
        drop(timer.sleep_until(start + ms(100)));
        let mut second = timer.sleep_until(start + ms(1000));
        let other = timer.sleep_until(start + ms(50));
        other.await;
        assert!(timer.now() - start >= ms(50));
        tokio::time::sleep_until((start + ms(200)).into()).await;
        assert!(!fired(&mut second).await, "fired before its deadline");
        second.as_mut().await;
        assert!(timer.now() - start >= ms(1000));
        let again = timer.now();
        timer.reset(&mut second, again + ms(100));
        assert!(
            !fired(&mut second).await,
            "reset to a deadline already past"
        );
        second.await;
        assert!(timer.now() - again >= ms(100));
        let now = timer.now();
        let mut third = timer.sleep_until(now + ms(2000));
        timer.reset(&mut third, now + ms(50));
        third.await;
        let took = timer.now() - now;
        assert!(
            took >= ms(50) && took < ms(2000),
            "an earlier deadline kept late: {took:?}"
        );
    }
}
