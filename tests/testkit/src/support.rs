//! Shared fixtures: the repository, one plugin runtime per test binary, requests, the
//! emulator and a downloader that talks to it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use futures::future::BoxFuture;
use serde_json::Map;
use session_host::plugin::{
    ApiError, CallEnv, DownloadError, Downloader, GuestConfig, Limits, Request, Response, Runtime,
};
use session_host::wire;

/// One runtime for the whole test binary: an engine per test would reserve the pooling
/// allocator's address space many times over.
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| Runtime::new(Limits::default()).expect("the runtime starts"))
}

/// Loads `bytes` as config `name` into the shared runtime.
pub async fn load(
    name: &str,
    bytes: Vec<u8>,
) -> Result<GuestConfig, session_host::plugin::LoadError> {
    runtime().load_bytes(name, bytes, CallEnv::default()).await
}

/// A plain request for `url`.
pub fn request(url: &str) -> Request {
    wire::request_from_body(url.into(), &Map::new(), wire::no_controls())
}

/// The repository root: the first folder holding `wit/session-config.wit`, going up from the
/// running package's `CARGO_MANIFEST_DIR` (read at run time: cargo sets it for test and bench
/// runs), else from this crate's compile-time folder. Read at run time first because cargo names
/// a workspace member's binaries by their path relative to the workspace, so another checkout
/// sharing the target directory can leave a binary whose compile-time path is the other
/// checkout's.
pub fn repo() -> PathBuf {
    let start = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    start
        .ancestors()
        .find(|dir| dir.join("wit/session-config.wit").is_file())
        .map_or(start.clone(), Path::to_path_buf)
}

/// A `Downloader` that sends init requests to a running emulator, adding the session like the
/// engine does: `session: {"id": …}` unless the request sets `session` to null (cookie mode).
pub struct EmulatorDownloader {
    /// The emulator's `/v1/` URL.
    pub base_url: String,
    /// The session being initialised.
    pub session_id: String,
    client: reqwest::Client,
}

impl EmulatorDownloader {
    /// A downloader for `session_id` against the emulator at `base_url`.
    pub fn new(base_url: String, session_id: String) -> Self {
        Self {
            base_url,
            session_id,
            client: reqwest::Client::new(),
        }
    }

    /// Sends `request` (with `session_id`'s session unless it opts out).
    pub async fn send(&self, request: &Request) -> Result<Response, DownloadError> {
        send(&self.client, &self.base_url, &self.session_id, request).await
    }
}

impl Downloader for EmulatorDownloader {
    fn download(&self, request: Request) -> BoxFuture<'static, Result<Response, DownloadError>> {
        let (client, base, sid) = (
            self.client.clone(),
            self.base_url.clone(),
            self.session_id.clone(),
        );
        Box::pin(async move { send(&client, &base, &sid, &request).await })
    }
}

async fn send(
    client: &reqwest::Client,
    base: &str,
    sid: &str,
    request: &Request,
) -> Result<Response, DownloadError> {
    let mut body = wire::body_from_request(request).map_err(DownloadError::Refused)?;
    body.insert("url".into(), request.url.clone().into());
    match body.get("session") {
        Some(serde_json::Value::Null) => drop(body.remove("session")),
        Some(_) => {}
        None => drop(body.insert("session".into(), serde_json::json!({"id": sid}))),
    }
    let answer = client
        .post(format!("{base}extract"))
        .basic_auth("test-key", Some(""))
        .json(&body)
        .send()
        .await
        .map_err(|e| DownloadError::Transport(e.to_string()))?;
    let status = answer.status().as_u16();
    let text = answer
        .text()
        .await
        .map_err(|e| DownloadError::Transport(e.to_string()))?;
    if status == 200 {
        return Ok(Response { status, body: text });
    }
    let problem_type = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned));
    Err(DownloadError::Api(ApiError {
        status,
        problem_type,
        body: text,
    }))
}

/// Starts the emulator with its built-in scenario on an ephemeral port.
pub async fn emulator() -> zyte_emulator::RunningEmulator {
    zyte_emulator::start(zyte_emulator::EmulatorConfig::default())
        .await
        .expect("the emulator starts")
}

/// For benches: the emulator at zero latency with its clock frozen (`time_scale` 0), serving
/// `scenario` (its built-in one when `None`), and the upstream settings that reach it with
/// retry waits scaled to nothing, so that only the host's own cost is measured.
pub async fn instant_emulator(
    scenario: Option<zyte_emulator::Scenario>,
) -> (
    zyte_emulator::RunningEmulator,
    session_host::settings::UpstreamSettings,
) {
    let mut config = zyte_emulator::EmulatorConfig {
        time_scale: 0.0,
        ..zyte_emulator::EmulatorConfig::default()
    };
    if let Some(scenario) = scenario {
        config.scenario = scenario;
    }
    let emulator = zyte_emulator::start(config)
        .await
        .expect("the emulator starts");
    let upstream = session_host::settings::UpstreamSettings {
        url: emulator.base_url(),
        wait_scale: 0.0,
        ..session_host::settings::UpstreamSettings::default()
    };
    (emulator, upstream)
}

/// Loads a prebuilt example config from `example-configs/dist/`.
pub async fn example(name: &str) -> GuestConfig {
    let path = repo()
        .join("example-configs/dist")
        .join(format!("{name}.wasm"));
    runtime()
        .load_file(&path, CallEnv::default())
        .await
        .expect("the example loads")
}

/// A fresh `XDG_STATE_HOME` for one spawned `session-host` (issue 15): no test writes to the
/// user's `~/.local/state`, and no two processes share a state dir (the second would be
/// refused). The dirs sit in one temp dir per test binary, left for the OS to clean.
pub fn state_home() -> PathBuf {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let base = BASE.get_or_init(|| {
        tempfile::Builder::new()
            .prefix("session-host-test-state-")
            .tempdir()
            .expect("a temp dir")
            .keep()
    });
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    base.join(n.to_string())
}
