//! Conformance (issue #7): every language build of each example config behaves identically.
//!
//! Policy:
//! - **Languages** come from one table, [`LANGUAGES`]: a language joins by adding its build
//!   there (and to `example-configs/build`), never by adding tests. Rust is the reference.
//! - **Scenarios** are written once per example. Each drives the config through the real host
//!   runtime (`session_host::plugin`, default [`Limits`](session_host::plugin::Limits), so a
//!   config that needs more than the defaults fails here) and a fresh in-process emulator, and
//!   records every observable outcome in a [`Record`]: rules, pool ids, locations, init params,
//!   the init requests sent to Zyte API, init results, check verdicts, modified requests,
//!   session data, errors, and the emulator's counters.
//! - **Comparison**: all languages must produce records equal to Rust's. Session-data values
//!   minted by the emulator at random (the CSRF token) are replaced by `<session-data:KEY>`
//!   before comparing, wherever they appear. An error a hook returns is compared up to its first
//!   colon: the part the config writes, before any library's own text (a JSON parser's message
//!   differs between languages). Traps and limit failures are compared by kind.
//! - **Missing builds**: the Python, JavaScript and C builds are not committed (tens of MB each
//!   for the first two).
//!   A missing one fails the test, naming `example-configs/build`, unless
//!   `SESSION_HOST_SKIP_POLYGLOT=1` is set. CI builds them.
//!
//! Run: `cargo test --release -p session-host --test all conformance`.

use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;
use parking_lot::Mutex;
use serde_json::{Map, Value, json};
use session_host::plugin::{
    Address, ApiError, CallEnv, DownloadError, Downloader, GuestConfig, HookError, HookErrorKind,
    InitError, PoolSpec, Request, Response, UrlRules, Verdict,
};
use session_host::session_data::SessionData;
use zyte_emulator::RunningEmulator;

use crate::support::{self, EmulatorDownloader};

/// The builds of every language: name, and the folder (under the repository) holding
/// `NAME.wasm` for each example. The first is the reference the others are compared with.
pub const LANGUAGES: &[(&str, &str)] = &[
    ("rust", "example-configs/dist"),
    ("python", "example-configs/dist/python"),
    ("js", "example-configs/dist/js"),
    ("c", "example-configs/dist/c"),
    // The Rust builds of WIT 0.1.0, committed and never rebuilt (issue 18: configs in the field
    // behave identically on a host of a later compatible version).
    ("rust-wit-0.1.0", "tests/guests/wit-0.1.0"),
];

/// The environment variable that lets the suite skip languages whose build is missing.
const SKIP_POLYGLOT: &str = "SESSION_HOST_SKIP_POLYGLOT";

/// Session ids used by the scenarios: fixed, so that records do not depend on the run.
const SID: [&str; 4] = [
    "00000000-0000-4000-8000-000000000001",
    "00000000-0000-4000-8000-000000000002",
    "00000000-0000-4000-8000-000000000003",
    "00000000-0000-4000-8000-000000000004",
];

/// The observable outcomes of one scenario run, in order: (step, outcome).
#[derive(Debug, Default)]
pub struct Record {
    steps: Vec<(String, Value)>,
    /// Session-data values to redact: (key, value).
    secrets: Vec<(String, String)>,
}

impl Record {
    fn step(&mut self, name: &str, outcome: Value) {
        self.steps.push((name.to_owned(), outcome));
    }

    /// Records the session's data, and registers its values for redaction.
    fn session_data(&mut self, name: &str, data: &SessionData) {
        let snapshot = data.snapshot();
        for (key, value) in &snapshot {
            if !self.secrets.iter().any(|(k, v)| k == key && v == value) {
                self.secrets.push((key.clone(), value.clone()));
            }
        }
        let entries: Map<String, Value> = snapshot
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        self.step(name, Value::Object(entries));
    }

    /// The record as one JSON value, with session-data values redacted.
    fn finish(self) -> Value {
        let mut steps = Value::Array(
            self.steps
                .into_iter()
                .map(|(name, outcome)| json!([name, outcome]))
                .collect(),
        );
        redact(&mut steps, &self.secrets);
        steps
    }
}

