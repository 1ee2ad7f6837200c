//! The HTTP surface: headers, content types, auth, limits, routing and introspection.

use serde_json::{Value, json};

use crate::support::{KEY, client, emulator, extract, extract_json};

fn is_request_id(value: Option<&reqwest::header::HeaderValue>) -> bool {
    value
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[tokio::test]
async fn every_response_has_a_request_id_and_the_right_content_type() {
    let emulator = emulator().await;
    let ok = extract(
        &emulator,
        &json!({"url": "https://example.com/", "browserHtml": true}),
    )
    .await;
    assert_eq!(ok.status(), 200);
    assert!(is_request_id(ok.headers().get("request-id")));
    assert_eq!(ok.headers()["content-type"], "application/json");
    let bad = extract(
        &emulator,
        &json!({"url": "https://example.com/", "browserHtml": true, "foo": 1}),
    )
    .await;
    assert!(is_request_id(bad.headers().get("request-id")));
    assert_eq!(bad.headers()["content-type"], "application/problem+json");
    let body: Value = bad.json().await.expect("problem");
    assert_eq!(
        body,
        json!({"type": "/request/invalid", "title": "Bad Request", "status": 400,
                            "detail": "Unrecognized field \"foo\""})
    );
    for (method, path, status) in [
        ("GET", "/v1/extract", 405),
        ("GET", "/nope", 404),
        ("GET", "/__emulator/stats", 200),
    ] {
        let url = format!("http://{}{path}", emulator.addr());
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let response = client()
            .request(method, url)
            .send()
            .await
            .expect("response");
        assert_eq!(response.status().as_u16(), status, "{path}");
        assert!(
            is_request_id(response.headers().get("request-id")),
            "{path}"
        );
    }
}

#[tokio::test]
async fn missing_auth_is_401_with_www_authenticate() {
    let emulator = emulator().await;
    let response = client()
        .post(format!("{}extract", emulator.base_url()))
        .json(&json!({"url": "https://example.com/", "browserHtml": true}))
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Basic realm=\"Zyte API\""
    );
    let body: Value = response.json().await.expect("problem");
    assert_eq!(body["type"], "/auth/not-valid");
}

#[tokio::test]
async fn restricted_keys_reject_others() {
    let config = zyte_emulator::EmulatorConfig {
        api_keys: vec!["ONLY".into()],
        time_scale: 0.0,
        ..Default::default()
    };
    let emulator = zyte_emulator::start(config).await.expect("starts");
    let (status, body) = extract_json(
        &emulator,
        &json!({"url": "https://example.com/", "browserHtml": true}),
    )
    .await;
    assert_eq!(
        (status, body["type"].as_str()),
        (401, Some("/auth/key-not-found"))
    );
    let ok = client()
        .post(format!("{}extract", emulator.base_url()))
        .basic_auth("ONLY", Some(""))
        .json(&json!({"url": "https://example.com/", "browserHtml": true}))
        .send()
        .await
        .expect("response");
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn bodies_over_5_mib_are_refused_and_invalid_json_is_located() {
    let emulator = emulator().await;
    let huge = format!(
        "{{\"url\": \"https://example.com/\", \"echoData\": \"{}\"}}",
        "a".repeat(5 * 1024 * 1024)
    );
    let response = client()
        .post(format!("{}extract", emulator.base_url()))
        .basic_auth(KEY, Some(""))
        .body(huge)
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 400);
    let response = client()
        .post(format!("{}extract", emulator.base_url()))
        .basic_auth(KEY, Some(""))
        .body("{\"url\": False}")
        .send()
        .await
        .expect("response");
    let body: Value = response.json().await.expect("problem");
    assert_eq!(body["type"], "/request/invalid-json");
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or("")
            .contains("line 1, column"),
        "{body}"
    );
}

#[tokio::test]
async fn incompatible_fields_are_422() {
    let emulator = emulator().await;
    let (status, body) = extract_json(
        &emulator,
        &json!({"url": "https://example.com/", "browserHtml": true, "httpResponseBody": true}),
    )
    .await;
    assert_eq!(
        (status, body["type"].as_str()),
        (422, Some("/request/unprocessable"))
    );
}

#[tokio::test]
async fn stats_and_reset_endpoints_work_over_http() {
    let emulator = emulator().await;
    extract(
        &emulator,
        &json!({"url": "https://example.com/", "browserHtml": true}),
    )
    .await;
    extract(
        &emulator,
        &json!({"url": "https://e521.example/", "browserHtml": true}),
    )
    .await;
    let stats_url = format!("http://{}/__emulator/stats", emulator.addr());
    let stats: zyte_emulator::StatsSnapshot = client()
        .get(&stats_url)
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("json");
    assert_eq!(stats.requests.total, 2);
    assert_eq!(
        stats
            .site("e521.example")
            .requests
            .problem("/download/internal-error"),
        1
    );
    assert_eq!(stats, emulator.stats());
    let reset = client()
        .post(format!("http://{}/__emulator/reset", emulator.addr()))
        .send()
        .await
        .expect("reset");
    assert_eq!(reset.status(), 200);
    assert_eq!(emulator.stats().requests.total, 0);
}

#[tokio::test]
async fn scenario_files_load_and_shape_the_sites() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("scenario.toml");
    std::fs::write(
        &path,
        "[[site]]\ndomain = \"custom.example\"\n[[site.page]]\npath = \"/\"\nstatus = 404\ntemplate = \"<p>gone {{host}}</p>\"\n",
    )
    .expect("write");
    let scenario = zyte_emulator::Scenario::from_file(&path).expect("loads");
    let emulator = crate::support::emulator_with(scenario).await;
    let (status, body) = extract_json(
        &emulator,
        &json!({"url": "https://custom.example/", "browserHtml": true}),
    )
    .await;
    assert_eq!((status, body["statusCode"].as_u64()), (200, Some(404)));
    assert_eq!(body["browserHtml"], "<p>gone custom.example</p>");
    emulator.shutdown().await;
}
