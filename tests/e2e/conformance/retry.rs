//! The four retry policies (reference 5.19): attempt counts against the emulator's fault sites,
//! and the waits between attempts, class by class.

use std::time::Duration;

use serde_json::json;
use session_host::settings::RetryPolicyName::{self, *};
use session_host::zyte::retry::{Decision, ErrorClass, RetryState, Wait};

use super::harness::client;

#[tokio::test]
async fn every_policy_makes_the_reference_attempt_counts() {
    let emulator = zyte_emulator::start(zyte_emulator::EmulatorConfig {
        time_scale: 0.0,
        ..zyte_emulator::EmulatorConfig::default()
    })
    .await
    .expect("emulator");
    let client = client(&emulator);
    // (site, [default, aggressive, session-default, session-aggressive])
    for (site, want) in [
        ("e520.example", [4, 8, 1, 1]),
        ("e521.example", [2, 4, 1, 1]),
        ("e500.example", [2, 4, 2, 4]),
    ] {
        for (policy, want) in [Default, Aggressive, SessionDefault, SessionAggressive]
            .into_iter()
            .zip(want)
        {
            let before = emulator.stats().site(site).requests.total;
            let body = json!({"url": format!("https://{site}/"), "httpResponseBody": true});
            let body = body.as_object().cloned().unwrap_or_default();
            client.extract(&body, policy).await.expect_err("an error");
            let made = emulator.stats().site(site).requests.total - before;
            assert_eq!(made, want, "{site} under {policy:?}");
        }
    }
}

/// The decisions a policy takes for `n` failures of `class` in a row.
fn decisions(policy: RetryPolicyName, class: ErrorClass, n: u32) -> Vec<Decision> {
    let mut state = RetryState::default();
    (0..n)
        .map(|_| state.decide(policy, class, Duration::ZERO))
        .collect()
}

fn error_wait(n: u32) -> Decision {
    Decision::Retry(Wait {
        low: 3.0,
        high: 7.0,
        extra: f64::from(2u32.pow(n - 1)).min(55.0),
    })
}

#[test]
fn download_errors_wait_u3_7_plus_exponential_and_stop_at_the_count() {
    let d = decisions(Default, ErrorClass::Download { permanent: false }, 4);
    assert_eq!(
        d,
        [error_wait(1), error_wait(2), error_wait(3), Decision::Stop]
    );
    let a = decisions(Aggressive, ErrorClass::Download { permanent: false }, 8);
    assert_eq!(a[6], error_wait(7));
    assert_eq!(a[7], Decision::Stop);
    for policy in [SessionDefault, SessionAggressive] {
        let s = decisions(policy, ErrorClass::Download { permanent: false }, 1);
        assert_eq!(s, [Decision::Stop], "{policy:?} never retries a 520");
    }
    // The 7th wait's extra term, 2^6 = 64 s, is capped at 55 s.
    assert_eq!(
        a[6],
        Decision::Retry(Wait {
            low: 3.0,
            high: 7.0,
            extra: 55.0
        })
    );
    let undocumented = decisions(Aggressive, ErrorClass::Undocumented, 4);
    assert_eq!(
        undocumented,
        [error_wait(1), error_wait(2), error_wait(3), Decision::Stop]
    );
}

#[test]
fn throttling_is_retried_forever_with_the_reference_wait_chain() {
    for policy in [Default, Aggressive, SessionDefault, SessionAggressive] {
        let d = decisions(policy, ErrorClass::Throttling, 12);
        let first = Wait {
            low: 20.0,
            high: 20.0,
            extra: 20.0,
        };
        assert_eq!(d[0], Decision::Retry(first), "{policy:?}");
        assert_eq!(d[1], Decision::Retry(first), "{policy:?}");
        let third = Wait {
            low: 30.0,
            high: 30.0,
            extra: 4.0,
        };
        assert_eq!(d[2], Decision::Retry(third), "{policy:?}");
        let last = Wait {
            low: 30.0,
            high: 30.0,
            extra: 600.0,
        };
        assert_eq!(
            d[11],
            Decision::Retry(last),
            "{policy:?}: 2^11 capped at 600"
        );
    }
}

#[test]
fn a_402_is_retried_once_without_a_wait_and_4xx_never() {
    for policy in [Default, Aggressive, SessionDefault, SessionAggressive] {
        let d = decisions(policy, ErrorClass::X402, 2);
        assert_eq!(
            d,
            [Decision::Retry(Wait::NONE), Decision::Stop],
            "{policy:?}"
        );
        for status in [400, 401, 403, 422, 451] {
            let class = ErrorClass::of_status(policy, status, None);
            assert_eq!(decisions(policy, class, 1), [Decision::Stop], "{status}");
        }
    }
}

#[test]
fn sampled_waits_stay_within_their_bounds() {
    let w = Wait {
        low: 3.0,
        high: 7.0,
        extra: 4.0,
    };
    assert_eq!(w.sample(0.0, 0.0, 1.0), Duration::from_secs(3));
    assert_eq!(w.sample(1.0, 1.0, 1.0), Duration::from_secs(11));
    assert_eq!(
        w.sample(0.5, 0.5, 0.0),
        Duration::ZERO,
        "scaled to zero in tests"
    );
}
