//! Closed pools and request errors (reference 5.6, 5.12, section 9).

use std::sync::Arc;
use std::time::Duration;

use session_host::engine::EngineError;
use session_host::settings::SessionSettings;

use super::harness::{Harness, get, pool, postal, s, settings};
use crate::{guests, support};

fn closed_reason(error: EngineError) -> String {
    match error {
        EngineError::PoolClosed { reason, .. } => reason,
        other => panic!("expected a closed pool, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_inits_close_the_pool_until_it_is_reopened() {
    let h = Harness::new(SessionSettings {
        max_bad_inits: 2,
        pool_size: 1,
        ..settings()
    })
    .await;
    let mut r = get("https://postal-code-10001.example/");
    r.controls.location = Some(postal("94105"));
    let error = h.send(r.clone()).await.unwrap_err();
    assert_eq!(closed_reason(error), "bad_session_inits");
    assert_eq!(h.stat(&s("init/check-failed")), 2);
    let sent = h.emulator.stats().requests.total;
    let error = h.send(r.clone()).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("postal-code-10001.example@94105"),
        "{error}"
    );
    assert_eq!(
        h.emulator.stats().requests.total,
        sent,
        "closed pools fail fast"
    );
    h.get("https://example.com/").await;
    assert!(
        h.engine
            .reopen_pool("postal-code-10001.example@94105")
            .await
    );
    assert_eq!(
        closed_reason(h.send(r).await.unwrap_err()),
        "bad_session_inits"
    );
    assert_eq!(h.stat(&s("init/check-failed")), 4);
}

#[tokio::test]
async fn unsupported_set_location_closes_only_its_pool() {
    let h = Harness::new(settings()).await;
    let mut r = get("https://no-location-support.example/");
    r.controls.location = Some(postal("10001"));
    assert_eq!(
        closed_reason(h.send(r).await.unwrap_err()),
        "unsupported_set_location"
    );
    let pools = h.pools().await;
    assert_eq!(pools[0].closed.as_deref(), Some("unsupported_set_location"));
    h.get("https://example.com/").await;
}

#[tokio::test]
async fn a_failing_pool_hook_closes_the_netloc_pool_with_pool_error() {
    let h = Harness::new(settings()).await;
    // This guest's pool hook traps.
    let guest = support::load("broken", guests::guest(&[], None))
        .await
        .unwrap();
    h.configs(vec![Arc::new(guest)]);
    let error = h.send(get("https://example.com/")).await.unwrap_err();
    assert_eq!(closed_reason(error), "pool_error");
    h.configs(Vec::new());
    assert!(
        h.pools().await[0].closed.is_none(),
        "a new config set reopens"
    );
    h.get("https://example.com/").await;
}

#[tokio::test]
async fn an_empty_pool_gives_up_with_a_clear_error() {
    let h = Harness::new(SessionSettings {
        queue_max_attempts: 3,
        queue_wait_time: 0.05,
        ..settings()
    })
    .await;
    let mut r = get("https://example.com/");
    r.controls.pool = Some(pool("empty", Some(0)));
    let started = std::time::Instant::now();
    let error = h.send(r).await.unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(100));
    assert!(matches!(&error, EngineError::NoSession { pool, .. } if pool == "client/empty"));
    assert!(
        error.to_string().starts_with("Could not get a session"),
        "{error}"
    );
}

#[tokio::test]
async fn bad_input_is_rejected() {
    let h = Harness::new(settings()).await;
    let no_url = session_host::engine::EngineRequest::new(serde_json::Map::new());
    assert!(matches!(
        h.send(no_url).await,
        Err(EngineError::BadInput(_))
    ));
    let mut bad_params = get("https://example.com/");
    bad_params.controls.params = Some("[1]".into());
    assert!(matches!(
        h.send(bad_params).await,
        Err(EngineError::BadInput(_))
    ));
}

