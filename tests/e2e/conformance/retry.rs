//! The four retry policies (reference 5.19): attempt counts against the emulator's fault sites,
//! and the waits between attempts, class by class.

use std::time::Duration;

use serde_json::json;
use session_host::settings::RetryPolicyName::{self, *};
use session_host::zyte::retry::{Decision, ErrorClass, RetryState, Wait};

use super::harness::client;
use super::harness::run_batch;

#[tokio::test]
async fn every_policy_makes_the_reference_attempt_counts() {
    let emulator = zyte_emulator::start(zyte_emulator::EmulatorConfig {
        time_scale: 0.0,
        ..zyte_emulator::EmulatorConfig::default()
    })
    .await
    .expect("emulator");
    let client = client(&emulator);
    // (site, [default, aggressive, session-default, session-aggressive])
    for (site, want) in [
        ("e520.example", [4, 8, 1, 1]),
        ("e521.example", [2, 4, 1, 1]),
        ("e500.example", [2, 4, 2, 4]),
    ] {
        for (policy, want) in [Default, Aggressive, SessionDefault, SessionAggressive]
            .into_iter()
            .zip(want)
        {
            let before = emulator.stats().site(site).requests.total;
            let body = json!({"url": format!("https://{site}/"), "httpResponseBody": true});
            let body = body.as_object().cloned().unwrap_or_default();
            client.extract(&body, policy).await.expect_err("an error");
            let made = emulator.stats().site(site).requests.total - before;
            assert_eq!(made, want, "{site} under {policy:?}");
        }
    }
}

/// The decisions a policy takes for `n` failures of `class` in a row.
fn decisions(policy: RetryPolicyName, class: ErrorClass, n: u32) -> Vec<Decision> {
    let mut state = RetryState::default();
    (0..n)
        .map(|_| state.decide(policy, class, Duration::ZERO))
        .collect()
}

fn error_wait(n: u32) -> Decision {
    Decision::Retry(Wait {
        low: 3.0,
        high: 7.0,
        extra: f64::from(2u32.pow(n - 1)).min(55.0),
    })
}

#[test]
fn download_errors_wait_u3_7_plus_exponential_and_stop_at_the_count() {
    let d = decisions(Default, ErrorClass::Download { permanent: false }, 4);
    assert_eq!(
        d,
        [error_wait(1), error_wait(2), error_wait(3), Decision::Stop]
    );
    let a = decisions(Aggressive, ErrorClass::Download { permanent: false }, 8);
    assert_eq!(a[6], error_wait(7));
    assert_eq!(a[7], Decision::Stop);
    for policy in [SessionDefault, SessionAggressive] {
        let s = decisions(policy, ErrorClass::Download { permanent: false }, 1);
        assert_eq!(s, [Decision::Stop], "{policy:?} never retries a 520");
    }
    // The 7th wait's extra term, 2^6 = 64 s, is capped at 55 s.
    assert_eq!(
        a[6],
        Decision::Retry(Wait {
            low: 3.0,
            high: 7.0,
            extra: 55.0
        })
    );
    let undocumented = decisions(Aggressive, ErrorClass::Undocumented, 4);
    assert_eq!(
        undocumented,
        [error_wait(1), error_wait(2), error_wait(3), Decision::Stop]
    );
}

#[test]
fn throttling_is_retried_forever_with_the_reference_wait_chain() {
    for policy in [Default, Aggressive, SessionDefault, SessionAggressive] {
        let d = decisions(policy, ErrorClass::Throttling, 12);
        let first = Wait {
            low: 20.0,
            high: 20.0,
            extra: 20.0,
        };
        assert_eq!(d[0], Decision::Retry(first), "{policy:?}");
        assert_eq!(d[1], Decision::Retry(first), "{policy:?}");
        let third = Wait {
            low: 30.0,
            high: 30.0,
            extra: 4.0,
        };
        assert_eq!(d[2], Decision::Retry(third), "{policy:?}");
        let last = Wait {
            low: 30.0,
            high: 30.0,
            extra: 600.0,
        };
        assert_eq!(
            d[11],
            Decision::Retry(last),
            "{policy:?}: 2^11 capped at 600"
        );
    }
}

