//! The engine's clock: monotonic time plus an offset that tests can advance, so that session
//! ages and idle times can be tested without waiting (pair it with the emulator's clock).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A monotonic clock that can be moved forward. Clones share the offset.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_nanos: Arc<AtomicU64>,
}

impl Clock {
    /// The current time.
    pub fn now(&self) -> Instant {
        Instant::now() + Duration::from_nanos(self.offset_nanos.load(Ordering::Relaxed))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.offset_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

/// The moment by which one request must be answered, and the budget it was given.
///
/// Tokio time, so that a runtime with paused time (tokio's `test-util`) runs every wait at
/// once; the suites use short real budgets instead, never minutes.
/// Every wait of a request goes through it ([`Deadline::sleep`], [`Deadline::run`]); see the
/// cancellation policy in [`crate::engine`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    at: tokio::time::Instant,
    budget: Duration,
}

/// The deadline passed (or a fixed wait would have ended after it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expired;

impl Deadline {
    /// `budget` from now (capped at one day, so that it never overflows).
    pub fn after(budget: Duration) -> Self {
        let budget = budget.min(crate::zyte::retry::MAX_WAIT);
        Self {
            at: tokio::time::Instant::now() + budget,
            budget,
        }
    }

    /// The instant itself.
    pub fn instant(&self) -> tokio::time::Instant {
        self.at
    }

    /// The budget it was given.
    pub fn budget(&self) -> Duration {
        self.budget
    }

    /// Whether it has passed.
    pub fn expired(&self) -> bool {
        tokio::time::Instant::now() >= self.at
    }

    /// A fixed wait of `pause`: started only when it ends before the deadline, else
    /// [`Expired`] at once (nothing can cut it short, so waiting would only delay the answer).
    pub async fn sleep(&self, pause: Duration) -> Result<(), Expired> {
        if pause.is_zero() {
            return if self.expired() { Err(Expired) } else { Ok(()) };
        }
        let end = tokio::time::Instant::now()
            .checked_add(pause)
            .ok_or(Expired)?;
        if end >= self.at {
            return Err(Expired);
        }
        tokio::time::sleep_until(end).await;
        Ok(())
    }

    /// Runs `future` until it completes or the deadline passes.
    pub async fn run<F: std::future::Future>(&self, future: F) -> Result<F::Output, Expired> {
        tokio::time::timeout_at(self.at, future)
            .await
            .map_err(|_| Expired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn issue_12_fixed_waits_past_the_deadline_are_not_started() {
        let ms = Duration::from_millis;
        let deadline = Deadline::after(ms(300));
        let start = tokio::time::Instant::now();
        assert_eq!(deadline.sleep(Duration::from_secs(60)).await, Err(Expired));
        assert!(start.elapsed() < ms(20), "failed at once");
        assert_eq!(deadline.sleep(ms(50)).await, Ok(()));
        let never = std::future::pending::<()>();
        assert_eq!(deadline.run(never).await, Err(Expired));
        let took = start.elapsed();
        assert!(
            took >= ms(300) && took < ms(400),
            "cut at the deadline: {took:?}"
        );
        assert!(deadline.expired());
        assert_eq!(deadline.sleep(Duration::ZERO).await, Err(Expired));
    }
}
