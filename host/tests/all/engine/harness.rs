//! A running emulator and an engine pointed at it, on the store `SESSION_HOST_TEST_STORE` names.
//!
//! Issue 15 item 5: the acceptance scenarios pass on every store. `memory` (the default) is the
//! in-memory store; `durable` the embedded redb store, in a temporary state dir; `redis` the
//! Redis store, on a `redis-server` of its own per harness (testkit, free loopback port, stopped
//! by its pid). `scripts/test` runs this suite on each.

use std::sync::Arc;

use serde_json::{Value, json};
use session_host::engine::{Engine, EngineError, EngineRequest, EngineResponse, PoolSnapshot};
use session_host::plugin::{Address, GuestConfig, PoolSpec};
use session_host::settings::{SessionSettings, UpstreamSettings};
use session_host::store::{DurableStore, MemoryStore, PoolStore, RedisOptions, RedisStore};
use session_host::zyte::{ApiKey, Client};
use zyte_emulator::{EmulatorConfig, RunningEmulator, Scenario};

/// Settings for fast tests: sessions on, no randomness, short waits.
pub fn settings() -> SessionSettings {
    SessionSettings {
        enabled: true,
        randomize_delay: false,
        queue_wait_time: 0.1,
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

/// An emulator (frozen clock) and an engine.
pub struct Harness {
    /// The emulator.
    pub emulator: RunningEmulator,
    /// The engine.
    pub engine: Engine,
    /// What the store lives on, kept for the harness's lifetime.
    _backing: Backing,
}

/// What the engine's store lives on.
enum Backing {
    Memory,
    /// The state dir, removed on drop.
    Durable {
        _dir: tempfile::TempDir,
    },
    /// The server, stopped by its pid on drop.
    Redis {
        _server: session_host_testkit::redis::RedisServer,
    },
}

/// The store `SESSION_HOST_TEST_STORE` names, and what it lives on.
async fn store(settings: &SessionSettings) -> (Arc<dyn PoolStore>, Backing) {
    match std::env::var("SESSION_HOST_TEST_STORE").as_deref() {
        Err(_) | Ok("" | "memory") => {
            let store = MemoryStore::new(&settings.clone().with_deprecated_merged());
            (Arc::new(store), Backing::Memory)
        }
        Ok("durable") => {
            let dir = tempfile::tempdir().expect("temp dir");
            let (store, _) = DurableStore::open(dir.path(), settings).expect("state dir");
            (store, Backing::Durable { _dir: dir })
        }
        Ok("redis") => {
            let server = session_host_testkit::redis::RedisServer::start()
                .expect("SESSION_HOST_TEST_STORE=redis needs redis-server");
            // The pool bounds of the settings, held in Redis (issue 16).
            let options = RedisOptions {
                bounds: session_host::store::PoolLimits::from_settings(settings),
                ..RedisOptions::default()
            };
            let store = RedisStore::connect(&server.url(), options)
                .await
                .expect("the Redis store");
            (Arc::new(store), Backing::Redis { _server: server })
        }
        Ok(other) => panic!("SESSION_HOST_TEST_STORE={other}: expected memory, durable or redis"),
    }
}

impl Harness {
    /// With the built-in scenario.
    pub async fn new(settings: SessionSettings) -> Self {
        Self::with_scenario(settings, Scenario::builtin()).await
    }

    /// With a scenario given as TOML.
    pub async fn with_toml(settings: SessionSettings, toml: &str) -> Self {
        let scenario = Scenario::from_toml_str(toml).expect("scenario");
        Self::with_scenario(settings, scenario).await
    }

    async fn with_scenario(settings: SessionSettings, scenario: Scenario) -> Self {
        let config = EmulatorConfig {
            time_scale: 0.0,
            scenario,
            ..EmulatorConfig::default()
        };
        let emulator = zyte_emulator::start(config).await.expect("emulator");
        let (store, backing) = store(&settings).await;
        let engine = Engine::with_store(settings, client(&emulator), store);
        Self {
            emulator,
            engine,
            _backing: backing,
        }
    }

    /// Loads `plugins` into the engine.
    pub fn configs(&self, plugins: Vec<Arc<GuestConfig>>) {
        self.engine.set_configs(plugins).expect("rules compile");
    }

    /// Sends `request`.
    pub async fn send(&self, request: EngineRequest) -> Result<EngineResponse, EngineError> {
        self.engine.execute(request).await
    }

    /// Sends a plain `httpResponseBody` request for `url`; panics on error.
    pub async fn get(&self, url: &str) -> EngineResponse {
        self.send(get(url)).await.expect("a response")
    }

    /// Every pool as the store has it now: a shared store's views (Redis) are a copy fetched in
    /// the background, so they are fetched first ([`Engine::refresh_views`]); the scenarios read
    /// a pool right after their requests.
    pub async fn pools(&self) -> Vec<PoolSnapshot> {
        self.engine.refresh_views().await;
        self.engine.pools()
    }

    /// Sessions the emulator created for `site`.
    pub fn created(&self, site: &str) -> u64 {
        self.emulator.stats().site(site).sessions_created
    }

    /// An engine stat by its full name.
    pub fn stat(&self, name: &str) -> u64 {
        self.engine.stats().get(name)
    }
}

/// A `httpResponseBody` request for `url`.
pub fn get(url: &str) -> EngineRequest {
    let body = json!({"url": url, "httpResponseBody": true});
    EngineRequest::new(body.as_object().cloned().unwrap_or_default())
}

/// A session stat's full name.
pub fn s(key: &str) -> String {
    format!("scrapy-zyte-api/sessions/{key}")
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
pub fn pool(id: &str, size: Option<u32>) -> PoolSpec {
    PoolSpec {
        id: id.into(),
        size,
        delay: None,
        randomize_delay: None,
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

/// The target site's status code in a response body.
pub fn status_code(response: &EngineResponse) -> u64 {
    let body: Value = serde_json::from_str(&response.body).expect("json");
    body["statusCode"].as_u64().unwrap_or_default()
}