fn redact(value: &mut Value, secrets: &[(String, String)]) {
    match value {
        Value::String(text) => {
            for (key, secret) in secrets.iter().filter(|(_, secret)| !secret.is_empty()) {
                *text = text.replace(secret.as_str(), &format!("<session-data:{key}>"));
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| redact(item, secrets)),
        Value::Object(map) => map.values_mut().for_each(|item| redact(item, secrets)),
        _ => {}
    }
}

/// What a scenario gets: the config under test and a fresh emulator.
pub struct Harness {
    plugin: GuestConfig,
    emulator: RunningEmulator,
}

/// A scenario: drives `harness` and fills `record`.
type Scenario = for<'a> fn(&'a Harness, &'a mut Record) -> BoxFuture<'a, ()>;

/// Runs `scenario` against every language's build of `example` and asserts that all records
/// equal the reference's.
async fn conform(example: &str, scenario: Scenario) {
    let mut runs = Vec::new();
    for (language, dir) in LANGUAGES {
        let path = support::repo().join(dir).join(format!("{example}.wasm"));
        if !path.exists() {
            missing_build(language, &path);
            continue;
        }
        runs.push(async move { (*language, run(example, language, path, scenario).await) });
    }
    let records = futures::future::join_all(runs).await;
    let (reference, expected) = &records[0];
    for (language, record) in &records[1..] {
        if record != expected {
            panic!(
                "{example}: {language} differs from {reference}\n{}\n--- all of {reference}\n{}\n--- all of {language}\n{}",
                first_difference(expected, record, reference, language),
                pretty(expected),
                pretty(record)
            );
        }
    }
    assert!(
        records.len() > 1 || skip_polyglot(),
        "{example}: only {reference} ran"
    );
}

fn missing_build(language: &str, path: &std::path::Path) {
    assert!(
        skip_polyglot(),
        "{} is missing: run `example-configs/build` (CI builds the {language} configs), or set \
         {SKIP_POLYGLOT}=1 to skip the languages that are not built",
        path.display()
    );
    eprintln!(
        "conformance: skipping {language}, {} is not built ({SKIP_POLYGLOT}=1)",
        path.display()
    );
}

fn skip_polyglot() -> bool {
    std::env::var(SKIP_POLYGLOT).is_ok_and(|value| value == "1")
}

async fn run(example: &str, language: &str, path: PathBuf, scenario: Scenario) -> Value {
    let plugin = support::runtime()
        .load_file(&path, CallEnv::default())
        .await
        .unwrap_or_else(|e| panic!("{example} ({language}) loads: {e}"));
    let harness = Harness {
        plugin,
        emulator: support::emulator().await,
    };
    let mut record = Record::default();
    record.step("rules", rules_json(harness.plugin.rules()));
    scenario(&harness, &mut record).await;
    record.finish()
}

/// The first step at which two records differ, both sides shown.
fn first_difference(expected: &Value, actual: &Value, reference: &str, language: &str) -> String {
    let (Some(expected), Some(actual)) = (expected.as_array(), actual.as_array()) else {
        return String::new();
    };
    let steps = expected.iter().zip(actual).find(|(e, a)| e != a);
    match steps {
        Some((e, a)) => format!("first difference:\n{reference}: {e}\n{language}: {a}"),
        None => format!(
            "{reference} records {} steps, {language} {}",
            expected.len(),
            actual.len()
        ),
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

// ----- Conversions of hook outcomes to JSON -----

fn outcome<T>(result: Result<T, HookError>, ok: impl FnOnce(T) -> Value) -> Value {
    match result {
        Ok(value) => json!({"ok": ok(value)}),
        Err(HookError {
            kind: HookErrorKind::Guest(message),
            ..
        }) => json!({"err": said(&message)}),
        // Traps and limits carry language-specific messages: compare their kind only.
        Err(error) => json!({"failure": format!("{:?}", error.kind).split(['(', ' ']).next()}),
    }
}

/// The part of a guest's error message that the config itself writes: up to the first colon.
/// What follows is often a library's own text (a JSON or base64 decoder's), which differs
/// between languages.
fn said(message: &str) -> &str {
    message.split(':').next().unwrap_or_default()
}

fn rules_json(rules: &UrlRules) -> Value {
    json!({"include": rules.include, "exclude": rules.exclude, "priority": rules.priority, "instead_of": rules.instead_of})
}

fn pool_json(pool: PoolSpec) -> Value {
    json!({"id": pool.id, "size": pool.size, "delay": pool.delay, "randomize_delay": pool.randomize_delay})
}

fn address_json(address: Address) -> Value {
    json!([
        address.address_country,
        address.address_region,
        address.postal_code,
        address.street_address
    ])
}

fn verdict_json(verdict: Verdict) -> Value {
    match verdict {
        Verdict::Keep => json!("keep"),
        Verdict::Discard => json!("discard"),
        Verdict::ClosePool(reason) => json!({"close-pool": reason}),
    }
}

fn params_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

fn request_json(request: &Request) -> Value {
    let c = &request.controls;
    json!({
        "url": request.url,
        "method": request.method,
        "headers": request.headers.iter().map(|h| [&h.name, &h.value]).collect::<Vec<_>>(),
        "params": params_json(&request.params),
        "controls": {
            "enabled": c.enabled, "cookie_mode": c.cookie_mode, "params": c.params.as_deref().map(params_json),
            "location": c.location.clone().map(address_json), "pool": c.pool.clone().map(pool_json),
        },
        "session_id": request.session_id,
        "is_init": request.is_init,
    })
}

fn download_error_json(error: DownloadError) -> Value {
    match error {
        DownloadError::Api(e) => json!({"api": [e.status, e.problem_type, e.body]}),
        DownloadError::Transport(why) => json!({"transport": why}),
        DownloadError::Refused(why) => json!({"refused": why}),
    }
}

fn init_json(result: Result<bool, InitError>) -> Value {
    match result {
        Ok(added) => json!(added),
        Err(InitError::ParamError(e)) => json!({"param-error": said(&e)}),
        Err(InitError::CheckError(e)) => json!({"check-error": said(&e)}),
        Err(InitError::Download(e)) => json!({"download": download_error_json(e)}),
        Err(InitError::Failed(e)) => json!({"failed": said(&e)}),
        Err(InitError::ClosePool(e)) => json!({"close-pool": e}),
    }
}

// ----- Drivers -----

/// A downloader that records what the config sends, then answers from the emulator or with a
/// canned answer.
struct Recording {
    sent: Mutex<Vec<Request>>,
    answer: Answer,
}

enum Answer {
    Emulator(Arc<EmulatorDownloader>),
    Canned(Result<Response, DownloadError>),
}

impl Downloader for Recording {
    fn download(&self, request: Request) -> BoxFuture<'static, Result<Response, DownloadError>> {
        self.sent.lock().push(request.clone());
        match &self.answer {
            Answer::Emulator(emulator) => {
                let emulator = emulator.clone();
                Box::pin(async move { emulator.send(&request).await })
            }
            Answer::Canned(answer) => {
                let answer = answer.clone();
                Box::pin(async move { answer })
            }
        }
    }
}

impl Harness {
    fn emulator_downloader(&self, sid: &str) -> Arc<EmulatorDownloader> {
        Arc::new(EmulatorDownloader::new(
            self.emulator.base_url(),
            sid.to_owned(),
        ))
    }

    /// Runs `init-session` for `sid` with `answer`, recording the requests sent, the outcome and
    /// the session data it left.
    async fn init(
        &self,
        r: &mut Record,
        name: &str,
        sid: &str,
        request: &Request,
        answer: Answer,
    ) -> SessionData {
        let data = SessionData::new();
        let downloader = Arc::new(Recording {
            sent: Mutex::new(Vec::new()),
            answer,
        });
        let env = CallEnv {
            session: Some(data.clone()),
            downloader: Some(downloader.clone()),
            ..CallEnv::default()
        };
        let result = self.plugin.init_session(env, sid, request).await;
        let sent: Vec<Value> = downloader.sent.lock().iter().map(request_json).collect();
        r.step(&format!("{name}: init requests sent"), Value::Array(sent));
        r.step(&format!("{name}: init-session"), outcome(result, init_json));
        r.session_data(&format!("{name}: session data after init"), &data);
        data
    }

    async fn check(
        &self,
        r: &mut Record,
        name: &str,
        data: &SessionData,
        response: &Response,
        request: &Request,
    ) {
        let env = CallEnv {
            session: Some(data.clone()),
            ..CallEnv::default()
        };
        r.step(
            name,
            outcome(
                self.plugin.check(env, response, request).await,
                verdict_json,
            ),
        );
    }

    async fn process_request(
        &self,
        r: &mut Record,
        name: &str,
        data: &SessionData,
        request: &Request,
    ) -> Request {
        let env = CallEnv {
            session: Some(data.clone()),
            ..CallEnv::default()
        };
        let result = self.plugin.process_request(env, request).await;
        let result = result.map(|processed| processed.map(|p| p.request));
        let sent = result
            .as_ref()
            .ok()
            .and_then(|r| r.clone())
            .unwrap_or_else(|| request.clone());
        r.step(
            name,
            outcome(result, |modified| {
                modified.as_ref().map_or(Value::Null, request_json)
            }),
        );
        sent
    }

    /// `enabled`, `cookie-mode`, `pool`, `location` and `params` for `request`.
    async fn request_hooks(&self, r: &mut Record, name: &str, request: &Request) {
        let (p, env) = (&self.plugin, CallEnv::default());
        r.step(
            &format!("{name}: enabled"),
            outcome(p.enabled(env.clone(), request).await, |b| json!(b)),
        );
        r.step(
            &format!("{name}: cookie-mode"),
            outcome(p.cookie_mode(env.clone(), request).await, |b| json!(b)),
        );
        r.step(
            &format!("{name}: pool"),
            outcome(p.pool(env.clone(), request).await, pool_json),
        );
        r.step(
            &format!("{name}: location"),
            outcome(p.location(env.clone(), request).await, address_json),
        );
        r.step(
            &format!("{name}: params"),
            outcome(p.params(env, request).await, Value::Object),
        );
    }

    fn stats(&self, r: &mut Record, site: &str) {
        let stats = serde_json::to_value(self.emulator.stats().site(site)).unwrap_or_default();
        r.step(&format!("emulator stats for {site}"), stats);
    }
}

fn request(url: &str, params: Value) -> Request {
    let mut request = support::request(url);
    request.params = params.to_string();
    request.controls.enabled = Some(true);
    request
}

fn response(body: Value) -> Response {
    Response {
        status: 200,
        body: body.to_string(),
    }
}

fn postal_code(code: &str) -> Address {
    Address {
        address_country: None,
        address_region: None,
        postal_code: Some(code.into()),
        street_address: None,
    }
}

fn api_error(status: u16, problem: &str) -> DownloadError {
    let body = json!({"type": problem, "status": status}).to_string();
    DownloadError::Api(ApiError {
        status,
        problem_type: Some(problem.into()),
        body,
    })
}

// ----- Scenarios -----

fn csrf_token<'a>(h: &'a Harness, r: &'a mut Record) -> BoxFuture<'a, ()> {
    Box::pin(async move {
        let http = request(
            "https://csrf.example/search?q=shoes",
            json!({"httpResponseBody": true}),
        );
        let browser = request(
            "https://csrf.example/search?q=boots",
            json!({"browserHtml": true}),
        );
        let mut off = http.clone();
        off.controls.enabled = None;
        h.request_hooks(r, "defaults", &off).await;
        h.request_hooks(r, "http", &http).await;
        let mut controlled = http.clone();
        controlled.controls.cookie_mode = Some(true);
        controlled.controls.pool = Some(PoolSpec {
            id: "mine".into(),
            size: Some(3),
            delay: Some(1.5),
            randomize_delay: Some(false),
        });
        h.request_hooks(r, "controls", &controlled).await;
        let mut by_params = http.clone();
        by_params.controls.params = Some(json!({"browserHtml": true}).to_string());
        h.request_hooks(r, "params control", &by_params).await;
        h.request_hooks(r, "no origin", &request("csrf.example", json!({})))
            .await;

        // A session through the emulator: init, then the token on an HTTP and a browser request.
        let data = h
            .init(
                r,
                "emulator",
                SID[0],
                &http,
                Answer::Emulator(h.emulator_downloader(SID[0])),
            )
            .await;
        let downloader = h.emulator_downloader(SID[0]);
        let mut used = http.clone();
        used.session_id = Some(SID[0].into());
        let sent = h
            .process_request(r, "process-request http", &data, &used)
            .await;
        let page = downloader.send(&sent).await.expect("the emulator answers");
        h.check(r, "check with the token", &data, &page, &sent)
            .await;
        let forbidden = downloader.send(&used).await.expect("the emulator answers");
        h.check(r, "check without the token", &data, &forbidden, &used)
            .await;
        let mut browser_used = browser.clone();
        browser_used.session_id = Some(SID[0].into());
        h.process_request(r, "process-request browser", &data, &browser_used)
            .await;
        h.process_request(
            r,
            "process-request without a token",
            &SessionData::new(),
            &used,
        )
        .await;
        h.stats(r, "csrf.example");

        // Init outcomes the emulator does not produce on demand.
        let no_token = response(
            json!({"url": "https://csrf.example/", "statusCode": 200, "httpResponseBody": "PHA+PC9wPg=="}),
        );
        h.init(r, "no token", SID[1], &http, Answer::Canned(Ok(no_token)))
            .await;
        let limit = Err(api_error(429, "/problem/over-session-limit"));
        h.init(r, "download error", SID[2], &http, Answer::Canned(limit))
            .await;
        let mut preset = http.clone();
        preset.controls.params =
            Some(json!({"url": "https://csrf.example/custom", "browserHtml": true}).to_string());
        h.init(
            r,
            "preset params",
            SID[3],
            &preset,
            Answer::Canned(Err(DownloadError::Transport("offline".into()))),
        )
        .await;
        let invalid = response(json!({"url": "https://csrf.example/", "httpResponseBody": "!!"}));
        h.init(
            r,
            "invalid body",
            SID[1],
            &http,
            Answer::Canned(Ok(invalid)),
        )
        .await;
        let unsupported = response(
            json!({"actions": [{"action": "setLocation", "status": "returned",
            "error": "Action setLocation not supported on this website"}]}),
        );
        let mut located = used.clone();
        located.controls.location = Some(postal_code("10001"));
        h.check(
            r,
            "check unsupported setLocation",
            &data,
            &unsupported,
            &located,
        )
        .await;
    })
}

fn location<'a>(h: &'a Harness, r: &'a mut Record) -> BoxFuture<'a, ()> {
    Box::pin(async move {
        let products = request(
            "https://postal-code-10001.example/products",
            json!({"httpResponseBody": true}),
        );
        h.request_hooks(r, "domain location", &products).await;
        let mut elsewhere = products.clone();
        elsewhere.controls.location = Some(postal_code("94105"));
        h.request_hooks(r, "location control", &elsewhere).await;
        let mut empty = products.clone();
        empty.controls.location = Some(Address {
            postal_code: None,
            ..postal_code("")
        });
        h.request_hooks(r, "empty location control", &empty).await;
        h.request_hooks(
            r,
            "other site",
            &request("https://other.example/", json!({})),
        )
        .await;

        let data = h
            .init(
                r,
                "emulator",
                SID[0],
                &products,
                Answer::Emulator(h.emulator_downloader(SID[0])),
            )
            .await;
        let mut used = products.clone();
        used.session_id = Some(SID[0].into());
        h.process_request(r, "process-request", &data, &used).await;
        let downloader = h.emulator_downloader(SID[0]);
        let page = downloader.send(&used).await.expect("the emulator answers");
        h.check(r, "check the located page", &data, &page, &used)
            .await;
        let mut moved = used.clone();
        moved.controls.location = Some(postal_code("94105"));
        h.check(r, "check another location", &data, &page, &moved)
            .await;
        h.init(
            r,
            "wrong location",
            SID[1],
            &moved,
            Answer::Emulator(h.emulator_downloader(SID[1])),
        )
        .await;
        h.stats(r, "postal-code-10001.example");

        let unlocated =
            response(json!({"browserHtml": "<div id=\"location\">No location selected</div>"}));
        h.check(r, "check an unlocated page", &data, &unlocated, &used)
            .await;
        let plain = response(json!({"browserHtml": "<p>no banner</p>"}));
        h.check(r, "check a page without banner", &data, &plain, &used)
            .await;
        let failed = response(
            json!({"actions": [{"action": "setLocation", "status": "returned", "error": "timeout"}]}),
        );
        let mut init = used.clone();
        init.is_init = true;
        h.check(r, "check a failed init action", &data, &failed, &init)
            .await;
        let unsupported = response(
            json!({"actions": [{"action": "setLocation", "status": "returned",
            "error": "Action setLocation not supported on this website"}]}),
        );
        h.check(
            r,
            "check unsupported setLocation",
            &data,
            &unsupported,
            &used,
        )
        .await;
        h.check(
            r,
            "check a body that is not JSON",
            &data,
            &Response {
                status: 200,
                body: "<html>".into(),
            },
            &used,
        )
        .await;
        h.init(
            r,
            "canned located page",
            SID[2],
            &products,
            Answer::Canned(Ok(page)),
        )
        .await;
    })
}

#[tokio::test]
async fn csrf_token_is_the_same_in_every_language() {
    conform("csrf-token", csrf_token).await;
}

#[tokio::test]
async fn location_is_the_same_in_every_language() {
    conform("location", location).await;
}
