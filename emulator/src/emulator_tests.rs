//! The `/v1/extract` pipeline, end to end but without sockets.

use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use uuid::Uuid;

use super::*;
use crate::scenario::Scenario;

const KEY_HEADER: &str = "Basic S0VZOg=="; // "KEY:"

fn emulator_with(scenario: Scenario, seed: u64, time_scale: f64) -> Emulator {
    let config = EmulatorConfig {
        scenario,
        seed,
        time_scale,
        ..EmulatorConfig::default()
    };
    Emulator::new(&config).expect("valid config")
}

/// The built-in sites under `policy`, seed 0, frozen clock.
fn emulator_with_policy(policy: Policy) -> Emulator {
    let scenario = Scenario {
        policy,
        ..Scenario::builtin()
    };
    emulator_with(scenario, 0, 0.0)
}

fn emulator() -> Emulator {
    emulator_with(Scenario::builtin(), 0, 0.0)
}

fn reply(emulator: &Emulator, body: &Value) -> Reply {
    let auth = HeaderValue::from_static(KEY_HEADER);
    match emulator.extract(Some(&auth), body.to_string().as_bytes(), false) {
        Outcome::Reply(reply) => reply,
        Outcome::Reset => panic!("unexpected reset for {body}"),
    }
}

fn call(emulator: &Emulator, body: &Value) -> (u16, Value) {
    let reply = reply(emulator, body);
    (
        reply.status,
        serde_json::from_slice(&reply.body).expect("JSON body"),
    )
}

fn with_session(mut body: Value, id: Uuid) -> Value {
    body["session"] = json!({"id": id.to_string()});
    body
}

#[test]
fn a_success_carries_every_requested_output() {
    let emulator = emulator();
    let id = Uuid::new_v4();
    let body = with_session(
        json!({"url": "https://example.com/a", "httpResponseBody": true, "httpResponseHeaders": true,
               "responseCookies": true, "echoData": {"n": 1}, "jobId": "j1"}),
        id,
    );
    let reply = reply(&emulator, &body);
    assert_eq!((reply.status, reply.content_type), (200, JSON));
    assert_eq!(reply.request_id.len(), 32);
    assert!(reply.request_id.bytes().all(|b| b.is_ascii_hexdigit()));
    let json: Value = serde_json::from_slice(&reply.body).expect("JSON");
    let html = base64::engine::general_purpose::STANDARD
        .decode(json["httpResponseBody"].as_str().expect("body"))
        .expect("base64");
    assert!(String::from_utf8_lossy(&html).contains("Example Domain"));
    assert_eq!(json["url"], "https://example.com/a");
    assert_eq!(json["statusCode"], 200);
    assert_eq!(
        json["httpResponseHeaders"][0],
        json!({"name": "content-type", "value": "text/html; charset=utf-8"})
    );
    assert_eq!(json["responseCookies"][0]["name"], "sid");
    assert_eq!(json["session"], json!({"id": id.to_string()}));
    assert_eq!(
        (json["echoData"].clone(), json["jobId"].clone()),
        (json!({"n": 1}), json!("j1"))
    );
    assert!(json.get("browserHtml").is_none());
}

#[test]
fn auth_and_size_errors_come_first() {
    let emulator = emulator();
    let Outcome::Reply(reply) = emulator.extract(None, b"{}", false) else {
        panic!("reply expected")
    };
    assert_eq!(
        (reply.status, reply.www_authenticate, reply.content_type),
        (401, true, PROBLEM_JSON)
    );
    let auth = HeaderValue::from_static(KEY_HEADER);
    let Outcome::Reply(reply) = emulator.extract(Some(&auth), b"", true) else {
        panic!("reply expected")
    };
    assert_eq!(reply.status, 400);
    let keys = EmulatorConfig {
        api_keys: vec!["OTHER".into()],
        time_scale: 0.0,
        ..EmulatorConfig::default()
    };
    let strict = Emulator::new(&keys).expect("config");
    let (status, json) = call(
        &strict,
        &json!({"url": "https://example.com", "browserHtml": true}),
    );
    assert_eq!(
        (status, json["type"].as_str()),
        (401, Some("/auth/key-not-found"))
    );
}

