//! Handler tests without a socket, against the in-process emulator where a request has to reach
//! Zyte API. Every request goes through [`Front`], the service the server runs per connection,
//! so `POST /v1/extract` takes the server's direct path and every other request its router.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use serde_json::{Value, json};
use zyte_emulator::{EmulatorConfig, RunningEmulator};

use super::front::Front;
use super::*;
use crate::problem::ProblemKind;
use crate::settings::{SessionSettings, UpstreamSettings};
use crate::zyte::{ApiKey, Client};

fn engine(upstream: &str) -> Engine {
    let upstream = UpstreamSettings {
        url: upstream.to_owned(),
        timeout_secs: 20.0,
        wait_scale: 0.0,
        ..UpstreamSettings::default()
    };
    let settings = SessionSettings {
        enabled: true,
        randomize_delay: false,
        init_failure_backoff: 0.0,
        ..SessionSettings::default()
    };
    let client = Client::new(&upstream, ApiKey::new("upstream-key")).expect("client");
    Engine::new(settings, client)
}

async fn emulator() -> RunningEmulator {
    let config = EmulatorConfig {
        time_scale: 0.0,
        ..EmulatorConfig::default()
    };
    zyte_emulator::start(config).await.expect("emulator")
}

/// The service the server runs for each connection, of the gateway `state`.
fn front(state: GatewayState) -> Front {
    Front::new(state.clone(), router(state))
}

/// A gateway with `config` whose Zyte API is `upstream`.
fn gateway(upstream: &str, config: GatewayConfig) -> (GatewayState, Front) {
    let state = GatewayState::new(engine(upstream), config);
    (state.clone(), front(state))
}

/// A gateway whose Zyte API is never reached.
fn offline(config: GatewayConfig) -> Front {
    gateway("http://127.0.0.1:9/v1/", config).1
}

/// A POST as a Zyte API client sends it: JSON, to a loopback `Host`.
fn post(uri: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(uri)
        .header(header::HOST, "127.0.0.1:8020")
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.into())
        .expect("request")
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::HOST, "localhost:8020")
        .body(Body::empty())
        .expect("request")
}

fn with_key(mut request: Request<Body>, key: &str) -> Request<Body> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{key}:"));
    let value = format!("Basic {encoded}").parse().expect("header");
    request.headers_mut().insert(header::AUTHORIZATION, value);
    request
}

async fn send(app: &Front, request: Request<Body>) -> (Response, Value) {
    let response = hyper::service::Service::call(app, request)
        .await
        .expect("infallible");
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.expect("body");
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (Response::from_parts(parts, Body::empty()), json)
}

fn header<'a>(response: &'a Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Asserts `response` is a problem of `kind`, and returns its detail.
fn problem(response: &Response, body: &Value, kind: ProblemKind) -> String {
    assert_eq!(response.status().as_u16(), kind.status(), "{body}");
    assert_eq!(header(response, "content-type"), "application/problem+json");
    assert_eq!(body["type"], kind.type_uri(), "{body}");
    assert_eq!(body["title"], kind.title());
    assert_eq!(body["status"], kind.status());
    body["detail"].as_str().expect("detail").to_owned()
}

#[tokio::test]
async fn bad_input_is_a_problem_never_a_500() {
    let app = offline(GatewayConfig::default());
    let cases: [(&str, ProblemKind, &str); 5] = [
        ("{", ProblemKind::InvalidJson, "not valid JSON"),
        (
            "\"text\"",
            ProblemKind::BadRequest,
            "must be a JSON object, got a string",
        ),
        (
            r#"{"browserHtml": true}"#,
            ProblemKind::BadRequest,
            "has no `url`",
        ),
        (
            r#"{"url": "https://a.example", "sessionManagement": {"pol": "x"}}"#,
            ProblemKind::BadRequest,
            "unknown key `sessionManagement.pol`",
        ),
        (
            r#"{"url": "https://a.example", "sessionManagement": {"cookieMode": 1}}"#,
            ProblemKind::BadRequest,
            "`sessionManagement.cookieMode` must be a boolean, got the number 1",
        ),
    ];
    for (body, kind, detail) in cases {
        let (response, json) = send(&app, post("/v1/extract", body)).await;
        assert!(problem(&response, &json, kind).contains(detail), "{json}");
    }
}

