//! `session-host serve` end to end (issue #6, item 1): the real binary, with the csrf-token
//! config in a configs folder, in front of the real emulator, driven with reqwest. What the
//! handler tests (`host/src/gateway/tests.rs`) cannot see: the process, its flags, its socket,
//! its signals and its logs.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use zyte_emulator::{EmulatorConfig, RunningEmulator, Scenario};

use crate::support::repo;

/// The only key the emulator accepts: the host's own Zyte API key.
pub(crate) const UPSTREAM_KEY: &str = "upstream-secret-4711";
/// A gateway key, in the tests that set one.
const GATEWAY_KEY: &str = "gateway-secret-0815";

/// The built-in scenario plus two slow sites, for the shutdown tests.
pub(crate) fn scenario() -> Scenario {
    let builtin = std::fs::read_to_string(repo().join("emulator/scenarios/default.toml"))
        .expect("the built-in scenario");
    let extra = r#"
[[site]]
domain = "slow.test"
latency = { kind = "fixed", ms = 1500 }

[[site]]
domain = "very-slow.test"
latency = { kind = "fixed", ms = 20000 }
"#;
    Scenario::from_toml_str(&format!("{builtin}\n{extra}")).expect("scenario")
}

/// An emulator that only accepts [`UPSTREAM_KEY`], and a folder with the gateway's files:
/// `session-host.toml` and `configs/`.
pub(crate) struct Fixture {
    pub(crate) emulator: RunningEmulator,
    pub(crate) dir: tempfile::TempDir,
}

impl Fixture {
    /// The extended scenario, sessions on, `csrf-token` and a broken config in the folder.
    async fn new() -> Self {
        let fixture = Self::with(scenario(), &["csrf-token"], true).await;
        std::fs::write(fixture.path("configs/broken.wasm"), b"not wasm").expect("broken.wasm");
        fixture
    }

    /// `scenario`, the prebuilt example `configs`, and `[sessions] enabled = sessions_enabled`
    /// (else requests opt in).
    pub(crate) async fn with(scenario: Scenario, configs: &[&str], sessions_enabled: bool) -> Self {
        let config = EmulatorConfig {
            scenario,
            api_keys: vec![UPSTREAM_KEY.into()],
            ..EmulatorConfig::default()
        };
        let emulator = zyte_emulator::start(config).await.expect("emulator");
        let dir = tempfile::tempdir().expect("temp dir");
        let folder = dir.path().join("configs");
        std::fs::create_dir(&folder).expect("configs dir");
        for name in configs {
            let wasm = format!("{name}.wasm");
            let example = repo().join("example-configs/dist").join(&wasm);
            std::fs::copy(example, folder.join(&wasm)).expect("copy an example config");
        }
        let settings = format!(
            "[sessions]\nenabled = {sessions_enabled}\nrandomize_delay = false\n\
             init_failure_backoff = 0.0\n\n[upstream]\nwait_scale = 0.0\n"
        );
        std::fs::write(dir.path().join("session-host.toml"), settings).expect("settings");
        Self { emulator, dir }
    }

    /// A file in the fixture's folder.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `serve` on an ephemeral loopback port, plus `extra` arguments.
    fn args(&self, extra: &[&str]) -> Vec<String> {
        let path = |p: &Path| p.to_str().expect("utf-8 path").to_owned();
        let mut args = vec![
            "serve".into(),
            "--config".into(),
            path(&self.dir.path().join("session-host.toml")),
            "--configs".into(),
            path(&self.dir.path().join("configs")),
            "--upstream".into(),
            self.emulator.base_url(),
            "--no-cache".into(),
            "--listen".into(),
            "127.0.0.1:0".into(),
        ];
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        args
    }

    /// Starts `session-host serve` with the fixture's files, plus `extra` arguments.
    pub(crate) async fn serve(&self, extra: &[&str], gateway_key: Option<&str>) -> Gateway {
        Gateway::start(&self.args(extra), gateway_key).await
    }
}

/// A running `session-host serve`, killed on drop.
pub(crate) struct Gateway {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    base: String,
    stderr: Arc<Mutex<String>>,
    pub(crate) client: reqwest::Client,
}

fn binary(args: &[String], gateway_key: Option<&str>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_session-host"));
    command
        .args(args)
        .env("ZYTE_API_KEY", UPSTREAM_KEY)
        .env_remove("ZYTE_API_URL")
        .env_remove("SESSION_HOST_GATEWAY_KEY")
        .env("XDG_STATE_HOME", crate::support::state_home())
        .env("RUST_LOG", "info");
    if let Some(key) = gateway_key {
        command.env("SESSION_HOST_GATEWAY_KEY", key);
    }
    command
}