#[test]
fn a_402_is_retried_once_without_a_wait_and_4xx_never() {
    for policy in [Default, Aggressive, SessionDefault, SessionAggressive] {
        let d = decisions(policy, ErrorClass::X402, 2);
        assert_eq!(
            d,
            [Decision::Retry(Wait::NONE), Decision::Stop],
            "{policy:?}"
        );
        for status in [400, 401, 403, 422, 451] {
            let class = ErrorClass::of_status(policy, status, None);
            assert_eq!(decisions(policy, class, 1), [Decision::Stop], "{status}");
        }
    }
}

#[test]
fn sampled_waits_stay_within_their_bounds() {
    let w = Wait {
        low: 3.0,
        high: 7.0,
        extra: 4.0,
    };
    assert_eq!(w.sample(0.0, 0.0, 1.0), Duration::from_secs(3));
    assert_eq!(w.sample(1.0, 1.0, 1.0), Duration::from_secs(11));
    assert_eq!(
        w.sample(0.5, 0.5, 0.0),
        Duration::ZERO,
        "scaled to zero in tests"
    );
}

/// Settings with one custom policy, `three-downloads` (3 attempts for 520/521, the rest as
/// `default`), and the given global choice.
fn with_custom(global: &str) -> session_host::settings::SessionSettings {
    let text = format!(
        "retry_policy = \"{global}\"\n\
         [retry_policies.three-downloads]\ndownload_attempts = 3\npermanent_download_attempts = 3\n"
    );
    let settings = session_host::settings::SessionSettings::from_toml_str(&text).expect("settings");
    session_host::settings::SessionSettings {
        queue_wait_time: 0.05,
        creation_retry_delay: 0.02,
        ..settings
    }
}

/// A request for `url` without sessions, choosing `policy` when given.
fn choosing(url: &str, policy: Option<&str>) -> session_host::engine::EngineRequest {
    let mut request = super::harness::get(url);
    request.controls.enabled = Some(false);
    request.retry_policy = policy.map(str::to_owned);
    request
}

/// Attempts the emulator saw for one request of `request` to `site`.
async fn attempts_of(
    h: &super::harness::Harness,
    site: &str,
    request: session_host::engine::EngineRequest,
) -> u64 {
    let before = h.emulator.stats().site(site).requests.total;
    let _ = h.send(request).await;
    h.emulator.stats().site(site).requests.total - before
}

#[tokio::test]
async fn issue_14_a_custom_policy_from_the_settings_sets_the_attempt_counts() {
    let h = super::harness::Harness::new(with_custom("three-downloads")).await;
    let url = "https://e520.example/";
    // The global choice, a custom policy, applies as it is to requests without sessions.
    assert_eq!(
        attempts_of(&h, "e520.example", choosing(url, None)).await,
        3
    );
    // A request chooses it by name, over another global choice.
    let h = super::harness::Harness::new(with_custom("session-default")).await;
    let three = choosing(url, Some("three-downloads"));
    assert_eq!(attempts_of(&h, "e520.example", three).await, 3);
}

#[tokio::test]
async fn issue_14_a_request_chooses_a_built_in_policy_by_name() {
    let h = super::harness::Harness::new(with_custom("session-default")).await;
    let url = "https://e520.example/";
    // No choice: `session-default`'s counterpart without sessions, `default` (4 attempts).
    assert_eq!(
        attempts_of(&h, "e520.example", choosing(url, None)).await,
        4
    );
    // The reference's `zyte_api_retry_policy`: the named policy, as it is.
    for (name, want) in [
        ("aggressive", 8),
        ("session-default", 1),
        ("default", 4),
        ("session-aggressive", 1),
    ] {
        let request = choosing(url, Some(name));
        assert_eq!(
            attempts_of(&h, "e520.example", request).await,
            want,
            "{name}"
        );
    }
}

#[tokio::test]
async fn issue_14_an_unknown_policy_name_is_bad_input_naming_the_field() {
    let h = super::harness::Harness::new(with_custom("session-default")).await;
    let request = choosing("https://example.com/", Some("patient"));
    let error = h.send(request).await.expect_err("refused");
    let session_host::engine::EngineError::BadInput(message) = &error else {
        panic!("{error:?}");
    };
    assert!(
        message.contains("sessionManagement.retryPolicy"),
        "{message}"
    );
    assert!(message.contains("\"patient\""), "{message}");
    assert!(
        message.contains("three-downloads"),
        "lists the custom ones: {message}"
    );
    assert_eq!(
        h.emulator.stats().site("example.com").requests.total,
        0,
        "nothing sent"
    );
}

