//! The four retry policies of python-zyte-api / scrapy-zyte-api (docs/reference.md §5.19),
//! as a pure decision function.
//!
//! Each failed attempt is classified, in this order: throttling (HTTP 429 or 503), network (no
//! answer: connection failure, reset, timeout, unreadable body), download (520/521),
//! undocumented (any other status ≥ 500), 402. Anything else (400, 401, 403, 422 — including
//! `/problem/session-expired` — 451, …) is never retried.
//!
//! | class | default | aggressive | session-default | session-aggressive |
//! |---|---|---|---|---|
//! | throttling | forever | forever | forever | forever |
//! | network | until 15 min uninterrupted | same | same | same |
//! | undocumented | 2 attempts | 4 | 2 | 4 |
//! | 402 | 2 attempts | 2 | 2 | 2 |
//! | download | 4 total / 2 × 521 | 8 / 4 | 1 attempt | 1 attempt |
//!
//! Counters are per request and never reset, except the network timer, which restarts after
//! any other error. Waits (seconds, `n` = number of the attempt that just failed, all classes
//! counted): throttling `20 + U(0, 20)` for n ≤ 2, else `30 + U(0, min(600, 2^(n−1)))`;
//! network, download and undocumented `U(3, 7) + U(0, min(55, 2^(n−1)))`; 402 none.
//!
//! One deliberate difference (improves on docs/reference.md §5.7's caveat): under the two session
//! policies a 503 whose problem type is `/problem/session-creation-error` is *not* treated as
//! throttling, so that the session layer sees it and waits `creation_retry_delay` instead of
//! the client retrying it forever.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::settings::RetryPolicyName;

/// How long network errors may go on, uninterrupted, before the client gives up.
pub const NETWORK_ERROR_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Longest wait any setting or guest can ask for (one day): longer values, and infinity, are
/// capped to it.
pub const MAX_WAIT: Duration = Duration::from_secs(24 * 3600);

/// `secs` seconds as a duration, never panicking: negative and NaN give zero, and anything
/// above [`MAX_WAIT`] (including infinity) gives [`MAX_WAIT`]. Settings and guests' pool specs
/// are untrusted numbers.
pub fn secs(secs: f64) -> Duration {
    if secs.is_nan() || secs <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(secs).map_or(MAX_WAIT, |d| d.min(MAX_WAIT))
}

/// The problem type of a failed session creation.
pub const SESSION_CREATION_ERROR: &str = "/problem/session-creation-error";

/// A retry policy: how many attempts each error class gets, and the caps of its back-off. The
/// four built-in ones ([`RetryPolicyName`]) are the reference's; users define their own under
/// `[sessions.retry_policies.NAME]` in `session-host.toml` (reference §5.19: the reference
/// takes any tenacity object; this is the part of one that its four policies vary). A field
/// left out keeps the value of `default`.
///
/// ```toml
/// [sessions.retry_policies.patient]
/// download_attempts = 6
/// undocumented_attempts = 6
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// Attempts that may end in 429 or 503 (throttling); 0 (default) retries them forever.
    pub throttling_attempts: u32,
    /// Seconds network errors may go on uninterrupted before the request fails (default 900).
    pub network_window_secs: f64,
    /// Attempts that may end in a status ≥ 500 other than 503, 520 and 521 (default 2).
    pub undocumented_attempts: u32,
    /// Attempts that may end in 402 (default 2).
    pub x402_attempts: u32,
    /// Attempts that may end in 520 or 521, together (default 4; 1 for the session policies,
    /// so that the session layer swaps the session instead).
    pub download_attempts: u32,
    /// Attempts of those that may end in 521 (default 2).
    pub permanent_download_attempts: u32,
    /// Whether a 503 `/problem/session-creation-error` fails at once, so that the session layer
    /// waits `creation_retry_delay` (true for the session policies, false for `default`).
    pub session_creation_error_is_final: bool,
    /// Cap of the exponential term of a throttling wait, in seconds (default 600).
    pub throttling_backoff_max_secs: f64,
    /// Cap of the exponential term of a network, download or undocumented wait, in seconds
    /// (default 55).
    pub error_backoff_max_secs: f64,
}

