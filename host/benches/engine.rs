//! The engine's overhead per request, against calling the emulator directly with the same
//! client (issue #4).
//!
//! Both sides send the same Zyte API request to `csrf.example/search` on the in-process emulator
//! (zero latency, frozen clock), on one current-thread runtime like the `request` bench, and get
//! the same answer:
//!
//! - `csrf/direct`: `Client::extract` with the session id and the CSRF token header already in
//!   the body: the floor (HTTP round trip, JSON, the emulator's own work).
//! - `csrf/engine`: `Engine::execute` with the `csrf-token` example config: config selection,
//!   `enabled`, `cookie-mode`, `pool`, rotation, `process-request` (adds the token from session
//!   data), the request, and `check`.
//!
//! - `plain/direct`, `plain/engine`: the same on a plain site with the built-in default config
//!   (no guest): the engine's own cost, without hooks.
//!
//! The overhead is `engine − direct`, and the ratio `engine / direct`.
//!
//! Both run with the allocator the `session-host` binary ships with (mimalloc, `main.rs`), so
//! that the figure is the shipped engine's. Under glibc's `malloc` the engine side's 176 frees
//! per request (105 direct, the in-process emulator's included) cost about 36k instructions of
//! its 209k, against 17k of direct's 104k (issue 17, callgrind).
//!
//! Run: `cargo bench -p session-host --bench engine`.
#![expect(
    missing_docs,
    reason = "criterion_group! and criterion_main! generate undocumented items"
)]

use std::sync::Arc;

use base64::Engine as _;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Map, Value, json};
use session_host::engine::{Engine, EngineRequest};
use session_host::plugin::{CallEnv, Limits, Runtime};
use session_host::settings::{RetryPolicyName, SessionSettings};
use session_host::zyte::{ApiKey, Client};
use session_host_testkit::support;

/// The binary's allocator (see the module docs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const URL: &str = "https://csrf.example/search?q=shoes";

fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

/// The CSRF token of session `sid`, read from the home page like the config does.
async fn token(client: &Client, sid: &str) -> String {
    let body = object(
        json!({"url": "https://csrf.example/", "httpResponseBody": true,
        "session": {"id": sid}}),
    );
    let answer = client
        .extract(&body, RetryPolicyName::SessionDefault)
        .await
        .expect("home page");
    let parsed: Value = serde_json::from_str(&answer.body).expect("json");
    let encoded = parsed["httpResponseBody"].as_str().unwrap_or_default();
    let html = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("base64");
    let html = String::from_utf8_lossy(&html);
    let start = html.find("value=\"").expect("a token") + 7;
    let end = html[start..].find('"').expect("a closing quote") + start;
    html[start..end].to_owned()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let (emulator, upstream) = rt.block_on(support::instant_emulator(None));
    let client = Client::new(&upstream, ApiKey::new("bench-key")).expect("client");
    let settings = SessionSettings {
        enabled: true,
        randomize_delay: false,
        ..SessionSettings::default()
    };
    let engine = Engine::new(settings, client.clone());
    let runtime = Runtime::new(Limits::default()).expect("runtime");
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../example-configs/dist/csrf-token.wasm"
    );
    let plugin = rt
        .block_on(runtime.load_file(path.as_ref(), CallEnv::default()))
        .expect("the example loads");
    engine
        .set_configs(vec![Arc::new(plugin)])
        .expect("rules compile");

    let sid = uuid::Uuid::new_v4().to_string();
    let token = rt.block_on(token(&client, &sid));
    let direct = object(
        json!({"url": URL, "httpResponseBody": true, "session": {"id": sid},
        "customHttpRequestHeaders": [{"name": "x-csrf-token", "value": token}]}),
    );
    let request = EngineRequest::new(object(json!({"url": URL, "httpResponseBody": true})));
    // Warm up: create the pool's sessions, so the measurement is the steady state.
    for _ in 0..16 {
        rt.block_on(engine.execute(request.clone()))
            .expect("engine request");
    }

    let mut group = c.benchmark_group("csrf");
    group.bench_function("direct", |b| {
        b.to_async(&rt).iter(|| async {
            client
                .extract(&direct, RetryPolicyName::SessionDefault)
                .await
                .expect("direct request")
        })
    });
    group.bench_function("engine", |b| {
        b.to_async(&rt).iter(|| async {
            engine
                .execute(request.clone())
                .await
                .expect("engine request")
        })
    });
    group.finish();

    // The same without a guest: the engine's own cost with the built-in default config.
    let plain_url = "https://plain.example/search?q=shoes";
    let plain = EngineRequest::new(object(json!({"url": plain_url, "httpResponseBody": true})));
    let plain_direct = object(json!({"url": plain_url, "httpResponseBody": true,
        "session": {"id": uuid::Uuid::new_v4().to_string()}}));
    for _ in 0..16 {
        rt.block_on(engine.execute(plain.clone()))
            .expect("engine request");
    }
    let mut group = c.benchmark_group("plain");
    group.bench_function("direct", |b| {
        b.to_async(&rt).iter(|| async {
            client
                .extract(&plain_direct, RetryPolicyName::SessionDefault)
                .await
                .expect("direct request")
        })
    });
    group.bench_function("engine", |b| {
        b.to_async(&rt)
            .iter(|| async { engine.execute(plain.clone()).await.expect("engine request") })
    });
    group.finish();
    let stats = emulator.stats().site("csrf.example");
    println!(
        "csrf.example: {} sessions created, {} requests, {} answered 200",
        stats.sessions_created,
        stats.requests.total,
        stats.requests.status(200)
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
