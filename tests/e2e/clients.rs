//! Real Zyte API clients that we did not write, through `session-host serve` (issue #6, item 4):
//! python-zyte-api's `zyte-api` CLI and a Scrapy spider with scrapy-zyte-api, each pointed at the
//! gateway, which forwards to the in-process emulator with the csrf-token and location example
//! configs loaded. The clients know nothing of sessions; the emulator's stats show that sessions
//! were created and used server-side, and the pages show that each site's requirements were met.
//!
//! Needs `<repo>/.venv` with the clients (`scripts/setup-python`, which `scripts/test` and
//! `.ci/run` run). Without them the tests skip with a message, unless `CI` is set (`.ci/run` sets
//! it): then they fail, so CI cannot skip them silently. `SESSION_HOST_SKIP_PYTHON=1` skips them
//! outside CI, like the emulator's python-zyte-api test. Each takes a few seconds.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::process::Command;
use zyte_emulator::{Scenario, StatsSnapshot};

use crate::gateway::{Fixture, UPSTREAM_KEY};
use crate::support::repo;

/// The gateway key, in the test that sets one.
const GATEWAY_KEY: &str = "gateway-secret-0815";
/// How long one client run may take.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);

/// Whether the `CI` environment variable says we run in CI.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// `<repo>/.venv/bin/<tool>`, if it is there and `.venv`'s Python imports `module`; `None` means
/// "skip", and is only returned outside CI.
fn venv_tool(tool: &str, module: &str) -> Option<PathBuf> {
    let venv = repo().join(".venv/bin");
    let path = venv.join(tool);
    let ci = in_ci();
    if !ci && std::env::var("SESSION_HOST_SKIP_PYTHON").as_deref() == Ok("1") {
        eprintln!("skipped: SESSION_HOST_SKIP_PYTHON=1 (a real-client test of the gateway)");
        return None;
    }
    let importable = std::process::Command::new(venv.join("python"))
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if path.exists() && importable {
        return Some(path);
    }
    let missing = format!(
        "{} or the Python module `{module}` is missing: install them with `scripts/setup-python` \
         (from the repo root)",
        path.display()
    );
    assert!(
        !ci,
        "{missing}. CI is set, so this real-client test fails instead of skipping"
    );
    eprintln!("skipped: {missing}. (Under CI=true this test fails instead.)");
    None
}

/// The emulator (built-in scenario, accepting only [`UPSTREAM_KEY`]) and a folder with the
/// gateway's settings and the two example configs; `sessions_enabled` is the `[sessions]
/// enabled` setting (else requests opt in).
async fn fixture(sessions_enabled: bool) -> Fixture {
    Fixture::with(
        Scenario::builtin(),
        &["csrf-token", "location"],
        sessions_enabled,
    )
    .await
}

