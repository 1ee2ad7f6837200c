//! Refresh on errors, expiry and failed checks; proactive retirement; retries; cookie mode;
//! guest configs through the engine (reference 5.5–5.13).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use session_host::engine::{EngineError, EngineRequest};
use session_host::settings::SessionSettings;

use super::harness::{Harness, get, postal, s, session_of, settings, status_code};
use crate::support;

fn one() -> SessionSettings {
    SessionSettings {
        pool_size: 1,
        ..settings()
    }
}

#[tokio::test]
async fn a_ban_replaces_the_session_and_retries_the_request() {
    let h = Harness::new(one()).await;
    let first = session_of(&h.get("https://example.com/").await);
    for _ in 0..12 {
        h.get("https://example.com/").await;
    }
    let last = h.get("https://example.com/").await;
    assert_ne!(
        session_of(&last),
        first,
        "the 13th use was banned, then retried"
    );
    assert_eq!(h.created("example.com"), 2);
    assert_eq!(h.stat(&s("use/failed")), 1);
    assert_eq!(h.stat("retry/reason_count/download_error"), 1);
}

#[tokio::test]
async fn max_errors_tolerates_errors_per_session() {
    let h = Harness::new(SessionSettings {
        max_errors: 2,
        ..one()
    })
    .await;
    for _ in 0..13 {
        h.get("https://example.com/").await;
    }
    assert_eq!(
        h.stat(&s("use/failed")),
        2,
        "the session was kept after one 520"
    );
    assert_eq!(h.created("example.com"), 2);
}

/// A site whose sessions are banned from their second use on.
const BANNED: &str = r#"
[[site]]
domain = "banned.example"
ban = { after_uses = 1 }

[[site.page]]
path = "*"
template = "<html>{{path}}</html>"
"#;

#[tokio::test]
async fn download_errors_spend_the_retry_budget() {
    let h = Harness::with_toml(one(), BANNED).await;
    let error = h.send(get("https://banned.example/")).await.unwrap_err();
    assert!(
        matches!(&error, EngineError::Upstream { error, .. } if error.status() == Some(520)),
        "{error:?}"
    );
    assert_eq!(h.stat(&s("use/failed")), 3, "retry_times = 2");
    assert_eq!(h.stat("retry/max_reached"), 1);
    assert_eq!(h.stat("retry/count"), 2);
    let h = Harness::with_toml(
        SessionSettings {
            retry_times: 0,
            ..one()
        },
        BANNED,
    )
    .await;
    h.send(get("https://banned.example/")).await.unwrap_err();
    let site = h.emulator.stats().site("banned.example");
    assert_eq!(site.requests.total, 2, "init + 1 use");
}

#[tokio::test]
async fn inits_that_fail_count_as_bad_inits() {
    let h = Harness::new(SessionSettings {
        max_bad_inits: 3,
        ..one()
    })
    .await;
    let error = h.send(get("https://e520.example/")).await.unwrap_err();
    assert!(matches!(error, EngineError::PoolClosed { .. }), "{error:?}");
    assert_eq!(h.stat(&s("init/failed")), 3);
    assert_eq!(
        h.emulator.stats().site("e520.example").requests.total,
        3,
        "one attempt each"
    );
}

#[tokio::test]
async fn an_expired_session_is_replaced() {
    let h = Harness::new(SessionSettings {
        retire_before_idle: -1.0,
        ..one()
    })
    .await;
    let first = session_of(&h.get("https://example.com/").await);
    h.emulator.clock().advance(Duration::from_secs(121));
    let second = session_of(&h.get("https://example.com/").await);
    assert_ne!(first, second);
    assert_eq!(h.stat(&s("use/expired")), 1);
    assert_eq!(h.stat("retry/reason_count/session_expired"), 1);
}

