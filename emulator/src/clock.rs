//! Emulated time: the clock behind every session expiry and tombstone decision.
//!
//! Policy:
//! - Emulated time starts at zero when the emulator starts and runs at `time_scale` times real
//!   time (1.0 = real time, 60.0 = one emulated minute per real second).
//! - A `time_scale` of 0.0 freezes real time: only [`Clock::advance`] moves the clock. Tests use
//!   this to expire a session deterministically, without sleeping.
//! - [`Clock::advance`] adds a manual offset on top of the scaled real time, at any scale.
//! - Simulated latency is emulated time too: a 2 s latency sleeps 2 s / `time_scale` of real time,
//!   and does not sleep at all when the clock is frozen.
//! - Resetting the emulator (`POST /__emulator/reset`) does not reset the clock: it only forgets
//!   sessions and counters, so a test holding the clock keeps a monotonic view of time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The largest accepted `time_scale`, so that emulated time cannot overflow within a run.
pub const MAX_TIME_SCALE: f64 = 1_000_000.0;

/// A cheaply cloneable handle on the emulator's clock.
///
/// ```
/// use std::time::Duration;
/// use zyte_emulator::Clock;
///
/// let clock = Clock::new(0.0); // frozen: only `advance` moves it
/// clock.advance(Duration::from_secs(121));
/// assert_eq!(clock.now(), Duration::from_secs(121));
/// ```
#[derive(Clone, Debug)]
pub struct Clock {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    origin: Instant,
    scale: f64,
    offset_nanos: AtomicU64,
}

impl Clock {
    /// A clock that starts now and runs `time_scale` times faster than real time.
    ///
    /// A scale that is negative, not finite or above [`MAX_TIME_SCALE`] is clamped into
    /// `0.0..=MAX_TIME_SCALE` (NaN becomes 0.0); [`crate::EmulatorConfig`] rejects such values
    /// before they get here.
    pub fn new(time_scale: f64) -> Self {
        let scale = if time_scale.is_nan() {
            0.0
        } else {
            time_scale.clamp(0.0, MAX_TIME_SCALE)
        };
        let inner = Inner {
            origin: Instant::now(),
            scale,
            offset_nanos: AtomicU64::new(0),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Emulated time elapsed since the emulator started.
    pub fn now(&self) -> Duration {
        let real = self.inner.origin.elapsed().as_secs_f64() * self.inner.scale;
        let scaled = Duration::try_from_secs_f64(real).unwrap_or(Duration::MAX);
        scaled.saturating_add(Duration::from_nanos(
            self.inner.offset_nanos.load(Ordering::Relaxed),
        ))
    }

    /// Moves emulated time forward by `by`, at once.
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .inner
            .offset_nanos
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                Some(old.saturating_add(nanos))
            });
    }

    /// The configured time scale (0.0 when frozen).
    pub fn time_scale(&self) -> f64 {
        self.inner.scale
    }

    /// The real time to wait for an emulated `duration`; `None` when no wait is needed (zero
    /// duration or a frozen clock).
    pub fn real_wait(&self, duration: Duration) -> Option<Duration> {
        if duration.is_zero() || self.inner.scale == 0.0 {
            return None;
        }
        let real = Duration::try_from_secs_f64(duration.as_secs_f64() / self.inner.scale).ok()?;
        (!real.is_zero()).then_some(real)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_clock_moves_only_when_advanced() {
        let clock = Clock::new(0.0);
        assert_eq!(clock.now(), Duration::ZERO);
        clock.advance(Duration::from_secs(900));
        assert_eq!(clock.now(), Duration::from_secs(900));
        assert_eq!(clock.real_wait(Duration::from_secs(5)), None);
    }

    #[test]
    fn scaled_clock_runs_faster_than_real_time() {
        let clock = Clock::new(1000.0);
        std::thread::sleep(Duration::from_millis(20));
        assert!(clock.now() >= Duration::from_secs(20));
        assert_eq!(
            clock.real_wait(Duration::from_secs(2)),
            Some(Duration::from_millis(2))
        );
    }

    #[test]
    fn bad_scales_are_clamped() {
        assert_eq!(Clock::new(f64::NAN).time_scale(), 0.0);
        assert_eq!(Clock::new(-3.0).time_scale(), 0.0);
        assert_eq!(Clock::new(f64::INFINITY).time_scale(), MAX_TIME_SCALE);
    }
}
