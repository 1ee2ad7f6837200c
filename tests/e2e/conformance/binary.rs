//! The reference's scenarios through the real binary: `serve` (a Zyte API client posting to the
//! gateway) and `run` (a JSON Lines batch), both against the emulator. Each test runs several
//! scenarios on one process to keep the suite fast.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::harness::run_batch;
use super::harness::scenario;
use crate::gateway::Fixture;

const DELAY: f64 = 0.2;

/// Settings shared by both front ends: sessions off unless a request opts in (for the enabled
/// grid), one session per pool, a short fixed delay, no back-off, no retry waits.
/// `client_pool_prefix = ""` gives the reference's pool ids (issue 13).
const SETTINGS: &str = "[sessions]\nenabled = false\npool_size = 1\ndelay = 0.2\nclient_pool_prefix = \"\"\n\
    randomize_delay = false\ninit_failure_backoff = 0.0\nmax_bad_inits = 2\n\
    queue_wait_time = 0.05\n[sessions.pools.preset]\nsize = 1\n\
    [upstream]\nwait_scale = 0.0\ntimeout_secs = 20.0\n";

fn banned() -> zyte_emulator::Scenario {
    scenario(
        "[[site]]\ndomain = \"banned.example\"\nban = { after_uses = 2 }\n\
         [[site.page]]\npath = \"*\"\ntemplate = \"<html>{{path}}</html>\"\n",
    )
}

/// A request body for `url` with `sessionManagement` set to `controls` (when not null).
fn body(url: &str, controls: Value) -> Value {
    let mut body = json!({"url": url, "httpResponseBody": true});
    if !controls.is_null() {
        body["sessionManagement"] = controls;
    }
    body
}

