//! Pool ids, pool options and the initial creations (reference 4.2, 4.3, 5.2, 5.4).

use std::collections::BTreeSet;

use session_host::settings::{PoolOptions, SessionSettings};

use super::harness::{Harness, get, pool, postal, s, session_of, settings};

#[tokio::test]
async fn the_first_size_requests_each_create_a_session_then_rotate() {
    let h = Harness::new(SessionSettings {
        pool_size: 2,
        ..settings()
    })
    .await;
    let mut used = BTreeSet::new();
    for _ in 0..6 {
        used.insert(session_of(&h.get("https://example.com/p").await));
    }
    assert_eq!(h.created("example.com"), 2);
    assert_eq!(used.len(), 2, "both sessions rotate");
    assert_eq!(h.stat(&s("init/check-passed")), 2);
    assert_eq!(h.stat(&s("use/check-passed")), 6);
}

#[tokio::test]
async fn initial_creations_run_concurrently() {
    let h = Harness::new(SessionSettings {
        pool_size: 3,
        ..settings()
    })
    .await;
    let requests = (0..3).map(|i| h.send(get(&format!("https://example.com/{i}"))));
    for r in futures::future::join_all(requests).await {
        r.unwrap();
    }
    assert_eq!(h.created("example.com"), 3);
}

#[tokio::test]
async fn pool_ids_follow_the_reference_precedence() {
    let h = Harness::new(SessionSettings {
        pool_size: 1,
        ..settings()
    })
    .await;
    let served = |r: &session_host::engine::EngineResponse| r.served_by.clone().unwrap().pool;
    assert_eq!(served(&h.get("https://example.com/").await), "example.com");

    let mut params = get("https://example.com/");
    params.controls.params = Some(r#"{"browserHtml": true}"#.into());
    assert_eq!(
        served(&h.send(params.clone()).await.unwrap()),
        "example.com[0]"
    );
    params.controls.params = Some(r#"{"browserHtml": true, "screenshot": true}"#.into());
    assert_eq!(
        served(&h.send(params.clone()).await.unwrap()),
        "example.com[1]"
    );

    let mut located = get("https://postal-code-10001.example/");
    located.controls.location = Some(postal("10001"));
    let r = h.send(located.clone()).await.unwrap();
    assert_eq!(served(&r), "postal-code-10001.example@10001");

    located.controls.pool = Some(pool("mine", None));
    assert_eq!(
        served(&h.send(located).await.unwrap()),
        "client/mine",
        "pool beats location"
    );
    let ids: Vec<_> = h.pools().await.into_iter().map(|p| p.id).collect();
    assert_eq!(ids.len(), 5, "{ids:?}");
}

#[tokio::test]
async fn options_are_frozen_at_first_sight_and_presets_win() {
    let mut settings = SessionSettings {
        pool_size: 5,
        ..settings()
    };
    // A request-named pool is `client/ID` (issue 13): its preset is keyed so.
    settings.pools.insert(
        "client/preset".into(),
        PoolOptions {
            size: Some(1),
            ..PoolOptions::default()
        },
    );
    let h = Harness::new(settings).await;
    assert_eq!(
        h.pools().await[0].id,
        "client/preset",
        "preset pools exist from the start"
    );
    for size in [1, 3, 3] {
        let mut r = get("https://example.com/");
        r.controls.pool = Some(pool("frozen", Some(size)));
        h.send(r).await.unwrap();
    }
    for _ in 0..3 {
        let mut r = get("https://other.example/");
        r.controls.pool = Some(pool("preset", Some(4)));
        h.send(r).await.unwrap();
    }
    assert_eq!(h.created("example.com"), 1, "later sizes are ignored");
    assert_eq!(
        h.created("other.example"),
        1,
        "the preset size beats the control"
    );
}

#[tokio::test]
async fn disabled_requests_are_forwarded_as_they_are() {
    let h = Harness::new(settings()).await;
    let mut r = get("https://example.com/");
    r.controls.enabled = Some(false);
    let response = h.send(r).await.unwrap();
    assert!(response.served_by.is_none());
    assert_eq!(h.created("example.com"), 0);
    assert_eq!(h.stat(&s("use/disabled")), 1);
}

#[tokio::test]
async fn stats_can_be_per_pool() {
    let h = Harness::new(SessionSettings {
        stats_per_pool: true,
        pool_size: 1,
        ..settings()
    })
    .await;
    h.get("https://example.com/").await;
    assert_eq!(h.stat(&s("pools/example.com/use/check-passed")), 1);
    assert_eq!(h.stat(&s("pools/example.com/init/check-passed")), 1);
    assert_eq!(h.stat(&s("use/check-passed")), 0);
}

#[tokio::test]
async fn execute_can_be_spawned() {
    fn spawnable<T: Send + 'static>(_: &T) {}
    let h = Harness::new(settings()).await;
    let engine = h.engine.clone();
    let future = async move { engine.execute(get("https://example.com/")).await };
    spawnable(&future);
    tokio::spawn(future).await.unwrap().unwrap();
}
