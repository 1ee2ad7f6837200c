//! The dashboard in a real browser (issue 19, items 2 and 3): Debian's `chromium`, driven
//! through `chromedriver` (WebDriver, [`crate::webdriver`]), against `session-host serve` on the
//! emulator. `.ci/run` installs both packages; where neither can be installed the browser test
//! prints why and passes, except under `CI`, where it fails.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::gateway::{Fixture, Gateway};
use crate::webdriver::Session;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const KEY: &str = "dashboard-key-0815";

/// A `chromedriver` on a free loopback port, stopped (by its pid) on drop, and a session of a
/// headless chromium with a fresh profile.
struct Browser {
    driver: Child,
    session: Session,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// `None` (after saying why) when no browser is installed and `CI` is not set.
    async fn start() -> Option<Self> {
        if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
            let why = "chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)";
            assert!(std::env::var_os("CI").is_none(), "{why}");
            eprintln!("skipping the browser test: {why}");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().expect("a profile dir");
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1400,1800",
        ];
        let mut args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let caps = json!({"goog:chromeOptions": {"binary": CHROMIUM, "args": args}});
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let session = loop {
            match Session::new(&url, caps.clone()).await {
                Ok(session) => break session,
                Err(e) if started.elapsed() > Duration::from_secs(30) => panic!("no browser: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        Some(Self {
            driver,
            session,
            _profile: profile,
        })
    }

    fn page(&self) -> &Session {
        &self.session
    }