/// The settings file of the binary tests: sessions off, no retry waits, the custom policy.
const BINARY_SETTINGS: &str = "[sessions]\nenabled = false\n\
    [sessions.retry_policies.three-downloads]\ndownload_attempts = 3\n\
    permanent_download_attempts = 3\n[upstream]\nwait_scale = 0.0\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_14_through_the_gateway_a_request_chooses_its_retry_policy() {
    let fixture = crate::gateway::Fixture::with(super::harness::scenario(""), &[], false).await;
    std::fs::write(fixture.path("session-host.toml"), BINARY_SETTINGS).expect("settings");
    let gateway = fixture.serve(&[], None).await;
    let client = reqwest::Client::new();
    let site = |f: &crate::gateway::Fixture| f.emulator.stats().site("e520.example").requests.total;
    for (policy, want) in [
        (None, 4),
        (Some("three-downloads"), 3),
        (Some("aggressive"), 8),
    ] {
        let mut body = json!({"url": "https://e520.example/", "httpResponseBody": true});
        if let Some(name) = policy {
            body["sessionManagement"] = json!({"retryPolicy": name});
        }
        let before = site(&fixture);
        let answer = client
            .post(format!("{}extract", gateway.api_url()))
            .json(&body)
            .send()
            .await
            .expect("an answer");
        assert_eq!(answer.status().as_u16(), 520, "{policy:?}");
        assert_eq!(site(&fixture) - before, want, "{policy:?}");
    }
    let body =
        json!({"url": "https://example.com/", "sessionManagement": {"retryPolicy": "patient"}});
    let answer = client
        .post(format!("{}extract", gateway.api_url()))
        .json(&body)
        .send()
        .await
        .expect("an answer");
    assert_eq!(answer.status().as_u16(), 400);
    let problem: serde_json::Value = answer.json().await.expect("problem+json");
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("sessionManagement.retryPolicy"),
        "{problem}"
    );
    assert!(detail.contains("three-downloads"), "{problem}");
    let body = json!({"url": "https://example.com/", "sessionManagement": {"retryPolicy": 7}});
    let answer = client
        .post(format!("{}extract", gateway.api_url()))
        .json(&body)
        .send()
        .await
        .expect("an answer");
    assert_eq!(answer.status().as_u16(), 400, "a name is a string");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_14_through_run_each_line_chooses_its_retry_policy() {
    let emulator = zyte_emulator::start(zyte_emulator::EmulatorConfig {
        scenario: super::harness::scenario(""),
        ..zyte_emulator::EmulatorConfig::default()
    })
    .await
    .expect("emulator");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let settings = dir.path().join("settings.toml");
    std::fs::write(&settings, BINARY_SETTINGS).expect("settings");
    let line = |policy: &str| {
        json!({"url": "https://e520.example/", "httpResponseBody": true,
               "sessionManagement": {"retryPolicy": policy}})
        .to_string()
    };
    let lines = [
        line("three-downloads"),
        line("patient"),
        line("session-default"),
    ];
    let input = dir.path().join("input.jsonl");
    std::fs::write(&input, lines.join("\n") + "\n").expect("input");
    let output = dir.path().join("answers.jsonl");
    let run = run_batch(&input, &output, &settings, &emulator.base_url()).await;
    let stderr = String::from_utf8_lossy(&run.stderr);
    let answers: std::collections::BTreeMap<u64, serde_json::Value> =
        std::fs::read_to_string(&output)
            .expect("answers")
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
            .map(|a| (a["_sessionHost"]["line"].as_u64().expect("line"), a))
            .collect();
    assert_eq!(answers.len(), 3, "one answer per line: {stderr}");
    // Lines 1 and 3: 3 + 1 attempts; line 2 was refused before sending.
    assert_eq!(emulator.stats().site("e520.example").requests.total, 4);
    assert_eq!(answers[&1]["error"]["status"], 520);
    let detail = answers[&2]["error"]["detail"].as_str().unwrap_or_default();
    assert_eq!(answers[&2]["error"]["status"], 400, "{}", answers[&2]);
    assert!(detail.contains("sessionManagement.retryPolicy"), "{detail}");
    assert_eq!(answers[&3]["error"]["status"], 520);
}
