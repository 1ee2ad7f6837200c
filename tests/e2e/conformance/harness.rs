//! An in-process emulator (frozen clock) and an engine pointed at it.

use serde_json::{Value, json};
use session_host::engine::{Engine, EngineError, EngineRequest, EngineResponse};
use session_host::plugin::{Address, PoolSpec};
use session_host::settings::{SessionSettings, UpstreamSettings};
use session_host::zyte::{ApiKey, Client};
use zyte_emulator::{EmulatorConfig, RunningEmulator, Scenario};

/// Sessions on, no randomness, short waits, no back-off, and the reference's pool ids: a
/// request's pool id is used as it is (`client_pool_prefix = ""`; by default it gets the prefix
/// `client/`, issue 13, proven in `engine::bounds` and `e2e::bounds`).
pub fn settings() -> SessionSettings {
    SessionSettings {
        enabled: true,
        client_pool_prefix: String::new(),
        randomize_delay: false,
        queue_wait_time: 0.05,
        creation_retry_delay: 0.02,
        init_failure_backoff: 0.0,
        ..SessionSettings::default()
    }
}

/// A client of `emulator` with zero retry waits.
pub fn client(emulator: &RunningEmulator) -> Client {
    let upstream = UpstreamSettings {
        url: emulator.base_url(),
        timeout_secs: 20.0,
        wait_scale: 0.0,
        ..UpstreamSettings::default()
    };
    Client::new(&upstream, ApiKey::new("test-key")).expect("client")
}

/// The emulator's built-in scenario plus `extra` sites.
pub fn scenario(extra: &str) -> Scenario {
    let builtin = include_str!("../../../emulator/scenarios/default.toml");
    Scenario::from_toml_str(&format!("{extra}\n{builtin}")).expect("scenario")
}

/// An emulator and an engine.
pub struct Harness {
    /// The emulator (frozen clock).
    pub emulator: RunningEmulator,
    /// The engine.
    pub engine: Engine,
}

impl Harness {
    /// With the built-in scenario.
    pub async fn new(settings: SessionSettings) -> Self {
        Self::with(settings, scenario("")).await
    }

    /// With `scenario`.
    pub async fn with(settings: SessionSettings, scenario: Scenario) -> Self {
        let config = EmulatorConfig {
            time_scale: 0.0,
            scenario,
            ..EmulatorConfig::default()
        };
        let emulator = zyte_emulator::start(config).await.expect("emulator");
        let engine = Engine::new(settings, client(&emulator));
        Self { emulator, engine }
    }

    /// Sends `request`.
    pub async fn send(&self, request: EngineRequest) -> Result<EngineResponse, EngineError> {
        self.engine.execute(request).await
    }

    /// Sends a plain request for `url`; panics on error.
    pub async fn get(&self, url: &str) -> EngineResponse {
        self.send(get(url)).await.expect("a response")
    }

    /// Zyte API sessions the emulator created for `site`.
    pub fn created(&self, site: &str) -> u64 {
        self.emulator.stats().site(site).sessions_created
    }

    /// A session stat (`scrapy-zyte-api/sessions/KEY`).
    pub fn stat(&self, key: &str) -> u64 {
        self.engine
            .stats()
            .get(&format!("scrapy-zyte-api/sessions/{key}"))
    }

    /// Any stat by its full name.
    pub fn raw_stat(&self, name: &str) -> u64 {
        self.engine.stats().get(name)
    }
}

/// A `httpResponseBody` request for `url`.
pub fn get(url: &str) -> EngineRequest {
    let body = json!({"url": url, "httpResponseBody": true});
    EngineRequest::new(body.as_object().cloned().unwrap_or_default())
}

/// `{"postalCode": code}`.
pub fn postal(code: &str) -> Address {
    Address {
        address_country: None,
        address_region: None,
        postal_code: Some(code.into()),
        street_address: None,
    }
}

/// A pool control.
pub fn pool(id: &str, size: Option<u32>, delay: Option<f64>, randomize: Option<bool>) -> PoolSpec {
    PoolSpec {
        id: id.into(),
        size,
        delay,
        randomize_delay: randomize,
    }
}

/// The Zyte API session id echoed in a response body.
pub fn session_of(response: &EngineResponse) -> String {
    let body: Value = serde_json::from_str(&response.body).expect("json");
    body["session"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The pool that served `response`.
pub fn pool_of(response: &EngineResponse) -> String {
    response
        .served_by
        .clone()
        .map(|s| s.pool)
        .unwrap_or_default()
}

/// Runs `session-host run` on `input` into `output`, one line at a time, with the settings file
/// `settings` and the upstream `upstream`; at most 60 s.
pub async fn run_batch(
    input: &std::path::Path,
    output: &std::path::Path,
    settings: &std::path::Path,
    upstream: &str,
) -> std::process::Output {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_session-host"))
        .env("XDG_STATE_HOME", crate::support::state_home())
        .arg("run")
        .arg(input)
        .arg("-o")
        .arg(output)
        .args(["--concurrency", "1", "--upstream", upstream])
        .arg("--config")
        .arg(settings)
        .env("ZYTE_API_KEY", "any")
        .env_remove("ZYTE_API_URL")
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(std::time::Duration::from_secs(60), run)
        .await
        .expect("the run ends")
        .expect("the run's output")
}
