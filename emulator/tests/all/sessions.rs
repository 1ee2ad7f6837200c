//! Session behaviour seen by a client, with server-side facts read from the stats.

use std::time::Duration;

use serde_json::json;

use crate::support::{emulator, extract_json, new_session};

#[tokio::test]
async fn exactly_the_sessions_a_client_creates_are_counted() {
    let emulator = emulator().await;
    for _ in 0..8 {
        let session = new_session();
        for _ in 0..2 {
            let body = json!({"url": "https://example.com/", "httpResponseBody": true, "session": session});
            assert_eq!(extract_json(&emulator, &body).await.0, 200);
        }
    }
    let site = emulator.stats().site("example.com");
    assert_eq!((site.sessions_created, site.session_uses), (8, 16));
    assert_eq!(emulator.stats().sessions.len(), 8);
}

#[tokio::test]
async fn sessions_expire_after_15_minutes_on_the_emulated_clock() {
    let emulator = emulator().await;
    let session = new_session();
    let body = json!({"url": "https://example.com/", "browserHtml": true, "session": session});
    // Used every 100 s (never idle for 2 min) at 0, 100, ..., 800 s; at 900 s the 15-minute
    // lifetime is over.
    for _ in 0..9 {
        assert_eq!(extract_json(&emulator, &body).await.0, 200);
        emulator.clock().advance(Duration::from_secs(100));
    }
    let (status, problem) = extract_json(&emulator, &body).await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (422, Some("/problem/session-expired"))
    );
    let stats = emulator.stats();
    assert_eq!(stats.site("example.com").expiries, 1);
    assert_eq!(
        stats.sessions[0].expiry_reason,
        Some(zyte_emulator::sessions::ExpiryReason::Lifetime)
    );
}

#[tokio::test]
async fn csrf_protected_pages_need_the_session_token() {
    let emulator = emulator().await;
    let session = new_session();
    let (_, init) = extract_json(
        &emulator,
        &json!({"url": "https://csrf.example/", "browserHtml": true, "session": session}),
    )
    .await;
    let html = init["browserHtml"].as_str().unwrap_or_default();
    let token = html
        .split("value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_default()
        .to_owned();
    let search = |headers: serde_json::Value| {
        json!({"url": "https://csrf.example/search?q=x", "httpResponseBody": true, "session": session,
               "customHttpRequestHeaders": headers})
    };
    let (_, with_token) = extract_json(
        &emulator,
        &search(json!([{"name": "x-csrf-token", "value": token}])),
    )
    .await;
    assert_eq!(with_token["statusCode"], 200);
    let (_, without) = extract_json(&emulator, &search(json!([]))).await;
    assert_eq!(without["statusCode"], 403);
}

#[tokio::test]
async fn set_location_results_have_the_shapes_session_managers_check() {
    let emulator = emulator().await;
    let init = |url: &str, code: &str| {
        json!({"url": url, "browserHtml": true, "session": new_session(),
               "actions": [{"action": "setLocation", "address": {"postalCode": code}}, {"action": "scrollBottom"}]})
    };
    let (_, ok) = extract_json(
        &emulator,
        &init("https://postal-code-10001.example/", "10001"),
    )
    .await;
    assert_eq!(ok["actions"][0]["status"], "success");
    assert!(ok["actions"][0]["elapsedTime"].is_f64());
    let (_, wrong) = extract_json(
        &emulator,
        &init("https://postal-code-10001.example/", "94105"),
    )
    .await;
    assert_eq!(
        wrong["actions"][0],
        json!({"action": "setLocation", "elapsedTime": wrong["actions"][0]["elapsedTime"],
                                          "status": "returned", "error": "Action setLocation failed"})
    );
    assert_eq!(wrong["actions"][1]["status"], "notExecuted");
    let (status, unsupported) = extract_json(
        &emulator,
        &init("https://no-location-support.example/", "10001"),
    )
    .await;
    assert_eq!(status, 200);
    let error = unsupported["actions"][0]["error"]
        .as_str()
        .unwrap_or_default();
    assert!(
        error.starts_with("Action setLocation not supported "),
        "{error}"
    );
    assert_eq!(
        error,
        "Action setLocation not supported on no-location-support.example"
    );
}

#[tokio::test]
async fn session_required_sites_need_a_session() {
    let emulator = emulator().await;
    let url = "https://session-required.example/";
    let (_, anonymous) = extract_json(&emulator, &json!({"url": url, "browserHtml": true})).await;
    assert_eq!(anonymous["statusCode"], 403);
    let (_, member) = extract_json(
        &emulator,
        &json!({"url": url, "browserHtml": true, "session": new_session()}),
    )
    .await;
    assert_eq!(member["statusCode"], 200);
}

#[tokio::test]
async fn a_time_scale_expires_idle_sessions_in_real_milliseconds() {
    // 600× real time: the 2-minute idle limit passes in 200 ms.
    let config = zyte_emulator::EmulatorConfig {
        time_scale: 600.0,
        ..Default::default()
    };
    let emulator = zyte_emulator::start(config).await.expect("starts");
    let body =
        json!({"url": "https://example.com/", "browserHtml": true, "session": new_session()});
    assert_eq!(extract_json(&emulator, &body).await.0, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, problem) = extract_json(&emulator, &body).await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (422, Some("/problem/session-expired"))
    );
    assert_eq!(
        emulator.stats().sessions[0].expiry_reason,
        Some(zyte_emulator::sessions::ExpiryReason::Idle)
    );
    emulator.shutdown().await;
}