#[tokio::test]
async fn sessions_are_retired_before_zyte_expires_them() {
    let h = Harness::new(one()).await;
    let first = session_of(&h.get("https://example.com/").await);
    h.emulator.clock().advance(Duration::from_secs(120));
    h.engine.clock().advance(Duration::from_secs(120));
    let second = session_of(&h.get("https://example.com/").await);
    assert_ne!(first, second);
    assert_eq!(
        h.stat(&s("use/expired")),
        0,
        "no attempt burnt on an expired session"
    );
    let pools = h.pools().await;
    let retired = &pools[0].retired[0];
    assert_eq!(
        retired.retired_because.as_deref(),
        Some("proactive: idle limit")
    );
    assert!(
        retired.history.iter().any(|e| e.ends_with("init passed")),
        "{retired:?}"
    );
}

#[tokio::test]
async fn failed_checks_retry_with_new_sessions_then_give_up() {
    let h = Harness::new(one()).await;
    let body = json!({"url": "https://postal-code-10001.example/", "browserHtml": true,
        "actions": [{"action": "setLocation", "address": {"postalCode": "94105"}}]});
    let mut r = EngineRequest::new(body.as_object().cloned().unwrap());
    r.controls.location = Some(postal("10001"));
    let error = h.send(r).await.unwrap_err();
    assert!(
        matches!(error, EngineError::GaveUp { attempts: 3, .. }),
        "{error:?}"
    );
    assert_eq!(h.stat(&s("use/check-failed")), 3);
    assert_eq!(h.stat("retry/reason_count/session_expired"), 2);
    assert_eq!(h.stat("retry/max_reached"), 1);
}

#[tokio::test]
async fn cookie_mode_carries_the_session_in_cookies() {
    let h = Harness::new(one()).await;
    for _ in 0..3 {
        let mut r = get("https://session-required.example/");
        r.controls.cookie_mode = Some(true);
        let response = h.send(r).await.unwrap();
        assert_eq!(status_code(&response), 200, "{}", response.body);
    }
    assert_eq!(
        h.created("session-required.example"),
        0,
        "no Zyte API session"
    );
    let site = h.emulator.stats().site("session-required.example");
    assert_eq!(site.requests.total, 4, "one init and three uses");
    let mut plain = get("https://session-required.example/");
    plain.controls.enabled = Some(false);
    assert_eq!(status_code(&h.send(plain).await.unwrap()), 403);
}

#[tokio::test]
async fn the_csrf_guest_runs_through_the_engine() {
    let h = Harness::new(SessionSettings {
        pool_size: 2,
        ..settings()
    })
    .await;
    h.configs(vec![Arc::new(support::example("csrf-token").await)]);
    for i in 0..4 {
        let r = h.get(&format!("https://csrf.example/search?q={i}")).await;
        assert_eq!(status_code(&r), 200, "the token was added: {}", r.body);
        assert_eq!(r.served_by.unwrap().config, "csrf-token");
    }
    assert_eq!(h.created("csrf.example"), 2);
    assert_eq!(
        h.get("https://example.com/")
            .await
            .served_by
            .unwrap()
            .config,
        "default"
    );
}

#[tokio::test]
async fn the_location_guest_runs_through_the_engine() {
    let h = Harness::new(one()).await;
    h.configs(vec![Arc::new(support::example("location").await)]);
    let r = h.get("https://postal-code-10001.example/products").await;
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let html = String::from_utf8(
        base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            body["httpResponseBody"].as_str().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(html.contains("Delivering to 10001"), "{html}");
    assert_eq!(r.served_by.unwrap().config, "location");
}

#[tokio::test]
async fn max_check_failures_keeps_the_session_until_reached() {
    let h = Harness::new(SessionSettings {
        max_check_failures: 3,
        ..one()
    })
    .await;
    let body = json!({"url": "https://postal-code-10001.example/", "browserHtml": true,
        "actions": [{"action": "setLocation", "address": {"postalCode": "94105"}}]});
    let mut r = EngineRequest::new(body.as_object().cloned().unwrap());
    r.controls.location = Some(postal("10001"));
    h.send(r).await.unwrap_err();
    let pool = &h.pools().await[0];
    assert_eq!(pool.retired.len(), 1, "replaced once, at the third failure");
    assert_eq!(pool.retired[0].check_failures, 3);
    assert_eq!(
        pool.retired[0].retired_because.as_deref(),
        Some("check failed")
    );
}