/// Requests and sessions per site, as the emulator saw them, in one line per site.
fn describe(stats: &StatsSnapshot) -> String {
    stats
        .sites
        .iter()
        .map(|(site, s)| {
            format!(
                "{site}: {:?}, {} sessions created, {} session uses",
                s.requests.by_status, s.sessions_created, s.session_uses
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `command` to completion within [`CLIENT_TIMEOUT`].
async fn run_client(mut command: Command, what: &str) -> Output {
    command.kill_on_drop(true).stdin(Stdio::null());
    let run = tokio::time::timeout(CLIENT_TIMEOUT, command.output()).await;
    let output = run.unwrap_or_else(|_| panic!("{what} did not finish within {CLIENT_TIMEOUT:?}"));
    output.unwrap_or_else(|error| panic!("{what} did not run: {error}"))
}

/// Asserts that sessions of `site` were created and used for `uses` client requests: the
/// emulator counts every init and every request that carried a session.
fn assert_sessions(stats: &StatsSnapshot, site: &str, uses: u64) {
    let s = stats.site(site);
    assert!(
        s.sessions_created >= 1,
        "no session created for {site}:\n{}",
        describe(stats)
    );
    assert_eq!(
        s.session_uses,
        s.sessions_created + uses,
        "{site}: one use per init and per client request:\n{}",
        describe(stats)
    );
    assert_eq!(
        s.requests.by_status.keys().collect::<Vec<_>>(),
        [&200],
        "{site}"
    );
}

/// python-zyte-api's CLI, unchanged but for its API URL and key, gets session management: the
/// requests opt in with `sessionManagement` in its JSON Lines input.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zyte_api_cli_through_the_gateway_gets_sessions() {
    let Some(cli) = venv_tool("zyte-api", "zyte_api") else {
        return;
    };
    let fixture = fixture(false).await;
    let gateway = fixture.serve(&[], Some(GATEWAY_KEY)).await;
    let on = json!({"enabled": true});
    let inputs = [
        (
            "csrf-1",
            "https://csrf.example/search?q=one",
            "httpResponseBody",
            &on,
        ),
        (
            "csrf-2",
            "https://csrf.example/account",
            "httpResponseBody",
            &on,
        ),
        // The control: the same site without a session has no token, and is refused.
        (
            "csrf-off",
            "https://csrf.example/search?q=off",
            "httpResponseBody",
            &json!({"enabled": false}),
        ),
        (
            "postal",
            "https://postal-code-10002.example/deals",
            "browserHtml",
            &on,
        ),
        (
            "members",
            "https://session-required.example/inbox",
            "httpResponseBody",
            &on,
        ),
    ];
    let input: String = inputs
        .iter()
        .map(|(label, url, kind, sessions)| {
            let mut request = json!({"url": url, "echoData": label, "sessionManagement": sessions});
            request[*kind] = json!(true);
            format!("{request}\n")
        })
        .collect();
    std::fs::write(fixture.path("input.jl"), input).expect("input");
    let mut command = Command::new(&cli);
    command
        .arg(fixture.path("input.jl"))
        .args([
            "--intype",
            "jl",
            "--api-url",
            &gateway.api_url(),
            "--api-key",
            GATEWAY_KEY,
        ])
        .arg("--output")
        .arg(fixture.path("output.jl"))
        .current_dir(fixture.dir.path());
    let output = run_client(command, "zyte-api").await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "zyte-api failed: {stderr}\nserve's log:\n{}",
        gateway.logs()
    );

    let text = std::fs::read_to_string(fixture.path("output.jl")).expect("output file");
    let results: BTreeMap<String, Value> = text
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("a JSON line"))
        .map(|result| (result["echoData"].as_str().unwrap_or("").to_owned(), result))
        .collect();
    assert_eq!(
        results.len(),
        inputs.len(),
        "one result per input:\n{text}\n{stderr}"
    );
    let page = |label: &str| -> (u64, String) {
        let result = &results[label];
        let html = match result["browserHtml"].as_str() {
            Some(html) => html.to_owned(),
            None => {
                let body = result["httpResponseBody"].as_str().expect("a body");
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(body)
                    .expect("base64");
                String::from_utf8(bytes).expect("utf-8")
            }
        };
        (result["statusCode"].as_u64().expect("statusCode"), html)
    };
    // The csrf-token config put the token of the session's init page on both requests.
    for label in ["csrf-1", "csrf-2"] {
        let (status, html) = page(label);
        assert_eq!(status, 200, "{label}: {html}");
        assert!(html.contains("<h1>Results for /"), "{label}: {html}");
    }
    let (status, html) = page("csrf-off");
    assert_eq!(
        status, 403,
        "without a session the site wants a token: {html}"
    );
    // The location config set the location from the domain when it created the session.
    let (status, html) = page("postal");
    assert_eq!(status, 200);
    assert!(html.contains("Delivering to 10002"), "{html}");
    let (status, html) = page("members");
    assert_eq!(status, 200);
    assert!(html.contains("Welcome back"), "{html}");

    let stats = fixture.emulator.stats();
    assert_sessions(&stats, "csrf.example", 2);
    assert_sessions(&stats, "postal-code-10002.example", 1);
    assert_sessions(&stats, "session-required.example", 1);
    let csrf = stats.site("csrf.example");
    assert_eq!(
        csrf.requests.total,
        csrf.session_uses + 1,
        "only the control went without a session"
    );
    let postal: Vec<_> = stats
        .sessions
        .iter()
        .filter(|s| s.site == "postal-code-10002.example")
        .collect();
    assert!(!postal.is_empty());
    for session in postal {
        let location = session.location.as_deref().unwrap_or("");
        assert!(location.contains("10002"), "{session:?}");
    }
    let log = gateway.logs();
    assert!(
        !log.contains(UPSTREAM_KEY) && !log.contains(GATEWAY_KEY),
        "{log}"
    );
}

/// A Scrapy spider with scrapy-zyte-api in transparent mode, its own session management off,
/// gets session management from the gateway (sessions enabled in the gateway's settings).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrapy_spider_through_the_gateway_gets_sessions() {
    let Some(scrapy) = venv_tool("scrapy", "scrapy_zyte_api") else {
        return;
    };
    let fixture = fixture(true).await;
    let gateway = fixture.serve(&[], None).await;
    let urls = [
        "https://csrf.example/search?q=scrapy",
        "https://csrf.example/account",
        "https://postal-code-10001.example/products/1",
        "https://session-required.example/members",
        "https://example.com/plain",
    ];
    let spider = repo().join("tests/clients/spider.py");
    let items = fixture.path("items.json");
    let mut command = Command::new(&scrapy);
    command
        .arg("runspider")
        .arg(&spider)
        .arg("-a")
        .arg(format!("urls={}", urls.join(",")))
        .arg("-O")
        .arg(format!("{}:json", items.display()))
        .args(["-s", &format!("ZYTE_API_URL={}", gateway.api_url())])
        .args(["-s", "LOG_LEVEL=INFO"])
        // No gateway key: any client key goes, on loopback.
        .env("ZYTE_API_KEY", "any-scrapy-key")
        .env_remove("SCRAPY_SETTINGS_MODULE")
        .current_dir(fixture.dir.path());
    let output = run_client(command, "scrapy").await;
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "scrapy failed: {log}\nserve's log:\n{}",
        gateway.logs()
    );
    // scrapy-zyte-api sent every request, and managed no session itself.
    let n = urls.len();
    for stat in [
        format!("'scrapy-zyte-api/success': {n}"),
        format!("'scrapy-zyte-api/sessions/use/disabled': {n}"),
        format!("'item_scraped_count': {n}"),
    ] {
        assert!(log.contains(&stat), "no {stat} in Scrapy's log:\n{log}");
    }

    let items: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&items).expect("items file"))
            .expect("a JSON array of items");
    let by_url: BTreeMap<&str, &Value> = items
        .iter()
        .map(|item| (item["url"].as_str().expect("url"), item))
        .collect();
    assert_eq!(by_url.len(), n, "one item per page: {items:?}");
    for url in urls {
        let item = by_url[url];
        assert_eq!(item["status"], 200, "{item}");
        assert_eq!(item["blocked"], false, "{item}");
    }
    assert_eq!(by_url[urls[0]]["title"], "CSRF Shop");
    assert_eq!(by_url[urls[2]]["location"], "Delivering to 10001");

    let stats = fixture.emulator.stats();
    assert_sessions(&stats, "csrf.example", 2);
    assert_sessions(&stats, "postal-code-10001.example", 1);
    assert_sessions(&stats, "session-required.example", 1);
    assert_sessions(&stats, "example.com", 1);
    assert_eq!(
        stats.requests.total,
        stats.sites.values().map(|s| s.session_uses).sum::<u64>(),
        "every request carried a session:\n{}",
        describe(&stats)
    );
}
