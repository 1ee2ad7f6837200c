//! Shared helpers: an emulator on an ephemeral port and a client for it.

use serde_json::Value;
use zyte_emulator::{EmulatorConfig, RunningEmulator, Scenario, start};

/// The API key the tests use.
pub const KEY: &str = "TESTKEY";

/// An emulator with the built-in scenario and a frozen clock (tests advance it).
pub async fn emulator() -> RunningEmulator {
    emulator_with(Scenario::builtin()).await
}

/// An emulator with `scenario` and a frozen clock.
pub async fn emulator_with(scenario: Scenario) -> RunningEmulator {
    let config = EmulatorConfig {
        scenario,
        time_scale: 0.0,
        ..EmulatorConfig::default()
    };
    start(config).await.expect("emulator starts")
}

/// A plain HTTP client.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().build().expect("client")
}

/// POSTs `body` to `/v1/extract` with the test key.
pub async fn extract(emulator: &RunningEmulator, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}extract", emulator.base_url()))
        .basic_auth(KEY, Some(""))
        .json(body)
        .send()
        .await
        .expect("response")
}

/// Status and JSON body of an extract call.
pub async fn extract_json(emulator: &RunningEmulator, body: &Value) -> (u16, Value) {
    let response = extract(emulator, body).await;
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

/// A fresh `session` object.
pub fn new_session() -> Value {
    serde_json::json!({"id": uuid::Uuid::new_v4().to_string()})
}