#[test]
fn fault_domains_give_their_problems() {
    let emulator = emulator();
    for (domain, status, kind, retry_after) in [
        ("e520.example", 520, "/download/temporary-error", Some(60)),
        ("e521.example", 521, "/download/internal-error", None),
        ("e500.example", 500, "/server/internal", None),
        ("e503.example", 503, "/limits/over-global-limit", Some(60)),
        ("e429.example", 429, "/limits/over-user-limit", Some(60)),
    ] {
        let reply = reply(
            &emulator,
            &json!({"url": format!("https://{domain}/"), "browserHtml": true}),
        );
        let json: Value = serde_json::from_slice(&reply.body).expect("JSON");
        assert_eq!(
            (reply.status, json["type"].as_str(), reply.retry_after),
            (status, Some(kind), retry_after)
        );
        assert_eq!(json["status"], status);
    }
    let stats = emulator.snapshot();
    assert_eq!(stats.site("e520.example").bans, 1);
    assert_eq!(stats.requests.problem("/limits/over-user-limit"), 1);
}

#[test]
fn resets_and_slow_bodies_are_signalled_to_the_server() {
    let emulator = emulator();
    let auth = HeaderValue::from_static(KEY_HEADER);
    let body = json!({"url": "https://reset.example/", "browserHtml": true}).to_string();
    assert!(matches!(
        emulator.extract(Some(&auth), body.as_bytes(), false),
        Outcome::Reset
    ));
    assert_eq!(
        emulator.snapshot().site("reset.example").requests.status(0),
        1
    );
    let slow = reply(
        &emulator,
        &json!({"url": "https://slow-body.example/", "browserHtml": true}),
    );
    assert!(slow.slow_body && slow.status == 200);
}

#[test]
fn example_com_bans_a_session_after_12_uses_and_3_bans_expire_it() {
    let emulator = emulator();
    let id = Uuid::new_v4();
    let body = with_session(
        json!({"url": "https://example.com/", "httpResponseBody": true}),
        id,
    );
    let statuses: Vec<u16> = (0..16).map(|_| call(&emulator, &body).0).collect();
    let mut expected = vec![200; 12];
    expected.extend([520, 520, 520, 422]);
    assert_eq!(statuses, expected);
    let site = emulator.snapshot().site("example.com");
    assert_eq!(
        (
            site.sessions_created,
            site.session_uses,
            site.bans,
            site.expiries
        ),
        (1, 15, 3, 1)
    );
    assert_eq!(site.requests.problem("/problem/session-expired"), 1);
}

#[test]
fn idle_sessions_expire_on_the_controllable_clock() {
    let emulator = emulator();
    let id = Uuid::new_v4();
    let body = with_session(
        json!({"url": "https://example.com/", "browserHtml": true}),
        id,
    );
    assert_eq!(call(&emulator, &body).0, 200);
    emulator.clock.advance(Duration::from_secs(121));
    let (status, json) = call(&emulator, &body);
    assert_eq!(
        (status, json["type"].as_str()),
        (422, Some("/problem/session-expired"))
    );
    emulator.clock.advance(Duration::from_secs(600));
    assert_eq!(
        call(&emulator, &body).0,
        200,
        "a new session after the tombstone"
    );
    assert_eq!(emulator.snapshot().site("example.com").sessions_created, 2);
}

#[test]
fn session_problem_statuses_and_limits_are_configurable() {
    let policy = Policy {
        max_active_sessions: 1,
        session_expired_status: 410,
        ..Policy::default()
    };
    let emulator = emulator_with_policy(policy);
    let body = json!({"url": "https://example.com/", "browserHtml": true});
    assert_eq!(
        call(&emulator, &with_session(body.clone(), Uuid::new_v4())).0,
        200
    );
    let (status, json) = call(&emulator, &with_session(body.clone(), Uuid::new_v4()));
    assert_eq!(
        (status, json["type"].as_str()),
        (422, Some("/problem/over-session-limit"))
    );
    let policy = Policy {
        session_creation_error_rate: 1.0,
        ..Policy::default()
    };
    let emulator = emulator_with_policy(policy);
    let (status, json) = call(&emulator, &with_session(body, Uuid::new_v4()));
    assert_eq!(
        (status, json["type"].as_str()),
        (503, Some("/problem/session-creation-error"))
    );
}