#[tokio::test]
async fn oversize_bodies_are_413s_whether_declared_or_streamed() {
    let config = GatewayConfig {
        max_body_bytes: 64,
        ..GatewayConfig::default()
    };
    let app = offline(config);
    let big = format!(r#"{{"url": "https://a.example/{}"}}"#, "a".repeat(100));
    let (response, json) = send(&app, post("/v1/extract", big.clone())).await;
    let detail = problem(&response, &json, ProblemKind::PayloadTooLarge);
    assert_eq!(detail, "the request body exceeds it; the limit is 64 bytes");
    assert_eq!(json["limit"], 64);
    let mut declared = post("/v1/extract", big);
    let length = "123456789".parse().expect("header");
    declared
        .headers_mut()
        .insert(header::CONTENT_LENGTH, length);
    let (response, json) = send(&app, declared).await;
    let detail = problem(&response, &json, ProblemKind::PayloadTooLarge);
    assert_eq!(
        detail,
        "the request body is 123456789 bytes; the limit is 64 bytes"
    );
}

#[tokio::test]
async fn a_key_protects_every_route_but_healthz() {
    let config = GatewayConfig {
        key: GatewayKey::new("gw"),
        ..GatewayConfig::default()
    };
    let app = offline(config);
    for request in [
        post("/v1/extract", "{"),
        get("/status"),
        post("/pools/p/reopen", ""),
    ] {
        let (response, json) = send(&app, request).await;
        problem(&response, &json, ProblemKind::Unauthorized);
        let challenge = header(&response, "www-authenticate");
        assert_eq!(challenge, r#"Basic realm="session-host""#);
    }
    // Auth comes before the body is read: the bad JSON is only seen with the key.
    let (response, json) = send(&app, with_key(post("/v1/extract", "{"), "gw")).await;
    problem(&response, &json, ProblemKind::InvalidJson);
    let (response, json) = send(&app, with_key(get("/status"), "nope")).await;
    problem(&response, &json, ProblemKind::Unauthorized);
    let (response, json) = send(&app, get("/healthz")).await;
    assert_eq!(
        (response.status(), json),
        (StatusCode::OK, json!({"status": "ok"}))
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let app = offline(GatewayConfig::default());
    let (response, json) = send(&app, get("/v2/extract")).await;
    assert_eq!(
        problem(&response, &json, ProblemKind::NotFound),
        "no route for /v2/extract"
    );
    let (response, json) = send(&app, get("/v1/extract")).await;
    let detail = problem(&response, &json, ProblemKind::MethodNotAllowed);
    assert_eq!(detail, "/v1/extract does not accept GET");
    // No exporter plugged in: no metrics route.
    let (response, json) = send(&app, get("/metrics")).await;
    problem(&response, &json, ProblemKind::NotFound);
}

#[tokio::test]
async fn metrics_are_served_when_an_exporter_is_plugged_in() {
    let render: MetricsRender = Arc::new(|| "session_host_up 1\n".to_owned());
    let config = GatewayConfig {
        metrics: Some(render),
        ..GatewayConfig::default()
    };
    let app = offline(config);
    let response = hyper::service::Service::call(&app, get("/metrics"))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = header(&response, "content-type").to_owned();
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let body = axum::body::to_bytes(response.into_body(), 1024)
        .await
        .expect("body");
    assert_eq!(&body[..], b"session_host_up 1\n");
}

#[tokio::test]
async fn a_response_carries_the_session_headers_and_the_upstream_body() {
    let emulator = emulator().await;
    let (_, app) = gateway(&emulator.base_url(), GatewayConfig::default());
    let body = json!({"url": "https://example.com/a", "httpResponseBody": true, "echoData": 7});
    let (response, json) = send(&app, post("/v1/extract", body.to_string())).await;
    assert_eq!(response.status(), StatusCode::OK, "{json}");
    assert_eq!(header(&response, "content-type"), "application/json");
    assert_eq!(header(&response, "x-session-pool"), "example.com");
    assert_eq!(header(&response, "x-session-config"), "default");
    assert!(!header(&response, "x-session-id").is_empty());
    assert_eq!(
        (json["echoData"].clone(), json["statusCode"].clone()),
        (json!(7), json!(200))
    );
    assert_eq!(emulator.stats().site("example.com").sessions_created, 1);
    // Disabled through sessionManagement: forwarded as is, without session headers.
    let body = json!({"url": "https://example.com/b", "httpResponseBody": true,
        "sessionManagement": {"enabled": false}});
    let (response, json) = send(&app, post("/v1/extract", body.to_string())).await;
    assert_eq!(response.status(), StatusCode::OK, "{json}");
    assert!(response.headers().get("x-session-id").is_none());
    assert!(json.get("session").is_none(), "{json}");
}

#[tokio::test]
async fn zyte_api_errors_pass_through_unchanged() {
    let emulator = emulator().await;
    let (_, app) = gateway(&emulator.base_url(), GatewayConfig::default());
    let body = json!({"url": "https://example.com/", "httpResponseBody": true, "foo": 1});
    let (response, json) = send(&app, post("/v1/extract", body.to_string())).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        header(&response, "content-type"),
        "application/problem+json"
    );
    assert_eq!(json["type"], "/request/invalid", "{json}");
    assert_eq!(json["detail"], "Unrecognized field \"foo\"");
    assert_eq!(header(&response, "request-id").len(), 32);
    assert_eq!(header(&response, "x-session-pool"), "example.com");
}

#[tokio::test]
async fn a_closed_pool_fails_fast_with_its_reason_until_reopened() {
    let emulator = emulator().await;
    let (state, app) = gateway(&emulator.base_url(), GatewayConfig::default());
    let body = json!({"url": "https://no-location-support.example/", "browserHtml": true,
        "sessionManagement": {"location": {"postalCode": "10001"}}});
    let (response, json) = send(&app, post("/v1/extract", body.to_string())).await;
    problem(&response, &json, ProblemKind::PoolClosed);
    assert_eq!(json["reason"], "unsupported_set_location", "{json}");
    let pool = json["pool"].as_str().expect("pool").to_owned();
    let (response, json) = send(&app, post("/v1/extract", body.to_string())).await;
    problem(&response, &json, ProblemKind::PoolClosed);
    let (_, status) = send(&app, get("/status")).await;
    let closed = &status["pools"][0];
    assert_eq!(
        (&closed["id"], &closed["closed"]),
        (&json!(pool), &json!("unsupported_set_location"))
    );
    let reopen = format!("/pools/{}/reopen", url_path(&pool));
    let (response, json) = send(&app, post(&reopen, "")).await;
    assert_eq!(
        (response.status(), json),
        (StatusCode::OK, json!({"pool": pool, "reopened": true}))
    );
    assert!(state.engine().pools()[0].closed.is_none());
    let (response, json) = send(&app, post(&reopen, "")).await;
    problem(&response, &json, ProblemKind::PoolNotClosed);
    let (response, json) = send(&app, post("/pools/nope/reopen", "")).await;
    assert_eq!(
        problem(&response, &json, ProblemKind::PoolNotFound),
        "there is no session pool \"nope\""
    );
}

fn url_path(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}

#[tokio::test]
async fn status_shows_configs_pools_and_stats() {
    let emulator = emulator().await;
    let (_, app) = gateway(&emulator.base_url(), GatewayConfig::default());
    let body = json!({"url": "https://example.com/", "httpResponseBody": true});
    send(&app, post("/v1/extract", body.to_string())).await;
    let (response, json) = send(&app, get("/status")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json["configs"], json!({"configs": [], "problems": []}));
    assert_eq!(json["pools"][0]["id"], "example.com");
    assert_eq!(
        json["pools"][0]["sessions"].as_array().map(Vec::len),
        Some(1)
    );
    let passed = &json["stats"]["counters"]["scrapy-zyte-api/sessions/use/check-passed"];
    assert_eq!(passed, 1);
    assert_eq!(json["gateway"]["key_required"], false);
}

#[tokio::test]
async fn issue_13_status_pages_the_pools() {
    let emulator = emulator().await;
    let (_, app) = gateway(&emulator.base_url(), GatewayConfig::default());
    for n in 0..5 {
        let body = json!({"url": format!("https://s{n}.example/"), "httpResponseBody": true});
        send(&app, post("/v1/extract", body.to_string())).await;
    }
    let (_, json) = send(&app, get("/status?offset=1&limit=2")).await;
    assert_eq!(
        (json["pools_total"].clone(), json["limit"].clone()),
        (json!(5), json!(2))
    );
    let ids: Vec<_> = json["pools"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| p["id"].clone())
        .collect();
    assert_eq!(ids, [json!("s1.example"), json!("s2.example")]);
    let (_, json) = send(&app, get("/status")).await;
    assert_eq!(json["limit"], 100);
    for bad in ["/status?limit=1001", "/status?offset=x", "/status?pool=1"] {
        let (response, json) = send(&app, get(bad)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}: {json}");
    }
}

/// A Zyte API that accepts connections and never answers.
async fn silent_upstream() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/v1/", listener.local_addr().expect("addr"));
    (listener, url)
}

#[tokio::test]
async fn a_request_that_takes_too_long_is_a_504() {
    let (_listener, url) = silent_upstream().await;
    let config = GatewayConfig {
        request_timeout: Duration::from_millis(200),
        ..GatewayConfig::default()
    };
    let (_, app) = gateway(&url, config);
    let body = json!({"url": "https://example.com/", "sessionManagement": {"enabled": false}});
    let (response, json) = send(&app, post("/v1/extract", body.to_string())).await;
    let detail = problem(&response, &json, ProblemKind::Timeout);
    // The engine runs in the handler (issue 17), so its own answer at the deadline, naming
    // what it waited for, arrives before the middleware's backstop.
    assert!(
        detail.starts_with(
            "the request was not answered within its 0.2s deadline: waiting for Zyte API"
        ),
        "{detail}"
    );
}

#[tokio::test]
async fn the_shutdown_cut_off_answers_running_requests() {
    let (_listener, url) = silent_upstream().await;
    let (state, app) = gateway(&url, GatewayConfig::default());
    let body = json!({"url": "https://example.com/", "sessionManagement": {"enabled": false}});
    let running = tokio::spawn(send_owned(app, post("/v1/extract", body.to_string())));
    tokio::time::sleep(Duration::from_millis(100)).await;
    state.cut_off();
    let (response, json) = running.await.expect("task");
    problem(&response, &json, ProblemKind::ShuttingDown);
    assert_eq!(header(&response, "retry-after"), "5");
}

async fn send_owned(app: Front, request: Request<Body>) -> (Response, Value) {
    send(&app, request).await
}

#[tokio::test]
async fn bind_refuses_an_open_address_without_a_key() {
    let open = GatewayConfig {
        listen: "0.0.0.0:0".parse().expect("addr"),
        ..GatewayConfig::default()
    };
    let error = bind(&open).await.expect_err("refused");
    assert!(matches!(error, GatewayError::OpenWithoutKey(_)));
    assert!(
        error
            .to_string()
            .starts_with("refusing to listen on 0.0.0.0:0 without a gateway key")
    );
    let keyed = GatewayConfig {
        key: GatewayKey::new("k"),
        ..open
    };
    assert!(bind(&keyed).await.is_ok());
    let loopback = GatewayConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..GatewayConfig::default()
    };
    assert!(bind(&loopback).await.is_ok());
}

