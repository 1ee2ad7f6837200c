//! Failures (reference 5.5, 5.7–5.12, sections 8 and 9): bad inits (global and per pool),
//! check failures, 520/521 refresh, session expiry, unsupported `setLocation`, cookie mode,
//! and the stats each one counts.

use std::time::Duration;

use session_host::engine::EngineError;
use session_host::settings::SessionSettings;

use super::harness::{Harness, get, postal, scenario, session_of, settings};

fn one() -> SessionSettings {
    SessionSettings {
        pool_size: 1,
        ..settings()
    }
}

fn closed_reason(error: EngineError) -> String {
    match error {
        EngineError::PoolClosed { reason, .. } => reason,
        other => panic!("expected a closed pool, got {other:?}"),
    }
}

/// A request whose init fails its check: setLocation with a postal code the site refuses.
fn refused() -> session_host::engine::EngineRequest {
    let mut r = get("https://postal-code-10001.example/");
    r.controls.location = Some(postal("94105"));
    r
}

#[tokio::test]
async fn max_bad_inits_closes_the_pool_after_that_many_consecutive_failures() {
    let h = Harness::new(SessionSettings {
        max_bad_inits: 3,
        ..one()
    })
    .await;
    assert_eq!(
        closed_reason(h.send(refused()).await.unwrap_err()),
        "bad_session_inits"
    );
    assert_eq!(h.stat("init/check-failed"), 3);
}

#[tokio::test]
async fn max_bad_inits_per_pool_overrides_the_global_value() {
    let mut s = SessionSettings {
        max_bad_inits: 5,
        ..one()
    };
    s.max_bad_inits_per_pool
        .insert("postal-code-10001.example@94105".into(), 2);
    let h = Harness::new(s).await;
    assert_eq!(
        closed_reason(h.send(refused()).await.unwrap_err()),
        "bad_session_inits"
    );
    assert_eq!(h.stat("init/check-failed"), 2);
}

#[tokio::test]
async fn zero_bad_inits_acts_as_one() {
    let h = Harness::new(SessionSettings {
        max_bad_inits: 0,
        ..one()
    })
    .await;
    assert_eq!(
        closed_reason(h.send(refused()).await.unwrap_err()),
        "bad_session_inits"
    );
    assert_eq!(h.stat("init/check-failed"), 1);
}

/// A site that bans (520) each session from its `n+1`-th request on, its init included.
fn banned_after(n: u64) -> zyte_emulator::Scenario {
    scenario(&format!(
        "[[site]]\ndomain = \"banned.example\"\nban = {{ after_uses = {n} }}\n\
         [[site.page]]\npath = \"*\"\ntemplate = \"<html>{{{{path}}}}</html>\"\n"
    ))
}

#[tokio::test]
async fn a_520_refreshes_the_session_at_max_errors_and_retries() {
    let h = Harness::with(
        SessionSettings {
            max_errors: 1,
            ..one()
        },
        banned_after(2),
    )
    .await;
    h.get("https://banned.example/1").await;
    h.get("https://banned.example/2").await;
    assert_eq!(h.stat("use/failed"), 1);
    assert_eq!(h.created("banned.example"), 2, "refreshed at the first 520");
    assert_eq!(h.raw_stat("retry/reason_count/download_error"), 1);
}

#[tokio::test]
async fn max_errors_keeps_the_session_below_the_threshold() {
    let h = Harness::with(
        SessionSettings {
            max_errors: 2,
            retry_times: 0,
            ..one()
        },
        banned_after(2),
    )
    .await;
    h.get("https://banned.example/1").await;
    h.send(get("https://banned.example/2")).await.unwrap_err();
    assert_eq!(h.created("banned.example"), 1, "one 520 of 2 tolerated");
    h.send(get("https://banned.example/3")).await.unwrap_err();
    // The second 520 reaches max_errors: the session is replaced (in the background).
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(h.created("banned.example"), 2);
}

