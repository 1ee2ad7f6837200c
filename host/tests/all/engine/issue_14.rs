//! Regression tests of issue 14: session delays kept as the reference keeps them (reference
//! 5.5, 5.11), pool presets that do not freeze a later spec's delay, and the deprecated
//! `pool_sizes` setting honoured. Real time, with delays short enough to keep each test under
//! a second, and bounds tight enough that the old timing fails them.

use std::time::{Duration, Instant};

use session_host::plugin::PoolSpec;
use session_host::settings::{PoolOptions, SessionSettings};

use super::harness::{Harness, get, settings};

const DELAY: f64 = 0.3;

fn delayed() -> SessionSettings {
    SessionSettings {
        pool_size: 1,
        delay: DELAY,
        ..settings()
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

#[tokio::test]
async fn issue_14_a_waiting_request_does_not_share_the_first_use() {
    let h = Harness::new(delayed()).await;
    let started = Instant::now();
    let first = async {
        h.get("https://example.com/a").await;
        started.elapsed()
    };
    let second = async {
        // Starts while the first request is creating the pool's only session.
        tokio::time::sleep(Duration::from_millis(20)).await;
        h.get("https://example.com/b").await;
        started.elapsed()
    };
    let (a, b) = tokio::join!(first, second);
    // Init, `first` delay, use 1; then the `next` delay, use 2. The old code queued the session
    // at init + `next`, so use 2 followed use 1 within milliseconds.
    let gap = secs(b) - secs(a);
    assert!(
        gap >= DELAY - 0.02,
        "uses {a:?} and {b:?} are {gap} s apart"
    );
    assert!(secs(b) < 2.0 * DELAY + 0.3, "second use at {b:?}");
}

#[tokio::test]
async fn issue_14_a_replacement_waits_its_first_delay_too() {
    // Every use of a session after its first is banned, so request 2 replaces session 1.
    let scenario = "[[site]]\ndomain = \"example.com\"\nban = { after_uses = 2 }\n\
                    [[site.page]]\npath = \"*\"\ntemplate = \"<html>{{path}}</html>\"\n";
    let h = Harness::with_toml(delayed(), scenario).await;
    h.get("https://example.com/1").await;
    let started = Instant::now();
    let r = h.send(get("https://example.com/2")).await;
    let took = started.elapsed();
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(h.created("example.com"), 2, "one replacement");
    // The `next` delay of session 1, then the replacement's init, `first` and `next` delays
    // (reference 5.11: it is queued after `delay`, at that time plus `delay`). The old code
    // handed the replacement out one delay early.
    assert!(secs(took) >= 3.0 * DELAY - 0.03, "request 2 took {took:?}");
    assert!(secs(took) < 3.0 * DELAY + 0.4, "request 2 took {took:?}");
}

#[tokio::test]
async fn issue_14_a_size_preset_does_not_freeze_the_pool_delay() {
    let mut s = settings();
    let size = PoolOptions {
        size: Some(1),
        ..PoolOptions::default()
    };
    // A request-named pool is `client/ID` (issue 13): its preset is keyed so.
    s.pools.insert("client/preset".into(), size);
    let h = Harness::new(s).await;
    let mut r = get("https://example.com/");
    r.controls.pool = Some(PoolSpec {
        id: "preset".into(),
        size: Some(5),
        delay: Some(DELAY),
        randomize_delay: None,
    });
    h.send(r).await.unwrap();
    let pool = &h.pools().await[0];
    assert_eq!(
        (pool.size, pool.delay),
        (1, DELAY),
        "preset size, spec delay"
    );
}

#[tokio::test]
async fn issue_14_deprecated_pool_sizes_are_honoured() {
    let s = SessionSettings::from_toml_str(
        "enabled = true\npool_sizes = { a = 2, b = 3 }\n[pools.b]\nsize = 1\n",
    )
    .expect("the deprecated setting is accepted");
    let h = Harness::new(s).await;
    let mut sizes: Vec<_> = h
        .pools()
        .await
        .into_iter()
        .map(|p| (p.id, p.size))
        .collect();
    sizes.sort();
    // `pools` wins over `pool_sizes`, as `setdefault` does in the reference.
    assert_eq!(sizes, [("a".into(), 2), ("b".into(), 1)]);
}

#[tokio::test]
async fn issue_14_cookie_mode_sessions_are_not_retired_for_zyte_api_expiry() {
    // A cookie-mode session is a local cookie jar: Zyte API's idle limit does not apply to it.
    let h = Harness::new(SessionSettings {
        cookie_mode: true,
        pool_size: 1,
        ..settings()
    })
    .await;
    let id = |r: &session_host::engine::EngineResponse| r.served_by.clone().unwrap().session_id;
    let first = id(&h.get("https://example.com/").await);
    h.emulator.clock().advance(Duration::from_secs(300));
    h.engine.clock().advance(Duration::from_secs(300));
    let second = id(&h.get("https://example.com/").await);
    assert_eq!(first, second, "the jar was kept");
}

#[tokio::test]
async fn issue_14_a_refresh_inits_with_the_request_process_request_returned() {
    use crate::guests::{self, body};
    // Reference 5.11: the replacement is created for the request that was sent, i.e. the one
    // `process-request` returned. The guest's `init-session` tells the two apart: it fails
    // with a param error when it sees the processed URL, and passes on the original one.
    let (process, init, check) = (
        body::process_to_url(),
        body::init_telling_processed(),
        body::check_err(),
    );
    let (zeros, pool) = (body::zeros(), body::pool_ok());
    let hooks = [
        ("cookie-mode", zeros.as_str()),
        ("pool", pool.as_str()),
        ("init-session", init.as_str()),
        ("process-request", process.as_str()),
        ("check", check.as_str()),
    ];
    let guest = crate::support::load("processing", guests::guest(&hooks, None))
        .await
        .expect("the guest loads");
    // One bad init closes the pool, so that the failing replacement is not tried again.
    let h = Harness::new(SessionSettings {
        pool_size: 1,
        retry_times: 0,
        max_bad_inits: 1,
        ..settings()
    })
    .await;
    h.configs(vec![std::sync::Arc::new(guest)]);
    let refused = h.send(get("https://example.com/original")).await;
    assert!(refused.is_err(), "the check errs: {refused:?}");
    // The check error refreshes the session: its replacement is created in the background.
    let started = Instant::now();
    let stat = |key: &str| h.stat(&super::harness::s(key));
    while stat("init/param-error") + stat("init/check-passed") < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "no replacement init"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(stat("init/check-passed"), 1, "the first init, original URL");
    assert_eq!(
        stat("init/param-error"),
        1,
        "the replacement's init saw {:?}",
        guests::PROCESSED_URL
    );
}