#[tokio::test]
async fn issue_13_a_keyless_gateway_refuses_browser_driven_requests() {
    let app = offline(GatewayConfig::default());
    let body = r#"{"url": "https://a.example"}"#;
    let form = Request::post("/v1/extract")
        .header(header::HOST, "127.0.0.1:8020")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(body))
        .expect("request");
    let (response, json) = send(&app, form).await;
    problem(&response, &json, ProblemKind::UnsupportedMediaType);
    let mut rebound = post("/v1/extract", body);
    rebound
        .headers_mut()
        .insert(header::HOST, "evil.example:8020".parse().expect("host"));
    let (response, json) = send(&app, rebound).await;
    problem(&response, &json, ProblemKind::Forbidden);
    let mut status = get("/status");
    status
        .headers_mut()
        .insert(header::HOST, "evil.example".parse().expect("host"));
    let (response, json) = send(&app, status).await;
    problem(&response, &json, ProblemKind::Forbidden);
    // With a key, the key is the defence: any Host and content type reach the handler.
    let keyed = offline(GatewayConfig {
        key: GatewayKey::new("k"),
        ..GatewayConfig::default()
    });
    let mut request = with_key(get("/status"), "k");
    request
        .headers_mut()
        .insert(header::HOST, "gw.internal".parse().expect("host"));
    let (response, _) = send(&keyed, request).await;
    assert_eq!(response.status(), 200);
}