impl Gateway {
    /// Starts the binary with `args` (the upstream key in `ZYTE_API_KEY`, `gateway_key` in
    /// `SESSION_HOST_GATEWAY_KEY`) and waits for its announce line.
    pub(crate) async fn start(args: &[String], gateway_key: Option<&str>) -> Self {
        let mut child = binary(args, gateway_key)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the binary starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut buf).await {
                sink.lock().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let announce = tokio::time::timeout(Duration::from_secs(60), lines.next_line()).await;
        let line = match announce {
            Ok(Ok(Some(line))) => line,
            other => panic!("no announce line ({other:?}); stderr:\n{}", stderr.lock()),
        };
        let base = line
            .strip_prefix("session-host gateway listening on ")
            .and_then(|url| url.strip_suffix("/v1/"))
            .unwrap_or_else(|| panic!("unexpected announce line {line:?}"))
            .to_owned();
        // Every Zyte API client sends JSON; a keyless gateway refuses other POSTs (issue #13).
        let mut json = reqwest::header::HeaderMap::new();
        json.insert(
            reqwest::header::CONTENT_TYPE,
            reqwest::header::HeaderValue::from_static("application/json"),
        );
        let client = reqwest::Client::builder()
            .default_headers(json)
            .pool_max_idle_per_host(0)
            .build()
            .expect("client");
        Self {
            child,
            base,
            stderr,
            client,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// The process id of the binary.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    /// The Zyte API URL clients are given: `http://127.0.0.1:PORT/v1/`.
    pub(crate) fn api_url(&self) -> String {
        self.url("/v1/")
    }

    /// POSTs `body` to `/v1/extract` with `key` as the Basic user name.
    pub(crate) async fn extract(
        &self,
        body: impl Into<reqwest::Body>,
        key: Option<&str>,
    ) -> Answer {
        let mut request = self.client.post(self.url("/v1/extract")).body(body);
        if let Some(key) = key {
            request = request.basic_auth(key, Some(""));
        }
        Answer::of(request.send().await.expect("the gateway answers")).await
    }

    pub(crate) async fn get(&self, path: &str, key: Option<&str>) -> Answer {
        let mut request = self.client.get(self.url(path));
        if let Some(key) = key {
            request = request.basic_auth(key, Some(""));
        }
        Answer::of(request.send().await.expect("the gateway answers")).await
    }

    async fn post(&self, path: &str) -> Answer {
        let response = self.client.post(self.url(path)).send().await;
        Answer::of(response.expect("the gateway answers")).await
    }

    pub(crate) fn terminate(&self) {
        let pid = self.child.id().expect("running").to_string();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// What the binary wrote to stderr so far.
    pub(crate) fn logs(&self) -> String {
        self.stderr.lock().clone()
    }

    /// What the binary wrote to stderr, once it holds `needle` or 5 s have passed: stderr is
    /// read from the pipe by a task of its own, so a line written just before an answer may
    /// not be in [`Self::logs`] yet when the answer arrives.
    pub(crate) async fn logs_with(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let logs = self.logs();
            if logs.contains(needle) || std::time::Instant::now() >= deadline {
                return logs;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A response, read.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    headers: reqwest::header::HeaderMap,
    pub(crate) json: Value,
}

impl Answer {
    async fn of(response: reqwest::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Self {
            status,
            headers,
            json,
        }
    }

    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Asserts a problem+json of ours with `status` and `slug`; returns its detail.
    pub(crate) fn problem(&self, status: u16, slug: &str) -> String {
        assert_eq!(self.status.as_u16(), status, "{}", self.json);
        assert_eq!(self.header("content-type"), "application/problem+json");
        let kind = format!("/session-host/problem/{slug}");
        assert_eq!(self.json["type"], kind.as_str(), "{}", self.json);
        assert_eq!(self.json["status"], status);
        assert!(self.json["title"].is_string());
        self.json["detail"].as_str().expect("detail").to_owned()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_manages_sessions_for_any_zyte_api_client() {
    let fixture = Fixture::new().await;
    let gateway = fixture.serve(&[], None).await;
    // The client's own key is not the upstream key: the host uses its own.
    let body = json!({"url": "https://csrf.example/search?q=1", "httpResponseBody": true,
        "sessionManagement": {"cookieMode": false}});
    let answer = gateway
        .extract(body.to_string(), Some("any-client-key"))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    assert_eq!(answer.header("content-type"), "application/json");
    // The csrf-token config added the token, so the site let the request through.
    assert_eq!(answer.json["statusCode"], 200, "{}", answer.json);
    assert_eq!(answer.header("x-session-pool"), "csrf.example");
    assert_eq!(answer.header("x-session-config"), "csrf-token");
    assert_eq!(answer.header("x-session-id").len(), 36);
    let site = fixture.emulator.stats().site("csrf.example");
    assert_eq!((site.sessions_created, site.session_uses), (1, 2));
    // The same, as the emulator serves it over HTTP.
    let stats: Value = reqwest::get(format!(
        "{}__emulator/stats",
        fixture.emulator.base_url().trim_end_matches("v1/")
    ))
    .await
    .expect("stats")
    .json()
    .await
    .expect("stats json");
    assert_eq!(
        stats["sites"]["csrf.example"]["sessions_created"], 1,
        "{stats}"
    );

    // A request without a session, by the client's choice.
    let body = json!({"url": "https://example.com/", "httpResponseBody": true,
        "sessionManagement": {"enabled": false}});
    let answer = gateway.extract(body.to_string(), None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    assert!(answer.headers.get("x-session-id").is_none());
    assert_eq!(
        fixture
            .emulator
            .stats()
            .site("example.com")
            .sessions_created,
        0
    );

    let status = gateway.get("/status", None).await.json;
    let configs = &status["configs"]["configs"];
    assert_eq!(configs[0]["name"], "csrf-token", "{status}");
    assert!(
        configs[0]["version"]
            .as_str()
            .is_some_and(|v| !v.is_empty())
    );
    assert_eq!(
        status["configs"]["problems"][0]["config"], "broken",
        "{status}"
    );
    assert_eq!(status["pools"][0]["id"], "csrf.example");
    assert_eq!(
        status["pools"][0]["sessions"][0]["id"],
        answer_session(&status)
    );
    let stat = "scrapy-zyte-api/sessions/use/check-passed";
    assert_eq!(status["stats"]["counters"][stat], 1);
    assert_eq!(
        gateway.get("/healthz", None).await.json,
        json!({"status": "ok"})
    );

    // The binary's Prometheus endpoint: the session counters, the pool and the config folder.
    let metrics = gateway.get("/metrics", None).await;
    assert_eq!(metrics.status, StatusCode::OK);
    let text = metrics.json.as_str().expect("Prometheus text");
    for series in [
        r#"session_host_session_events_total{pool="csrf.example",event="use/check-passed"} 1"#,
        r#"session_host_pool_closed{pool="csrf.example"} 0"#,
        "session_host_configs_loaded 1",
        "session_host_config_load_errors 1",
        "session_host_upstream_request_duration_seconds_count",
    ] {
        assert!(text.contains(series), "no {series} in:\n{text}");
    }

    let logs = gateway.logs();
    assert!(logs.contains("gateway listening"), "{logs}");
    assert!(
        !logs.contains(UPSTREAM_KEY),
        "the Zyte API key leaked into the log:\n{logs}"
    );
}

fn answer_session(status: &Value) -> Value {
    status["pools"][0]["sessions"][0]["id"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_passes_zyte_api_errors_through() {
    let fixture = Fixture::new().await;
    let gateway = fixture.serve(&[], None).await;
    let body = json!({"url": "https://csrf.example/", "httpResponseBody": true, "foo": 1});
    let answer = gateway.extract(body.to_string(), None).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.header("content-type"), "application/problem+json");
    assert_eq!(answer.json["type"], "/request/invalid");
    assert_eq!(answer.json["detail"], "Unrecognized field \"foo\"");
    assert_eq!(answer.header("request-id").len(), 32);
    assert_eq!(answer.header("x-session-config"), "csrf-token");
    let body =
        json!({"url": "https://example.com/", "httpResponseBody": true, "browserHtml": true});
    let answer = gateway.extract(body.to_string(), None).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        answer.json["type"], "/request/unprocessable",
        "{}",
        answer.json
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_answers_bad_input_with_problems() {
    let fixture = Fixture::new().await;
    let gateway = fixture.serve(&["--max-body-bytes", "2048"], None).await;
    let cases = [
        (
            "{\"url\": ",
            400,
            "invalid-json",
            "the request body is not valid JSON: EOF while parsing a value at line 1 column 8",
        ),
        (
            "[]",
            400,
            "bad-request",
            "the request body must be a JSON object, got an array",
        ),
        (
            "{\"httpResponseBody\": true}",
            400,
            "bad-request",
            "the request has no `url`",
        ),
        (
            r#"{"url": "https://example.com/", "sessionManagement": {"enabled": true, "poolId": "x"}}"#,
            400,
            "bad-request",
            "unknown key `sessionManagement.poolId`; expected one of: enabled, cookieMode, params, location, retryPolicy, pool",
        ),
        (
            r#"{"url": "https://example.com/", "sessionManagement": {"location": "10001"}}"#,
            400,
            "bad-request",
            "`sessionManagement.location` must be an object, got a string",
        ),
    ];
    for (body, status, slug, detail) in cases {
        let answer = gateway.extract(body, None).await;
        assert_eq!(answer.problem(status, slug), detail);
    }
    let big = json!({"url": "https://example.com/", "echoData": "x".repeat(4096)});
    let answer = gateway.extract(big.to_string(), None).await;
    let detail = answer.problem(413, "payload-too-large");
    assert!(detail.ends_with("the limit is 2048 bytes"), "{detail}");
    assert_eq!(
        fixture.emulator.stats().requests.total,
        0,
        "nothing reached Zyte API"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_requires_the_gateway_key_when_one_is_set() {
    let fixture = Fixture::new().await;
    let gateway = fixture.serve(&[], Some(GATEWAY_KEY)).await;
    let body = json!({"url": "https://example.com/", "httpResponseBody": true}).to_string();
    for key in [None, Some("wrong")] {
        let answer = gateway.extract(body.clone(), key).await;
        answer.problem(401, "unauthorized");
        assert_eq!(
            answer.header("www-authenticate"),
            r#"Basic realm="session-host""#
        );
        gateway
            .get("/status", key)
            .await
            .problem(401, "unauthorized");
    }
    gateway
        .post("/pools/example.com/reopen")
        .await
        .problem(401, "unauthorized");
    let answer = gateway.extract(body, Some(GATEWAY_KEY)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    let status = gateway.get("/status", Some(GATEWAY_KEY)).await;
    assert_eq!(status.json["gateway"]["key_required"], true);
    let listen = status.json["gateway"]["listen"]
        .as_str()
        .map(|l| format!("http://{l}"));
    assert_eq!(listen.as_deref(), Some(gateway.base.as_str()));
    assert_eq!(gateway.get("/healthz", None).await.status, StatusCode::OK);
    let logs = gateway.logs();
    assert!(
        !logs.contains(GATEWAY_KEY) && !logs.contains(UPSTREAM_KEY),
        "{logs}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_refuses_an_open_address_without_a_key() {
    let args: Vec<String> = ["serve", "--listen", "0.0.0.0:0"]
        .map(String::from)
        .to_vec();
    let out = binary(&args, None).output().await.expect("the binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: refusing to listen on 0.0.0.0:0 without a gateway key"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_reports_and_reopens_a_closed_pool() {
    let fixture = Fixture::new().await;
    let gateway = fixture.serve(&[], None).await;
    let body = json!({"url": "https://no-location-support.example/", "browserHtml": true,
        "sessionManagement": {"location": {"postalCode": "10001"}, "pool": "nls"}});
    for _ in 0..2 {
        let answer = gateway.extract(body.to_string(), None).await;
        let detail = answer.problem(409, "pool-closed");
        assert!(detail.contains("unsupported_set_location"), "{detail}");
        // A request-named pool is `client/ID` (issue 13).
        assert_eq!(answer.json["pool"], "client/nls");
        assert_eq!(answer.json["reason"], "unsupported_set_location");
    }
    // The second request failed fast: one init, no more.
    let site = fixture.emulator.stats().site("no-location-support.example");
    assert_eq!(site.requests.total, 1);
    let status = gateway.get("/status", None).await.json;
    assert_eq!(
        status["pools"][0]["closed"], "unsupported_set_location",
        "{status}"
    );
    let answer = gateway.post("/pools/client%2Fnls/reopen").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json, json!({"pool": "client/nls", "reopened": true}));
    let status = gateway.get("/status", None).await.json;
    assert_eq!(status["pools"][0]["closed"], Value::Null);
    gateway
        .post("/pools/client%2Fnls/reopen")
        .await
        .problem(409, "pool-not-closed");
    gateway
        .post("/pools/nope/reopen")
        .await
        .problem(404, "pool-not-found");
}

/// Sends a slow request in the background.
fn in_flight(gateway: &Gateway, host: &str) -> tokio::task::JoinHandle<Answer> {
    let body = json!({"url": format!("https://{host}/"), "httpResponseBody": true,
        "sessionManagement": {"enabled": false}});
    let request = gateway
        .client
        .post(gateway.url("/v1/extract"))
        .body(body.to_string());
    tokio::spawn(async move { Answer::of(request.send().await.expect("answered")).await })
}

/// Waits for the process to exit; returns its exit code and how long it took.
pub(crate) async fn exit(gateway: &mut Gateway, within: Duration) -> (Option<i32>, Duration) {
    let start = Instant::now();
    let status = tokio::time::timeout(within, gateway.child.wait())
        .await
        .expect("the gateway exits in time")
        .expect("wait");
    (status.code(), start.elapsed())
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_in_flight_requests_and_refuses_new_ones() {
    let fixture = Fixture::new().await;
    let mut gateway = fixture.serve(&[], None).await;
    let slow = in_flight(&gateway, "slow.test");
    tokio::time::sleep(Duration::from_millis(400)).await;
    gateway.terminate();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let refused = reqwest::get(gateway.url("/healthz")).await;
    assert!(
        refused.is_err(),
        "a new connection was accepted after SIGTERM"
    );
    let answer = slow.await.expect("task");
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    assert_eq!(answer.json["url"], "https://slow.test/");
    let (code, _) = exit(&mut gateway, Duration::from_secs(10)).await;
    assert_eq!(code, Some(0), "{}", gateway.logs());
    let logs = gateway.logs();
    assert!(
        logs.contains("SIGTERM received") && logs.contains("gateway stopped"),
        "{logs}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn after_the_shutdown_timeout_running_requests_get_a_503() {
    let fixture = Fixture::new().await;
    let mut gateway = fixture
        .serve(&["--shutdown-timeout-secs", "0.5"], None)
        .await;
    let stuck = in_flight(&gateway, "very-slow.test");
    tokio::time::sleep(Duration::from_millis(400)).await;
    gateway.terminate();
    let answer = stuck.await.expect("task");
    let detail = answer.problem(503, "shutting-down");
    assert!(detail.contains("retry it"), "{detail}");
    let (code, took) = exit(&mut gateway, Duration::from_secs(10)).await;
    assert_eq!(code, Some(0), "{}", gateway.logs());
    assert!(took < Duration::from_secs(5), "{took:?}");
}

/// A request whose session inits fine (on example.com) but whose own URL is throttled forever.
fn throttled_forever() -> Value {
    json!({"url": "https://e429.example/", "httpResponseBody": true,
        "sessionManagement": {"params": {"url": "https://example.com/", "httpResponseBody": true}}})
}

/// Requests using a session right now, over every pool of `/status`.
fn in_flight_sessions(status: &Value) -> (usize, u64) {
    let sessions: Vec<&Value> = status["pools"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["sessions"].as_array().into_iter().flatten())
        .collect();
    let in_flight = sessions
        .iter()
        .filter_map(|s| s["in_flight"].as_u64())
        .sum();
    (sessions.len(), in_flight)
}

#[tokio::test(flavor = "multi_thread")]
async fn issue_12_a_throttled_request_gets_its_504_in_time_then_frees_its_session() {
    let fixture = Fixture::new().await;
    let gateway = fixture
        .serve(&["--request-timeout-secs", "1.5"], None)
        .await;
    let start = Instant::now();
    let answer = gateway.extract(throttled_forever().to_string(), None).await;
    let took = start.elapsed();
    let detail = answer.problem(504, "timeout");
    assert!(detail.contains("1.5s"), "{detail}");
    assert!(
        took < Duration::from_millis(1500 + 300),
        "answered {took:?} after the request, for a 1.5 s deadline"
    );
    // The engine stopped at the 504: its session is free, and Zyte API hears no more of it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let calls = fixture.emulator.stats().requests.total;
    let status = gateway.get("/status", None).await.json;
    assert_eq!(in_flight_sessions(&status), (1, 0), "{status}");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        fixture.emulator.stats().requests.total,
        calls,
        "Zyte API was still called after the 504"
    );
}

/// Issue 17: the gateway runs the engine without the engine's own timer around the request
/// (`Engine::execute_guarded`: the guard ends the request at the same deadline). A request with
/// sessions whose deadline passes while it waits still gets the engine's 504, naming what it
/// waited for, in time; not the guard's backstop, which names nothing.
#[tokio::test(flavor = "multi_thread")]
async fn issue_17_a_guarded_request_still_gets_the_engines_504_naming_what_it_waited_for() {
    let fixture = Fixture::new().await;
    let gateway = fixture.serve(&["--request-timeout-secs", "1"], None).await;
    let start = Instant::now();
    let answer = gateway.extract(throttled_forever().to_string(), None).await;
    let took = start.elapsed();
    let detail = answer.problem(504, "timeout");
    assert!(
        detail.starts_with("the request was not answered within its 1s deadline: "),
        "{detail}"
    );
    assert!(!detail.contains("took longer than the gateway"), "{detail}");
    assert!(
        took < Duration::from_millis(1000 + 300),
        "answered {took:?} after the request, for a 1 s deadline"
    );
}

/// Issue #13, item 3: sidecars (and configs) that are links out of the folder — to the host's
/// own `/proc/self/environ`, or to a file shaped like it — are refused by name, and the key
/// behind them appears nowhere: not in `/status`, the logs, `/metrics` or any problem.
#[tokio::test(flavor = "multi_thread")]
async fn issue_13_the_key_never_leaks_through_a_linked_sidecar() {
    let fixture = Fixture::with(scenario(), &["csrf-token", "location"], true).await;
    let environ = fixture.path("environ");
    let planted = format!(
        "HOME=/root\0ZYTE_API_KEY={UPSTREAM_KEY}\0PATH=/bin\nZYTE_API_KEY={UPSTREAM_KEY}\n"
    );
    std::fs::write(&environ, planted).expect("environ");
    let link = |target: &Path, name: &str| {
        std::os::unix::fs::symlink(target, fixture.path("configs").join(name)).expect("link");
    };
    link(Path::new("/proc/self/environ"), "csrf-token.toml");
    link(&environ, "location.toml");
    link(&environ, "leak.wasm");
    let gateway = fixture.serve(&[], None).await;
    let body = json!({"url": "https://example.com/", "browserHtml": true,
        "sessionManagement": {"pool": "x"}});
    let extract = gateway.extract(body.to_string(), None).await;
    let status = gateway.get("/status", None).await;
    let metrics = gateway.get("/metrics", None).await;
    let problems = status.json["configs"]["problems"].to_string();
    for name in ["csrf-token.toml", "location.toml", "leak.wasm"] {
        assert!(problems.contains(name), "{name} not reported: {problems}");
    }
    assert!(
        problems.contains("outside the configs folder"),
        "{problems}"
    );
    let everything = format!(
        "{}\n{}\n{}\n{}",
        extract.json,
        status.json,
        metrics.json,
        gateway.logs()
    );
    assert!(
        !everything.contains(UPSTREAM_KEY),
        "the key leaked:\n{everything}"
    );
    assert!(
        !everything.contains("ZYTE_API_KEY="),
        "the file leaked:\n{everything}"
    );
}

/// Issue 12: the URL that used to panic the host (a 500 quoting the panic) is answered like any
/// other, an absurd one is a 400 before it reaches the engine, and the gateway goes on serving.
#[tokio::test(flavor = "multi_thread")]
async fn issue_12_crash_urls_get_clear_answers_and_the_gateway_goes_on() {
    let fixture = Fixture::new().await;
    let gateway = fixture.serve(&[], None).await;
    let crash = json!({"url": "https://x.рф../", "httpResponseBody": true});
    let answer = gateway.extract(crash.to_string(), None).await;
    assert_ne!(
        answer.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        answer.json
    );
    assert!(
        !answer.json.to_string().contains("panicked"),
        "{}",
        answer.json
    );
    let huge = json!({"url": format!("https://{}.example/", "a".repeat(70_000))});
    let started = Instant::now();
    let answer = gateway.extract(huge.to_string(), None).await;
    let detail = answer.problem(400, "bad-request");
    assert_eq!(
        detail,
        "`url` is 70017 characters long; the limit is 8192 (Zyte API's)"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "refused at once"
    );
    let fine = json!({"url": "https://example.com/", "httpResponseBody": true});
    assert_eq!(
        gateway.extract(fine.to_string(), None).await.status,
        StatusCode::OK
    );
    assert!(!gateway.logs().contains("panicked"), "{}", gateway.logs());
}
