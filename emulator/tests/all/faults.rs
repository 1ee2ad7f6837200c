//! Faults that only show on a real connection: resets and slow bodies.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{KEY, client, emulator, emulator_with, extract_json};

#[tokio::test]
async fn resets_drop_the_connection_without_a_response() {
    let emulator = emulator().await;
    let result = client()
        .post(format!("{}extract", emulator.base_url()))
        .basic_auth(KEY, Some(""))
        .json(&json!({"url": "https://reset.example/", "browserHtml": true}))
        .send()
        .await;
    assert!(
        result.is_err(),
        "a reset must not produce a response: {result:?}"
    );
    assert_eq!(emulator.stats().site("reset.example").requests.status(0), 1);
    // The server is still fine afterwards.
    let (status, _) = extract_json(
        &emulator,
        &json!({"url": "https://example.com/", "browserHtml": true}),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn slow_bodies_arrive_complete_but_late() {
    let mut scenario = zyte_emulator::Scenario::builtin();
    scenario.policy.slow_body_chunks = 4;
    scenario.policy.slow_body_chunk_delay_ms = 50;
    let emulator = emulator_with(scenario).await;
    let started = Instant::now();
    let (status, body) = extract_json(
        &emulator,
        &json!({"url": "https://slow-body.example/", "browserHtml": true}),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body["browserHtml"].is_string());
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn global_fault_rates_are_deterministic_under_a_seed() {
    let run = |seed: u64| async move {
        let mut scenario = zyte_emulator::Scenario::builtin();
        scenario.faults.e520 = 0.2;
        scenario.faults.e429 = 0.2;
        let config = zyte_emulator::EmulatorConfig {
            scenario,
            seed,
            time_scale: 0.0,
            ..Default::default()
        };
        let emulator = zyte_emulator::start(config).await.expect("starts");
        let mut statuses = Vec::new();
        for i in 0..30 {
            let url = format!("https://example.com/{}", i % 3);
            statuses.push(
                extract_json(&emulator, &json!({"url": url, "browserHtml": true}))
                    .await
                    .0,
            );
        }
        emulator.shutdown().await;
        statuses
    };
    let first = run(11).await;
    assert_eq!(first, run(11).await);
    assert!(
        first.contains(&520) && first.contains(&429) && first.contains(&200),
        "{first:?}"
    );
}