/// A Zyte API that records each request body it receives and answers `200 {}`; its URL.
async fn recording_upstream() -> (String, Arc<std::sync::Mutex<Vec<bytes::Bytes>>>) {
    use http_body_util::BodyExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/v1/", listener.local_addr().expect("addr"));
    let bodies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = bodies.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let seen = seen.clone();
            let service = hyper::service::service_fn(move |request: Request<_>| {
                let seen = seen.clone();
                async move {
                    let body: hyper::body::Incoming = request.into_body();
                    let bytes = body
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    seen.lock().expect("bodies").push(bytes);
                    let answer = http_body_util::Full::new(bytes::Bytes::from_static(b"{}"));
                    Ok::<_, std::convert::Infallible>(axum::http::Response::new(answer))
                }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let conn = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
            tokio::spawn(conn);
        }
    });
    (url, bodies)
}

/// Issue 17: with sessions off and no `sessionManagement`, the body reaches Zyte API as the
/// client sent it, byte for byte (no tree, no re-serialisation); with `sessionManagement`
/// (even `null`, which means absent) it goes through the engine, which removes it. Bad bodies are refused with the
/// same problems as with sessions on.
#[tokio::test]
async fn issue_17_a_body_without_sessions_is_forwarded_byte_for_byte() {
    let (url, bodies) = recording_upstream().await;
    let upstream = UpstreamSettings {
        url,
        wait_scale: 0.0,
        ..UpstreamSettings::default()
    };
    let client = Client::new(&upstream, ApiKey::new("upstream-key")).expect("client");
    let engine = Engine::new(SessionSettings::default(), client);
    let app = front(GatewayState::new(engine, GatewayConfig::default()));
    let sent =
        "{\"httpResponseBody\":true,  \"url\": \"https://a.example/\",\n \"echoData\": 1.50}";
    let (response, json) = send(&app, post("/v1/extract", sent)).await;
    assert_eq!(response.status(), StatusCode::OK, "{json}");
    assert_eq!(bodies.lock().expect("bodies").pop().expect("sent"), sent);

    for management in [r#"{"enabled": false}"#, "null"] {
        let sent = format!(r#"{{"url": "https://a.example/", "sessionManagement": {management}}}"#);
        let (response, json) = send(&app, post("/v1/extract", sent)).await;
        assert_eq!(response.status(), StatusCode::OK, "{json}");
        let received = bodies.lock().expect("bodies").pop().expect("sent");
        let received: Value = serde_json::from_slice(&received).expect("json");
        assert_eq!(
            received,
            json!({"url": "https://a.example/"}),
            "{management}"
        );
    }

    let refused: [(&str, ProblemKind, &str); 5] = [
        ("{", ProblemKind::InvalidJson, "not valid JSON"),
        ("[1]", ProblemKind::BadRequest, "must be a JSON object"),
        (
            r#"{"browserHtml": true}"#,
            ProblemKind::BadRequest,
            "has no `url`",
        ),
        (
            r#"{"url": 1}"#,
            ProblemKind::BadRequest,
            "`url` must be a string",
        ),
        (
            r#"{"url": "https://a.example/", "url": "https://b.example/"}"#,
            ProblemKind::BadRequest,
            "",
        ),
    ];
    for (body, kind, detail) in refused {
        let (response, json) = send(&app, post("/v1/extract", body)).await;
        if body.contains("b.example") {
            // A duplicate key: the full parse keeps the last one, as before issue 17.
            assert_eq!(response.status(), StatusCode::OK, "{json}");
            let received = bodies.lock().expect("bodies").pop().expect("sent");
            let received: Value = serde_json::from_slice(&received).expect("json");
            assert_eq!(received["url"], "https://b.example/");
            continue;
        }
        assert!(
            problem(&response, &json, kind).contains(detail),
            "{body}: {json}"
        );
    }
    assert!(bodies.lock().expect("bodies").is_empty());
}

/// A request's work panicking after it has yielded, as the engine's may: the work is boxed
/// under the guard now (issue 17, fifth round), and the panic net and the request id still
/// hold around it.
#[tokio::test]
async fn issue_17_a_panic_in_the_guarded_work_is_a_500_with_the_request_id() {
    fn boom() -> Response {
        panic!("secret internal state 1717")
    }
    let (state, _) = gateway("http://127.0.0.1:9/v1/", GatewayConfig::default());
    let request = Request::post("/v1/extract")
        .header("x-request-id", "trace-1717")
        .body(Body::empty())
        .expect("request");
    let work = |_, _| async {
        tokio::task::yield_now().await;
        boom()
    };
    let response = serve::guard(&state, request, request_id::RequestSpan::Extract, work).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(header(&response, "x-request-id"), "trace-1717");
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .expect("body");
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains(panic::PANIC_DETAIL), "{body}");
    assert!(!body.contains("secret"), "{body}");
}
