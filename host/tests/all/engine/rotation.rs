//! Delays and bounded concurrency (reference 5.5, 5.6 and improvements).

use std::time::{Duration, Instant};

use session_host::settings::SessionSettings;

use super::harness::{Harness, get, settings};

#[tokio::test]
async fn the_pool_delay_spaces_uses_of_a_session() {
    let h = Harness::new(SessionSettings {
        pool_size: 1,
        delay: 0.15,
        ..settings()
    })
    .await;
    let started = Instant::now();
    for _ in 0..3 {
        h.get("https://example.com/").await;
    }
    // Init, then the delay before the first use; then uses at least 0.15 s apart.
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn concurrent_use_of_a_session_is_bounded() {
    let h = Harness::new(SessionSettings {
        pool_size: 1,
        max_session_concurrency: 1,
        ..settings()
    })
    .await;
    h.get("https://example.com/").await;
    let requests = (0..4).map(|i| h.send(get(&format!("https://example.com/{i}"))));
    for r in futures::future::join_all(requests).await {
        r.unwrap();
    }
    assert_eq!(h.created("example.com"), 1);
    let pool = &h.pools().await[0];
    assert_eq!(pool.sessions[0].uses, 5);
    assert_eq!(pool.sessions[0].in_flight, 0);
}

#[tokio::test]
async fn concurrent_failures_replace_a_session_once() {
    let h = Harness::new(SessionSettings {
        pool_size: 1,
        ..settings()
    })
    .await;
    for _ in 0..11 {
        h.get("https://example.com/").await;
    }
    // Uses 13 to 15 of the session are banned: three concurrent 520s on one session.
    let requests = (0..3).map(|i| h.send(get(&format!("https://example.com/{i}"))));
    for r in futures::future::join_all(requests).await {
        r.unwrap();
    }
    assert_eq!(h.stat("scrapy-zyte-api/sessions/use/failed"), 3);
    assert_eq!(h.created("example.com"), 2, "one replacement");
    assert_eq!(h.pools().await[0].retired.len(), 1);
}