impl RetryPolicy {
    /// python-zyte-api's `zyte_api_retrying`.
    pub const DEFAULT: RetryPolicy = RetryPolicy {
        throttling_attempts: 0,
        network_window_secs: 900.0,
        undocumented_attempts: 2,
        x402_attempts: 2,
        download_attempts: 4,
        permanent_download_attempts: 2,
        session_creation_error_is_final: false,
        throttling_backoff_max_secs: 600.0,
        error_backoff_max_secs: 55.0,
    };
    /// python-zyte-api's `aggressive_retrying`.
    pub const AGGRESSIVE: RetryPolicy = RetryPolicy {
        undocumented_attempts: 4,
        download_attempts: 8,
        permanent_download_attempts: 4,
        ..Self::DEFAULT
    };
    /// scrapy-zyte-api's `SESSION_DEFAULT_RETRY_POLICY`.
    pub const SESSION_DEFAULT: RetryPolicy = RetryPolicy {
        download_attempts: 1,
        permanent_download_attempts: 1,
        session_creation_error_is_final: true,
        ..Self::DEFAULT
    };
    /// scrapy-zyte-api's `SESSION_AGGRESSIVE_RETRY_POLICY`.
    pub const SESSION_AGGRESSIVE: RetryPolicy = RetryPolicy {
        download_attempts: 1,
        permanent_download_attempts: 1,
        session_creation_error_is_final: true,
        ..Self::AGGRESSIVE
    };
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl From<RetryPolicyName> for RetryPolicy {
    fn from(name: RetryPolicyName) -> Self {
        match name {
            RetryPolicyName::Default => Self::DEFAULT,
            RetryPolicyName::Aggressive => Self::AGGRESSIVE,
            RetryPolicyName::SessionDefault => Self::SESSION_DEFAULT,
            RetryPolicyName::SessionAggressive => Self::SESSION_AGGRESSIVE,
        }
    }
}

/// The class of a failed attempt, in the order the policies test them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// HTTP 429 or 503.
    Throttling,
    /// No usable answer: connection failure, reset, timeout.
    Network,
    /// HTTP 520 (`permanent: false`) or 521 (`permanent: true`).
    Download {
        /// Whether it was a 521.
        permanent: bool,
    },
    /// Any other HTTP status ≥ 500.
    Undocumented,
    /// HTTP 402.
    X402,
    /// Never retried.
    Final,
}

impl ErrorClass {
    /// Classifies an HTTP error answer under `policy`.
    pub fn of_status(
        policy: impl Into<RetryPolicy>,
        status: u16,
        problem_type: Option<&str>,
    ) -> Self {
        let session_policy = policy.into().session_creation_error_is_final;
        match status {
            503 if session_policy && problem_type == Some(SESSION_CREATION_ERROR) => Self::Final,
            429 | 503 => Self::Throttling,
            520 => Self::Download { permanent: false },
            521 => Self::Download { permanent: true },
            402 => Self::X402,
            s if s >= 500 => Self::Undocumented,
            _ => Self::Final,
        }
    }
}

/// A random wait: `U(low, high) + U(0, extra)` seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wait {
    /// Lower bound of the first term.
    pub low: f64,
    /// Upper bound of the first term.
    pub high: f64,
    /// Upper bound of the second term.
    pub extra: f64,
}

impl Wait {
    /// No wait.
    pub const NONE: Wait = Wait {
        low: 0.0,
        high: 0.0,
        extra: 0.0,
    };