#[test]
fn a_session_location_is_set_by_its_first_request_and_then_fixed() {
    let emulator = emulator();
    let id = Uuid::new_v4();
    let set = |code: &str| {
        with_session(
            json!({"url": "https://postal-code-10001.example/", "browserHtml": true,
                   "actions": [{"action": "setLocation", "address": {"postalCode": code}}]}),
            id,
        )
    };
    let (_, init) = call(&emulator, &set("10001"));
    assert_eq!(init["actions"][0]["status"], "success");
    let (_, used) = call(
        &emulator,
        &with_session(
            json!({"url": "https://postal-code-10001.example/p", "httpResponseBody": true}),
            id,
        ),
    );
    let html = base64::engine::general_purpose::STANDARD
        .decode(used["httpResponseBody"].as_str().unwrap_or(""))
        .expect("b64");
    assert!(String::from_utf8_lossy(&html).contains("Delivering to 10001"));
    let (status, other) = call(&emulator, &set("10002"));
    assert_eq!(
        (status, other["actions"][0]["status"].as_str()),
        (200, Some("returned"))
    );
    assert_eq!(other["actions"][0]["error"], "Action setLocation failed");
    assert_eq!(
        emulator.snapshot().sessions[0].location.as_deref(),
        Some("10001")
    );
}

#[test]
fn zyte_managed_sessions_reuse_a_pool_and_hide_their_ids_by_default() {
    let body = json!({"url": "https://postal-code-10001.example/", "browserHtml": true,
                      "sessionContext": [{"name": "zip", "value": "10001"}],
                      "sessionContextParameters": {"actions": [{"action": "setLocation", "address": {"postalCode": "10001"}}]}});
    let emulator = emulator();
    let (status, json) = call(&emulator, &body);
    assert_eq!(status, 200);
    assert!(json.get("session").is_none());
    assert!(
        json["browserHtml"]
            .as_str()
            .unwrap_or("")
            .contains("Delivering to 10001")
    );
    call(&emulator, &body);
    let stats = emulator.snapshot();
    assert_eq!((stats.sessions.len(), stats.sessions[0].uses), (1, 2));
    let policy = Policy {
        echo_session_for_context: true,
        ..Policy::default()
    };
    let echoing = emulator_with_policy(policy);
    assert!(call(&echoing, &body).1["session"]["id"].is_string());
}

#[test]
fn outcomes_are_reproducible_under_a_seed() {
    let run = |seed: u64| -> Vec<u16> {
        let emulator = emulator_with(Scenario::builtin(), seed, 0.0);
        (0..40).map(|i| call(&emulator, &json!({"url": format!("https://flaky.example/{}", i % 5), "browserHtml": true})).0).collect()
    };
    let first = run(7);
    assert_eq!(first, run(7));
    assert!(first.contains(&520) && first.contains(&200), "{first:?}");
    assert_ne!(first, run(8));
}

#[test]
fn latency_is_emulated_time_and_zero_latency_never_waits() {
    let real_time = emulator_with(Scenario::builtin(), 0, 1.0);
    let slow = reply(
        &real_time,
        &json!({"url": "https://slow.example/", "browserHtml": true}),
    );
    assert!(
        slow.delay.is_some_and(|d| d > Duration::from_millis(100)),
        "{:?}",
        slow.delay
    );
    assert_eq!(
        reply(
            &real_time,
            &json!({"url": "https://example.com/", "browserHtml": true})
        )
        .delay,
        None
    );
    let frozen = emulator();
    assert_eq!(
        reply(
            &frozen,
            &json!({"url": "https://slow.example/", "browserHtml": true})
        )
        .delay,
        None
    );
}

#[test]
fn reset_forgets_sessions_and_counters() {
    let emulator = emulator();
    call(
        &emulator,
        &with_session(
            json!({"url": "https://example.com/", "browserHtml": true}),
            Uuid::new_v4(),
        ),
    );
    emulator.reset();
    let stats = emulator.snapshot();
    assert_eq!(
        (
            stats.requests.total,
            stats.sessions.len(),
            stats.sites.len()
        ),
        (0, 0, 0)
    );
}
