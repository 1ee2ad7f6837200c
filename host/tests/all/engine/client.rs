//! The Zyte API client against the emulator: retry policies, error decoding, the key.

use serde_json::json;
use session_host::settings::RetryPolicyName::{self, *};
use session_host::zyte::ZyteError;

use super::harness::client;

async fn attempts(site: &str, policy: RetryPolicyName) -> (u64, ZyteError) {
    let emulator = zyte_emulator::start(zyte_emulator::EmulatorConfig {
        time_scale: 0.0,
        ..zyte_emulator::EmulatorConfig::default()
    })
    .await
    .expect("emulator");
    let body = json!({"url": format!("https://{site}/"), "httpResponseBody": true});
    let error = client(&emulator)
        .extract(body.as_object().expect("object"), policy)
        .await
        .expect_err("an error");
    (emulator.stats().site(site).requests.total, error)
}

#[tokio::test]
async fn retry_policies_make_the_reference_attempt_counts() {
    for (site, policy, want) in [
        ("e520.example", Default, 4),
        ("e520.example", Aggressive, 8),
        ("e520.example", SessionDefault, 1),
        ("e520.example", SessionAggressive, 1),
        ("e521.example", Default, 2),
        ("e521.example", Aggressive, 4),
        ("e500.example", SessionDefault, 2),
        ("e500.example", SessionAggressive, 4),
    ] {
        let (made, _) = attempts(site, policy).await;
        assert_eq!(made, want, "{site} under {policy:?}");
    }
}

#[tokio::test]
async fn errors_are_decoded_and_never_show_the_key() {
    let (_, error) = attempts("e520.example", SessionDefault).await;
    assert_eq!(error.status(), Some(520));
    assert_eq!(error.problem_type(), Some("/download/temporary-error"));
    let ZyteError::Api { request_id, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(request_id.as_ref().map(String::len), Some(32));
    for text in [format!("{error}"), format!("{error:?}")] {
        assert!(!text.contains("test-key"), "{text}");
    }
    let emulator = super::harness::Harness::new(super::harness::settings()).await;
    let shown = format!("{:?}", client(&emulator.emulator));
    assert!(
        !shown.contains("test-key") && (shown.contains("***") || shown.contains("Sensitive")),
        "{shown}"
    );
}

#[tokio::test]
async fn a_success_returns_the_raw_body() {
    let h = super::harness::Harness::new(super::harness::settings()).await;
    let body = json!({"url": "https://example.com/", "httpResponseBody": true});
    let answer = client(&h.emulator)
        .extract(body.as_object().unwrap(), Default)
        .await
        .unwrap();
    assert_eq!(answer.status, 200);
    assert!(
        answer.body.contains("\"statusCode\":200"),
        "{}",
        answer.body
    );
}