    /// Draws the wait from two uniform samples in `[0, 1)`, multiplied by `scale`.
    pub fn sample(&self, u1: f64, u2: f64, scale: f64) -> Duration {
        let secs = self.low + (self.high - self.low) * u1 + self.extra * u2;
        self::secs(secs * scale)
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    /// Wait, then try again.
    Retry(Wait),
    /// Give up and report this error.
    Stop,
}

/// The per-request counters of a retry policy.
#[derive(Debug, Clone, Default)]
pub struct RetryState {
    attempts: u32,
    downloads: u32,
    permanent_downloads: u32,
    undocumented: u32,
    x402: u32,
    throttling: u32,
    network_since: Option<Duration>,
}

impl RetryState {
    /// Attempts made so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Records a failed attempt of `class` at `now` (any monotonic time origin) and decides.
    pub fn decide(
        &mut self,
        policy: impl Into<RetryPolicy>,
        class: ErrorClass,
        now: Duration,
    ) -> Decision {
        let policy = policy.into();
        self.attempts += 1;
        if class != ErrorClass::Network {
            self.network_since = None;
        }
        let n = self.attempts;
        let retry = match class {
            ErrorClass::Final => false,
            ErrorClass::Throttling => {
                self.throttling += 1;
                policy.throttling_attempts == 0 || self.throttling < policy.throttling_attempts
            }
            ErrorClass::Network => {
                let since = *self.network_since.get_or_insert(now);
                now.saturating_sub(since) < secs(policy.network_window_secs)
            }
            ErrorClass::Download { permanent } => self.download(&policy, permanent),
            ErrorClass::Undocumented => {
                self.undocumented += 1;
                self.undocumented < policy.undocumented_attempts
            }
            ErrorClass::X402 => {
                self.x402 += 1;
                self.x402 < policy.x402_attempts
            }
        };
        if !retry {
            return Decision::Stop;
        }
        Decision::Retry(match class {
            ErrorClass::Throttling => throttling_wait(n, policy.throttling_backoff_max_secs),
            ErrorClass::X402 => Wait::NONE,
            _ => error_wait(n, policy.error_backoff_max_secs),
        })
    }

