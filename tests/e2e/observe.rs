//! Observability from the first second (issue 19, item 4): the real `serve` binary's
//! `/metrics` before any request, its log lines on a pipe, and its request ids.

use serde_json::json;
use session_host::telemetry::FAMILIES;

use crate::gateway::{Fixture, Gateway};

async fn fixture() -> Fixture {
    let scenario = zyte_emulator::Scenario::builtin();
    Fixture::with(scenario, &["csrf-token"], true).await
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test(flavor = "multi_thread")]
async fn issue_19_a_fresh_gateway_lists_every_metric_family() {
    let fixture = fixture().await;
    let gateway = fixture.serve(&[], None).await;
    let url = format!("{}/metrics", gateway.base());
    let text = client()
        .get(url)
        .send()
        .await
        .expect("answer")
        .text()
        .await
        .expect("text");
    for (name, kind, _) in FAMILIES {
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "{name} has no HELP:\n{text}"
        );
        let kind = kind.as_str();
        assert!(
            text.contains(&format!("# TYPE {name} {kind}\n")),
            "{name} has no TYPE"
        );
    }
    let zero = r#"session_host_hook_duration_seconds_count{config="csrf-token",hook="check"} 0"#;
    assert!(text.lines().any(|l| l == zero), "{text}");
    let ok = r#"session_host_requests_total{front="gateway",outcome="ok"} 0"#;
    assert!(text.lines().any(|l| l == ok), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn issue_19_logs_on_a_pipe_have_no_colour_and_carry_the_request_id() {
    let fixture = fixture().await;
    let gateway: Gateway = fixture.serve(&[], None).await;
    let body = json!({"url": "https://no-location-support.example/", "browserHtml": true,
        "sessionManagement": {"location": {"postalCode": "10001"}, "pool": "nls"}});
    let extract = format!("{}/v1/extract", gateway.base());
    let answer = client()
        .post(&extract)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("answer");
    assert_eq!(answer.status(), 409);
    let generated = answer.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_eq!(generated.len(), 32, "a UUID: {generated}");
    let reopen = format!("{}/pools/client%2Fnls/reopen", gateway.base());
    let answer = client()
        .post(&reopen)
        .header("content-type", "application/json")
        .header("x-request-id", "trace-4711")
        .send()
        .await
        .expect("answer");
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["x-request-id"], "trace-4711");
    let logs = gateway.logs_with("reopened by an operator").await;
    let line = logs
        .lines()
        .find(|l| l.contains("reopened by an operator"))
        .unwrap_or_else(|| panic!("no reopen line:\n{logs}"));
    assert!(line.contains("request_id=trace-4711"), "{line}");
    assert!(
        !logs.contains('\u{1b}'),
        "ANSI escapes on a pipe:\n{logs:?}"
    );
    // Too long, or not printable: replaced.
    for sent in ["x".repeat(65), "two words".to_owned()] {
        let url = format!("{}/healthz", gateway.base());
        let answer = client()
            .get(url)
            .header("x-request-id", &sent)
            .send()
            .await
            .expect("answer");
        let id = answer.headers()["x-request-id"].to_str().expect("ascii");
        assert!(id != sent && id.len() == 32, "{id}");
    }
}