#[tokio::test]
async fn over_the_session_limit_inits_wait_and_are_not_counted() {
    let scenario = "[policy]\nmax_active_sessions = 1\n";
    let h = Harness::with_toml(
        SessionSettings {
            pool_size: 2,
            max_bad_inits: 1,
            ..settings()
        },
        scenario,
    )
    .await;
    h.get("https://example.com/").await;
    let engine = h.engine.clone();
    let second = tokio::spawn(async move { engine.execute(get("https://example.com/")).await });
    while h.stat(&s("init/over-limit")) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    h.emulator.clock().advance(Duration::from_secs(16 * 60));
    second.await.unwrap().unwrap();
    assert_eq!(h.stat(&s("init/check-passed")), 2);
    assert!(
        h.pools().await[0].closed.is_none(),
        "over-limit is not a bad init"
    );
}

#[tokio::test]
async fn failed_inits_back_off() {
    let h = Harness::new(SessionSettings {
        max_bad_inits: 3,
        init_failure_backoff: 0.05,
        ..settings()
    })
    .await;
    let started = std::time::Instant::now();
    let error = h.send(get("https://e520.example/")).await.unwrap_err();
    assert_eq!(closed_reason(error), "bad_session_inits");
    // 0.05 s after the first failure, 0.1 s after the second; the third closes the pool.
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "{:?}",
        started.elapsed()
    );
}

/// A guest whose hooks all answer (without downloading), and whose `check` is `check_body`.
async fn guest_checking_with(name: &str, check_body: &str) -> session_host::plugin::GuestConfig {
    use guests::body;
    let (zeros, pool, init) = (body::zeros(), body::pool_ok(), body::init_ok());
    let hooks = [
        ("cookie-mode", zeros.as_str()),
        ("pool", pool.as_str()),
        ("location", zeros.as_str()),
        ("init-session", init.as_str()),
        ("process-request", zeros.as_str()),
        ("check", check_body),
    ];
    support::load(name, guests::guest(&hooks, None))
        .await
        .expect("the guest loads")
}

#[tokio::test]
async fn a_guest_close_reason_closes_its_pool_and_fails_fast() {
    // Reference section 9: a CloseSpider(reason) raised by check() closes with that reason;
    // here it closes the guest's pool only.
    let h = Harness::new(settings()).await;
    let guest = guest_checking_with("closer", &guests::body::close_pool()).await;
    h.configs(vec![Arc::new(guest)]);
    let error = h.send(get("https://example.com/a")).await.unwrap_err();
    assert_eq!(closed_reason(error), guests::CLOSE_REASON);
    let uses = h.emulator.stats().site("example.com").session_uses;
    let error = h.send(get("https://example.com/b")).await.unwrap_err();
    assert_eq!(closed_reason(error), guests::CLOSE_REASON);
    assert_eq!(
        h.emulator.stats().site("example.com").session_uses,
        uses,
        "a closed pool fails fast, sending nothing"
    );
    let pools = h.pools().await;
    assert_eq!(
        pools
            .iter()
            .find(|p| p.id == guests::POOL_ID)
            .and_then(|p| p.closed.as_deref()),
        Some(guests::CLOSE_REASON)
    );
    assert!(
        h.engine.reopen_pool(guests::POOL_ID).await,
        "an operator can reopen it"
    );
}

#[tokio::test]
async fn a_guest_check_error_replaces_the_session_at_once() {
    // Reference 5.9: an exception in check() counts use/check-error and refreshes the session
    // immediately, whatever max_check_failures says; the request is retried with another one.
    let settings = SessionSettings {
        max_check_failures: 5,
        ..settings()
    };
    let h = Harness::new(settings).await;
    let guest = guest_checking_with("erring", &guests::body::check_err()).await;
    h.configs(vec![Arc::new(guest)]);
    let outcome = h.send(get("https://example.com/")).await;
    assert!(
        outcome.is_err(),
        "every check fails, so the retries run out: {outcome:?}"
    );
    let errors = h.stat(&s("use/check-error"));
    assert_eq!(errors, 3, "the first attempt and retry_times (2) retries");
    let pool = h
        .pools()
        .await
        .into_iter()
        .find(|p| p.id == guests::POOL_ID)
        .expect("the pool");
    assert!(
        pool.retired.len() >= 2,
        "each failing session is retired at once: {pool:?}"
    );
    assert!(
        pool.retired.iter().all(|r| r
            .retired_because
            .as_deref()
            .is_some_and(|w| w.contains(guests::CHECK_ERROR))),
        "{pool:?}"
    );
}