/// POSTs `body` to the gateway: status, `x-session-pool`, `x-session-id`, JSON body.
async fn post(api: &str, body: &Value) -> (StatusCode, String, String, Value) {
    let response = reqwest::Client::new()
        .post(format!("{api}extract"))
        .json(body)
        .send()
        .await
        .expect("the gateway answers");
    let header = |name: &str| {
        let value = response.headers().get(name);
        value
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (pool, session) = (header("x-session-pool"), header("x-session-id"));
    let status = response.status();
    let json = response.json().await.unwrap_or(Value::Null);
    (status, pool, session, json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_gateway() {
    let fixture = Fixture::with(banned(), &[], false).await;
    std::fs::write(fixture.path("session-host.toml"), SETTINGS).expect("settings");
    let gateway = fixture.serve(&[], None).await;
    let api = gateway.api_url();

    // Enabled: the setting (off) unless the request says otherwise (reference 4.4).
    for (controls, pooled) in [
        (Value::Null, false),
        (json!({"enabled": true}), true),
        (json!({"enabled": false}), false),
    ] {
        let (status, pool, _, _) =
            post(&api, &body("https://example.com/", controls.clone())).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(!pool.is_empty(), pooled, "{controls}");
    }

    // Pool ids: explicit > params > location > netloc (reference 4.3).
    let on = |mut c: Value| {
        c["enabled"] = json!(true);
        c
    };
    let url = "https://postal-code-10001.example/";
    for (controls, want) in [
        (
            json!({"pool": "mine", "location": {"postalCode": "10001"}}),
            "mine",
        ),
        (
            json!({"params": {"browserHtml": true}, "location": {"postalCode": "10001"}}),
            "postal-code-10001.example[0]",
        ),
        (
            json!({"location": {"postalCode": "10001"}}),
            "postal-code-10001.example@10001",
        ),
        (json!({}), "postal-code-10001.example"),
    ] {
        let (status, pool, _, answer) = post(&api, &body(url, on(controls.clone()))).await;
        assert_eq!(
            (status, pool.as_str()),
            (StatusCode::OK, want),
            "{controls}: {answer}"
        );
    }

    // Delays: two concurrent requests to a new pool are a delay apart (reference 5.5).
    let started = Instant::now();
    let timed = |path: &'static str| {
        let (api, started) = (api.clone(), started);
        async move {
            post(
                &api,
                &body(
                    &format!("https://delay.example/{path}"),
                    json!({"enabled": true}),
                ),
            )
            .await;
            started.elapsed().as_secs_f64()
        }
    };
    let first = tokio::spawn(timed("a"));
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = tokio::spawn(timed("b"));
    let (a, b) = (first.await.expect("a"), second.await.expect("b"));
    assert!(b - a >= DELAY - 0.02, "uses at {a} and {b}");

    // A 520 replaces the session and the request is retried with the new one (5.10, 5.11).
    let ban = |path: &str| {
        body(
            &format!("https://banned.example/{path}"),
            json!({"enabled": true}),
        )
    };
    let (_, _, before, _) = post(&api, &ban("1")).await;
    let (status, _, after, _) = post(&api, &ban("2")).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(before, after, "a new session");

    // Bad inits close the pool with bad_session_inits (5.5, section 9).
    let refused = on(json!({"location": {"postalCode": "94105"}}));
    let (status, _, _, problem) = post(&api, &body(url, refused)).await;
    assert!(
        status.is_client_error() || status.is_server_error(),
        "{status}"
    );
    assert!(
        problem.to_string().contains("bad_session_inits"),
        "{problem}"
    );
    assert_eq!(
        fixture
            .emulator
            .stats()
            .site("banned.example")
            .sessions_created,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_run() {
    let emulator = zyte_emulator::start(zyte_emulator::EmulatorConfig {
        scenario: banned(),
        ..zyte_emulator::EmulatorConfig::default()
    })
    .await
    .expect("emulator");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let settings = dir.path().join("settings.toml");
    std::fs::write(&settings, SETTINGS).expect("settings");
    let on = json!({"enabled": true});
    let lines = [
        body("https://example.com/off", Value::Null),
        body("https://example.com/on", on.clone()),
        body(
            "https://example.com/p",
            json!({"enabled": true, "params": {"browserHtml": true}}),
        ),
        body(
            "https://example.com/x",
            json!({"enabled": true, "pool": "preset"}),
        ),
        body("https://banned.example/1", on.clone()),
        body("https://banned.example/2", on.clone()),
        body(
            "https://no-location-support.example/",
            json!({"enabled": true, "location": {"postalCode": "10001"}}),
        ),
    ];
    let input = dir.path().join("input.jsonl");
    let text: Vec<String> = lines.iter().map(Value::to_string).collect();
    std::fs::write(&input, text.join("\n") + "\n").expect("input");
    let output = dir.path().join("answers.jsonl");
    let run = run_batch(&input, &output, &settings, &emulator.base_url()).await;
    let stderr = String::from_utf8_lossy(&run.stderr);
    // The unsupported setLocation closes its pool, which stops the run (exit code 3).
    assert_eq!(run.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("unsupported_set_location"), "{stderr}");
    let answers: BTreeMap<u64, Value> = std::fs::read_to_string(&output)
        .expect("answers")
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json"))
        .map(|a| (a["_sessionHost"]["line"].as_u64().expect("line"), a))
        .collect();
    let pool = |line: u64| {
        answers[&line]["_sessionHost"]["pool"]
            .as_str()
            .map(str::to_owned)
    };
    let session = |line: u64| {
        answers[&line]["_sessionHost"]["session"]
            .as_str()
            .map(str::to_owned)
    };
    assert_eq!(pool(1), None, "sessions are off by default");
    assert_eq!(pool(2).as_deref(), Some("example.com"));
    assert_eq!(pool(3).as_deref(), Some("example.com[0]"));
    assert_eq!(pool(4).as_deref(), Some("preset"));
    assert_ne!(session(5), session(6), "the 520 replaced the session");
    assert!(answers[&6]["error"].is_null(), "{}", answers[&6]);
}
