//! Pool ids and options (reference 4.2, 4.3, 5.2, 5.4): param pools, location pools, explicit
//! pools, options frozen at first sight, and the first `size` requests creating sessions.

use std::collections::BTreeSet;

use session_host::settings::SessionSettings;

use super::harness::{Harness, get, pool, pool_of, postal, session_of, settings};

fn one() -> SessionSettings {
    SessionSettings {
        pool_size: 1,
        ..settings()
    }
}

#[tokio::test]
async fn param_pools_are_numbered_per_netloc_in_order_of_first_sight() {
    let h = Harness::new(one()).await;
    let mut ids = Vec::new();
    for (url, params) in [
        ("https://example.com/", r#"{"browserHtml": true}"#),
        (
            "https://example.com/",
            r#"{"browserHtml": true, "screenshot": true}"#,
        ),
        (
            "https://example.com/x",
            r#"{"screenshot": true, "browserHtml": true}"#,
        ),
        (
            "https://other.example/",
            r#"{"browserHtml": true, "screenshot": true}"#,
        ),
    ] {
        let mut r = get(url);
        r.controls.params = Some(params.into());
        ids.push(pool_of(&h.send(r).await.expect("a response")));
    }
    // Param-set identity is canonical JSON: key order does not matter.
    assert_eq!(
        ids,
        [
            "example.com[0]",
            "example.com[1]",
            "example.com[1]",
            "other.example[0]"
        ]
    );
}

#[tokio::test]
async fn location_pools_are_named_by_their_fields_and_init_with_set_location() {
    let h = Harness::new(one()).await;
    let mut r = get("https://postal-code-10001.example/");
    r.controls.location = Some(postal("10001"));
    let response = h.send(r).await.expect("a response");
    assert_eq!(pool_of(&response), "postal-code-10001.example@10001");
    assert_eq!(h.stat("init/check-passed"), 1);
    assert!(
        response.body.contains("10001"),
        "the location took: {}",
        response.body
    );
}

#[tokio::test]
async fn an_explicit_pool_beats_params_and_location() {
    let h = Harness::new(one()).await;
    let mut r = get("https://postal-code-10001.example/");
    r.controls.location = Some(postal("10001"));
    r.controls.params = Some(r#"{"browserHtml": true}"#.into());
    r.controls.pool = Some(pool("mine", None, None, None));
    assert_eq!(
        pool_of(&h.send(r.clone()).await.expect("a response")),
        "mine"
    );
    r.controls.pool = None;
    assert_eq!(
        pool_of(&h.send(r.clone()).await.expect("a response")),
        "postal-code-10001.example[0]",
        "params beat location"
    );
    r.controls.params = None;
    assert_eq!(
        pool_of(&h.send(r).await.expect("a response")),
        "postal-code-10001.example@10001"
    );
}

#[tokio::test]
async fn pool_options_are_frozen_at_first_sight() {
    let h = Harness::new(settings()).await;
    for size in [2, 5, 5, 5, 5] {
        let mut r = get("https://example.com/");
        r.controls.pool = Some(pool("frozen", Some(size), Some(0.0), None));
        h.send(r).await.expect("a response");
    }
    assert_eq!(h.created("example.com"), 2, "later sizes are ignored");
}

#[tokio::test]
async fn the_first_size_requests_each_create_a_session_then_rotate() {
    let h = Harness::new(SessionSettings {
        pool_size: 3,
        ..settings()
    })
    .await;
    let mut used = BTreeSet::new();
    for i in 0..9 {
        used.insert(session_of(
            &h.get(&format!("https://example.com/{i}")).await,
        ));
    }
    assert_eq!(h.created("example.com"), 3);
    assert_eq!(used.len(), 3, "all three rotate");
}