    fn download(&mut self, policy: &RetryPolicy, permanent: bool) -> bool {
        self.downloads += 1;
        self.permanent_downloads += u32::from(permanent);
        self.downloads < policy.download_attempts
            && self.permanent_downloads < policy.permanent_download_attempts
    }
}

fn exp_cap(n: u32, cap: f64) -> f64 {
    2f64.powi(n.saturating_sub(1).min(30) as i32).min(cap)
}

/// `wait_chain(20+U(0,20), 20+U(0,20), 30+U(0, min(600, 2^(n−1))))`.
fn throttling_wait(n: u32, cap: f64) -> Wait {
    if n <= 2 {
        Wait {
            low: 20.0,
            high: 20.0,
            extra: 20.0,
        }
    } else {
        Wait {
            low: 30.0,
            high: 30.0,
            extra: exp_cap(n, cap),
        }
    }
}

/// `U(3, 7) + U(0, min(55, 2^(n−1)))`.
fn error_wait(n: u32, cap: f64) -> Wait {
    Wait {
        low: 3.0,
        high: 7.0,
        extra: exp_cap(n, cap),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RetryPolicyName::*;

    const ALL: [RetryPolicyName; 4] = [Default, Aggressive, SessionDefault, SessionAggressive];

    /// Attempts made when every attempt fails with `status` (capped at 300).
    fn attempts(policy: RetryPolicyName, status: u16) -> u32 {
        let mut state = RetryState::default();
        let class = ErrorClass::of_status(policy, status, None);
        while state.attempts() < 300 {
            if state.decide(policy, class, Duration::ZERO) == Decision::Stop {
                break;
            }
        }
        state.attempts()
    }

    #[test]
    fn attempt_counts_match_the_reference_table() {
        // (status, [default, aggressive, session-default, session-aggressive])
        let table: [(u16, [u32; 4]); 11] = [
            (429, [300; 4]),
            (503, [300; 4]),
            (500, [2, 4, 2, 4]),
            (502, [2, 4, 2, 4]),
            (504, [2, 4, 2, 4]),
            (402, [2; 4]),
            (520, [4, 8, 1, 1]),
            (521, [2, 4, 1, 1]),
            (400, [1; 4]),
            (422, [1; 4]),
            (451, [1; 4]),
        ];
        for (status, expected) in table {
            for (policy, want) in ALL.into_iter().zip(expected) {
                assert_eq!(attempts(policy, status), want, "{policy:?} {status}");
            }
        }
    }

    #[test]
    fn download_errors_count_together() {
        // 520×3 then 429 then 520: the 4th download error stops the default policy.
        let mut s = RetryState::default();
        let d = ErrorClass::Download { permanent: false };
        for _ in 0..3 {
            assert!(matches!(
                s.decide(Default, d, Duration::ZERO),
                Decision::Retry(_)
            ));
        }
        let t = ErrorClass::Throttling;
        assert!(matches!(
            s.decide(Default, t, Duration::ZERO),
            Decision::Retry(_)
        ));
        assert_eq!(s.decide(Default, d, Duration::ZERO), Decision::Stop);
        // 520 then 521: the 521 counts toward both limits.
        let mut s = RetryState::default();
        let p = ErrorClass::Download { permanent: true };
        assert!(matches!(
            s.decide(Default, d, Duration::ZERO),
            Decision::Retry(_)
        ));
        assert!(matches!(
            s.decide(Default, p, Duration::ZERO),
            Decision::Retry(_)
        ));
        assert_eq!(s.decide(Default, p, Duration::ZERO), Decision::Stop);
    }

    #[test]
    fn network_errors_stop_after_15_uninterrupted_minutes() {
        let mut s = RetryState::default();
        let net = ErrorClass::Network;
        let min = |m: u64| Duration::from_secs(m * 60);
        assert!(matches!(
            s.decide(SessionDefault, net, min(0)),
            Decision::Retry(_)
        ));
        assert!(matches!(
            s.decide(SessionDefault, net, min(14)),
            Decision::Retry(_)
        ));
        // Another error resets the timer.
        let t = ErrorClass::Throttling;
        assert!(matches!(
            s.decide(SessionDefault, t, min(14)),
            Decision::Retry(_)
        ));
        assert!(matches!(
            s.decide(SessionDefault, net, min(16)),
            Decision::Retry(_)
        ));
        assert!(matches!(
            s.decide(SessionDefault, net, min(30)),
            Decision::Retry(_)
        ));
        assert_eq!(s.decide(SessionDefault, net, min(31)), Decision::Stop);
    }

    #[test]
    fn waits_follow_tenacity() {
        assert_eq!(throttling_wait(1, 600.0).extra, 20.0);
        assert_eq!(throttling_wait(3, 600.0).low, 30.0);
        assert_eq!(throttling_wait(3, 600.0).extra, 4.0);
        assert_eq!(throttling_wait(11, 600.0).extra, 600.0);
        assert_eq!(error_wait(1, 55.0).extra, 1.0);
        assert_eq!(error_wait(7, 55.0).extra, 55.0);
        let w = error_wait(2, 55.0);
        assert_eq!(w.sample(0.0, 0.0, 1.0), Duration::from_secs(3));
        assert_eq!(w.sample(1.0, 1.0, 1.0), Duration::from_secs(9));
        assert_eq!(w.sample(1.0, 1.0, 0.0), Duration::ZERO, "wait_scale 0");
        let mut s = RetryState::default();
        assert_eq!(
            s.decide(Default, ErrorClass::X402, Duration::ZERO),
            Decision::Retry(Wait::NONE)
        );
    }

    #[test]
    fn durations_never_panic() {
        assert_eq!(secs(f64::NAN), Duration::ZERO);
        assert_eq!(secs(-1.0), Duration::ZERO);
        assert_eq!(secs(f64::INFINITY), MAX_WAIT);
        assert_eq!(secs(1e300), MAX_WAIT);
        assert_eq!(secs(1.5), Duration::from_millis(1500));
        assert_eq!(
            error_wait(1, 55.0).sample(1.0, 1.0, f64::INFINITY),
            MAX_WAIT
        );
    }

    #[test]
    fn session_creation_error_is_not_throttling_under_session_policies() {
        let t = Some(SESSION_CREATION_ERROR);
        assert_eq!(
            ErrorClass::of_status(SessionDefault, 503, t),
            ErrorClass::Final
        );
        assert_eq!(
            ErrorClass::of_status(SessionAggressive, 503, t),
            ErrorClass::Final
        );
        assert_eq!(
            ErrorClass::of_status(Default, 503, t),
            ErrorClass::Throttling
        );
        assert_eq!(SessionAggressive.without_sessions(), Aggressive);
    }
}