#[tokio::test]
async fn a_521_is_a_download_error_too() {
    let h = Harness::new(SessionSettings {
        retry_times: 0,
        ..one()
    })
    .await;
    // e521.example fails every request, the init included: a failed init, not a use.
    let error = h.send(get("https://e521.example/")).await.unwrap_err();
    assert!(matches!(error, EngineError::PoolClosed { .. }), "{error:?}");
    assert_eq!(
        h.stat("init/failed"),
        8,
        "max_bad_inits = 8, one attempt each"
    );
}

#[tokio::test]
async fn an_expired_session_is_refreshed_at_once_and_the_request_retried() {
    let h = Harness::new(SessionSettings {
        retire_before_idle: -1.0,
        ..one()
    })
    .await;
    let first = session_of(&h.get("https://example.com/").await);
    h.emulator.clock().advance(Duration::from_secs(121));
    let second = session_of(&h.get("https://example.com/").await);
    assert_ne!(first, second);
    assert_eq!(h.stat("use/expired"), 1);
    assert_eq!(h.raw_stat("retry/reason_count/session_expired"), 1);
}

#[tokio::test]
async fn unsupported_set_location_closes_the_pool_with_its_reason() {
    let h = Harness::new(settings()).await;
    let mut r = get("https://no-location-support.example/");
    r.controls.location = Some(postal("10001"));
    let reason = closed_reason(h.send(r).await.unwrap_err());
    assert_eq!(reason, "unsupported_set_location");
    h.get("https://example.com/").await;
}

#[tokio::test]
async fn max_check_failures_retries_then_refreshes_at_the_threshold() {
    // The session is located at 10001; each use asks for 94105 again, which the site refuses,
    // so the default check fails every use (reference 5.8: setLocation on use responses).
    let h = Harness::new(SessionSettings {
        max_check_failures: 2,
        retry_times: 3,
        ..one()
    })
    .await;
    let body = serde_json::json!({
        "url": "https://postal-code-10001.example/",
        "browserHtml": true,
        "actions": [{"action": "setLocation", "address": {"postalCode": "94105"}}],
    });
    let mut r =
        session_host::engine::EngineRequest::new(body.as_object().cloned().unwrap_or_default());
    r.controls.location = Some(postal("10001"));
    let error = h.send(r).await.unwrap_err();
    assert!(matches!(error, EngineError::GaveUp { .. }), "{error:?}");
    assert_eq!(h.stat("use/check-failed"), 4, "retry_times + 1 attempts");
    assert_eq!(h.raw_stat("retry/max_reached"), 1);
    assert_eq!(h.raw_stat("retry/reason_count/session_expired"), 3);
    // Two failures per session: the session is replaced after the 2nd and the 4th.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        h.stat("init/check-passed"),
        3,
        "one session and two replacements"
    );
}

#[tokio::test]
async fn cookie_mode_keeps_the_session_in_cookies() {
    let h = Harness::new(SessionSettings {
        cookie_mode: true,
        ..one()
    })
    .await;
    let response = h.get("https://session-required.example/").await;
    assert!(
        !response.body.contains("\"statusCode\":403"),
        "{}",
        response.body
    );
    assert_eq!(
        h.created("session-required.example"),
        0,
        "no Zyte API session"
    );
    assert_eq!(h.stat("init/check-passed"), 1);
    assert_eq!(h.stat("use/check-passed"), 1);
}

#[tokio::test]
async fn stats_have_the_reference_names_and_values() {
    let h = Harness::with(one(), banned_after(2)).await;
    h.get("https://banned.example/1").await;
    h.get("https://banned.example/2").await;
    let mut r = get("https://example.com/");
    r.controls.enabled = Some(false);
    h.send(r).await.expect("a response");
    for (key, want) in [
        ("init/check-passed", 2),
        ("use/check-passed", 2),
        ("use/failed", 1),
        ("use/disabled", 1),
    ] {
        assert_eq!(h.stat(key), want, "{key}");
    }
    assert_eq!(h.raw_stat("retry/count"), 1);
    let per_pool = Harness::new(SessionSettings {
        stats_per_pool: true,
        ..one()
    })
    .await;
    per_pool.get("https://example.com/").await;
    assert_eq!(per_pool.stat("pools/example.com/init/check-passed"), 1);
    assert_eq!(per_pool.stat("init/check-passed"), 0);
}