    /// The text of the element `css`, or "" while it is absent.
    async fn text(&self, css: &str) -> String {
        match self.session.find(css).await {
            Ok(element) => self.session.text(&element).await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Clicks the element `css`.
    async fn click(&self, css: &str) {
        let element = self.session.find(css).await.expect("the element exists");
        self.session.click(&element).await.expect("click");
    }

    /// Waits up to `within` for the text of `css` to satisfy `ready`; returns it.
    async fn wait_text(&self, css: &str, within: Duration, ready: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let text = self.text(css).await;
            if ready(&text) {
                return text;
            }
            assert!(
                started.elapsed() < within,
                "{css} is still {text:?} after {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves a screenshot under the target dir and prints its path.
    async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.page().screenshot().await.expect("a screenshot");
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
        std::fs::write(&path, png).expect("the screenshot is written");
        eprintln!("dashboard screenshot: {}", path.display());
        path
    }

    async fn close(mut self) {
        self.session.quit().await;
        let _ = self.driver.kill().await;
    }
}

/// POSTs a Zyte API request to the gateway with the key.
async fn extract(gateway: &Gateway, body: serde_json::Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/v1/extract", gateway.base()))
        .basic_auth(KEY, Some(""))
        .json(&body)
        .send()
        .await
        .expect("the gateway answers")
}

fn number(text: &str) -> u64 {
    text.trim().parse().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn issue_19_the_dashboard_shows_traffic_live_and_reopens_a_closed_pool() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let scenario = zyte_emulator::Scenario::builtin();
    let fixture = Fixture::with(scenario, &["csrf-token"], true).await;
    let gateway = fixture.serve(&[], Some(KEY)).await;
    // A key is set: the page asks for it, and the login sets the cookie.
    browser
        .page()
        .goto(&format!("{}/", gateway.base()))
        .await
        .expect("the page loads");
    let key = browser.page().find("#key").await.expect("a login form");
    browser.page().type_text(&key, KEY).await.expect("typing");
    browser.click("#login").await;
    browser
        .wait_text("#connection", Duration::from_secs(10), |t| t == "live")
        .await;
    assert_eq!(
        number(
            &browser
                .wait_text("#total-uses", Duration::from_secs(5), |t| t != "–")
                .await
        ),
        0
    );
    // Traffic: the numbers follow within a second or two.
    for i in 0..6 {
        let body = json!({"url": format!("https://example.com/{i}"), "httpResponseBody": true});
        assert_eq!(extract(&gateway, body).await.status(), 200);
    }
    let sent = Instant::now();
    browser
        .wait_text("#total-uses", Duration::from_secs(3), |t| number(t) >= 6)
        .await;
    eprintln!(
        "the page showed 6 uses {:?} after the last answer",
        sent.elapsed()
    );
    browser
        .wait_text(
            "#pools tr[data-pool='example.com'] .state",
            Duration::from_secs(3),
            |t| t == "open",
        )
        .await;
    // A pool the built-in config closes (its site does not support setLocation).
    let body = json!({"url": "https://no-location-support.example/", "browserHtml": true,
        "sessionManagement": {"location": {"postalCode": "10001"}, "pool": "nls"}});
    assert_eq!(extract(&gateway, body).await.status(), 409);
    let row = "#pools tr[data-pool='client/nls']";
    let state = browser
        .wait_text(&format!("{row} .state"), Duration::from_secs(3), |t| {
            t.starts_with("closed")
        })
        .await;
    assert!(state.contains("unsupported_set_location"), "{state}");
    browser
        .wait_text(
            "#offenders tr[data-pool='client/nls'] .state",
            Duration::from_secs(3),
            |t| t.starts_with("closed"),
        )
        .await;
    browser.screenshot("dashboard-closed.png").await;
    browser.click(&format!("{row} button.reopen")).await;
    browser
        .wait_text(&format!("{row} .state"), Duration::from_secs(3), |t| {
            t == "open"
        })
        .await;
    // Serving again: a request of that pool, without the location its site refuses.
    let body = json!({"url": "https://example.com/again", "httpResponseBody": true,
        "sessionManagement": {"pool": "nls"}});
    let answer = extract(&gateway, body).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["x-session-pool"], "client/nls");
    browser
        .wait_text(&format!("{row} .idle"), Duration::from_secs(5), |t| {
            number(t) >= 1
        })
        .await;
    // The pool's timeline.
    browser.click(row).await;
    browser
        .wait_text("#timeline", Duration::from_secs(3), |t| t.contains("live"))
        .await;
    let path = browser.screenshot("dashboard.png").await;
    assert!(std::fs::metadata(path).expect("saved").len() > 10_000);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn issue_19_the_dashboard_refuses_strangers_and_cross_site_reopens() {
    let fixture = Fixture::with(zyte_emulator::Scenario::builtin(), &[], true).await;
    let gateway = fixture.serve(&[], Some(KEY)).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let page = http
        .get(format!("{}/", gateway.base()))
        .send()
        .await
        .expect("answer");
    assert_eq!(page.status(), 401);
    assert!(
        page.text().await.expect("text").contains("name=\"key\""),
        "a login form"
    );
    let events = http
        .get(format!("{}/events", gateway.base()))
        .send()
        .await
        .expect("answer");
    assert_eq!(events.status(), 401);
    let wrong = http
        .post(format!("{}/dashboard/login", gateway.base()))
        .form(&[("key", "nope")])
        .send()
        .await
        .expect("answer");
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());
    let login = http
        .post(format!("{}/dashboard/login", gateway.base()))
        .form(&[("key", KEY)])
        .send()
        .await
        .expect("answer");
    assert_eq!(login.status(), 303);
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains(KEY), "the cookie is not the key");
    let cookie = cookie.split(';').next().expect("name=value").to_owned();
    // With the cookie but without the page's token, or from another site: refused.
    let reopen = format!("{}/dashboard/pools/nope/reopen", gateway.base());
    let forged = http
        .post(&reopen)
        .header("cookie", &cookie)
        .header("content-type", "application/json")
        .header("origin", "http://evil.example")
        .send()
        .await
        .expect("answer");
    assert_eq!(forged.status(), 403);
    let page = http
        .get(format!("{}/", gateway.base()))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("answer");
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let html = page.text().await.expect("html");
    let token = html
        .split("name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .expect("a token");
    let real = http
        .post(&reopen)
        .header("cookie", &cookie)
        .header("content-type", "application/json")
        .header("x-csrf-token", token)
        .send()
        .await
        .expect("answer");
    assert_eq!(
        real.status(),
        404,
        "past every check, the pool does not exist"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn issue_19_demo_serve_prints_the_dashboard_url_and_serves_it() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_session-host"))
        .args([
            "demo",
            "--serve",
            "--listen",
            "127.0.0.1:0",
            "--requests",
            "20",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the demo starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let url = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("a line") {
            if let Some(rest) = line.strip_prefix("dashboard: ") {
                return rest.split(' ').next().expect("a URL").to_owned();
            }
        }
        panic!("the demo ended without a dashboard URL")
    })
    .await
    .expect("the URL within a minute");
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with('/'),
        "{url}"
    );
    let page = reqwest::get(&url).await.expect("the dashboard answers");
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .expect("html")
            .contains("session-host dashboard")
    );
    // The trickle: uses keep growing after the batch.
    let metrics = format!("{url}metrics");
    let uses = || async {
        let text = reqwest::get(&metrics)
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        text.lines()
            .filter(|l| {
                l.starts_with("session_host_session_events_total{") && l.contains("event=\"use/")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>()
    };
    let before = uses().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(uses().await > before, "the trickle sends requests");
    child.kill().await.expect("the demo stops");
}

/// Pools and sessions per pool of the scale test: 100,000 sessions in all.
const POOLS: usize = 1_000;
const PER_POOL: u32 = 100;

/// Fills the state dir `dir` with [`POOLS`] pools of [`PER_POOL`] fresh sessions, through the
/// durable store's own steps (as a host that served them would have left it).
async fn seed(dir: &Path) {
    use session_host::engine::pool::{PoolOptions, Rotation, Session};
    use session_host::session_data::SessionData;
    use session_host::settings::SessionSettings;
    use session_host::store::{DurableStore, PoolConfig, PoolKind, PoolStore as _, Registration};
    let settings = SessionSettings::default();
    let (store, _) = DurableStore::open(dir, &settings).expect("a state dir");
    let rotation = Rotation::from_settings(&settings);
    let now = std::time::Instant::now();
    for p in 0..POOLS {
        let id = format!("site{p:04}.test");
        let options = PoolOptions {
            size: PER_POOL,
            delay: 0.0,
            randomize_delay: false,
        };
        let config = PoolConfig {
            options,
            max_bad_inits: 8,
            kind: PoolKind::Named,
        };
        let how = Registration::Request;
        store.register(&id, config, how, now).await.expect("room");
        for s in 0..PER_POOL {
            let step = store.lease(&id, now, &rotation, true, 0.0).await;
            assert!(step.expect("the pool").create);
            let session = Session::new(format!("{id}-{s}"), now, SessionData::new(), vec![]);
            store.add(&id, session, Duration::ZERO, false).await;
        }
    }
    drop(store);
    // Written and closed once the writer thread lets go of its last flush.
    let started = Instant::now();
    while session_host::store::StateDb::open_existing(dir).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the seed is not released"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The first `/events` message of the view `query`: its size, the time it took, its JSON.
async fn first_message(gateway: &Gateway, query: &str) -> (usize, Duration, serde_json::Value) {
    let started = Instant::now();
    let mut response = reqwest::Client::new()
        .get(format!("{}/events?{query}", gateway.base()))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(response.status(), 200);
    let mut buf = String::new();
    loop {
        if let Some(data) = buf
            .split("\n\n")
            .find_map(|m| m.lines().find_map(|l| l.strip_prefix("data:")))
            .filter(|_| buf.contains("\n\n"))
        {
            let json = serde_json::from_str(data.trim()).expect("a JSON message");
            return (data.len(), started.elapsed(), json);
        }
        let chunk = tokio::time::timeout(Duration::from_secs(10), response.chunk()).await;
        let chunk = chunk.expect("a message within 10 s").expect("the stream");
        buf.push_str(&String::from_utf8_lossy(&chunk.expect("not ended")));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn issue_19_dashboard_at_1000_pools_and_100000_sessions() {
    let fixture = Fixture::with(zyte_emulator::Scenario::builtin(), &[], true).await;
    let dir = fixture.path("state");
    seed(&dir).await;
    let gateway = fixture
        .serve(&["--state-dir", dir.to_str().expect("utf-8")], None)
        .await;
    let restored = format!("session state restored: {POOLS} pools, 100000 sessions, 0 expired");
    assert!(gateway.logs().contains(&restored), "{}", gateway.logs());
    // /status: one page of pools, each with its counts and a bounded list of sessions.
    let started = Instant::now();
    let status = reqwest::get(format!("{}/status", gateway.base()))
        .await
        .expect("answers")
        .text()
        .await
        .expect("a body");
    let took = started.elapsed();
    let json: serde_json::Value = serde_json::from_str(&status).expect("json");
    eprintln!("/status: {} bytes in {took:?}", status.len());
    assert_eq!(json["pools_total"], POOLS);
    let first = &json["pools"][0];
    assert_eq!(
        (first["live"].as_u64(), first["idle"].as_u64()),
        (Some(100), Some(100))
    );
    assert_eq!(first["sessions"].as_array().map(Vec::len), Some(20));
    assert!(status.len() < 512 * 1024, "{} bytes", status.len());
    assert!(took < Duration::from_secs(2), "{took:?}");
    // /events: the totals of every pool, a page, the offenders, one pool's timeline.
    let (bytes, took, message) = first_message(&gateway, "pool=site0007.test&limit=100").await;
    eprintln!("/events: the first message, {bytes} bytes, in {took:?}");
    let totals = &message["totals"];
    assert_eq!(
        (totals["pools"].as_u64(), totals["idle"].as_u64()),
        (Some(1000), Some(100_000))
    );
    assert_eq!(message["page"]["pools"].as_array().map(Vec::len), Some(100));
    assert_eq!(message["timeline"]["live"], 100);
    assert!(
        message["timeline"]["sessions"]
            .as_array()
            .is_some_and(|s| s.len() <= 100 + 16)
    );
    assert!(bytes < 512 * 1024, "{bytes} bytes");
    assert!(took < Duration::from_secs(3), "{took:?}");
    let started = Instant::now();
    let metrics = reqwest::get(format!("{}/metrics", gateway.base()))
        .await
        .expect("answers")
        .text()
        .await
        .expect("a body");
    let took = started.elapsed();
    eprintln!("/metrics: {} bytes in {took:?}", metrics.len());
    assert!(took < Duration::from_secs(2), "{took:?}");
    let idle = "session_host_pool_sessions{pool=\"site0007.test\",state=\"idle\"} 100";
    assert!(metrics.contains(idle), "{metrics}");
}
