//! Sessions that survive a restart (issue 15): `session-host serve` on a state dir, against the
//! emulator, killed with -9 mid-load and started again; a corrupt state file; a second process
//! on one state dir; closed pools and expired sessions across a restart; `state show|clear`.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::gateway::{Fixture, Gateway, exit, scenario};

/// A plain site of the built-in scenario (`*`): no bans, so no session is ever replaced.
const SITE: &str = "plain-state.test";
/// Sessions per pool.
const SIZE: u64 = 4;

async fn fixture(extra: &str) -> Fixture {
    let fixture = Fixture::with(scenario(), &[], true).await;
    write_settings(&fixture, extra);
    fixture
}

fn write_settings(fixture: &Fixture, extra: &str) {
    let settings = format!(
        "[sessions]\nenabled = true\nrandomize_delay = false\npool_size = {SIZE}\ndelay = 0.0\n\
         init_failure_backoff = 0.0\n{extra}\n[upstream]\nwait_scale = 0.0\n"
    );
    std::fs::write(fixture.path("session-host.toml"), settings).expect("settings");
}

fn state_dir(fixture: &Fixture) -> String {
    fixture.path("state").to_str().expect("utf-8").to_owned()
}

async fn serve(fixture: &Fixture) -> Gateway {
    fixture
        .serve(&["--state-dir", &state_dir(fixture)], None)
        .await
}

/// `n` requests to [`SITE`], 8 at a time, each answered 200 with a session.
async fn load(gateway: &Gateway, n: usize) {
    let body = json!({"url": format!("https://{SITE}/"), "httpResponseBody": true}).to_string();
    let answers = futures::future::join_all((0..n).map(|_| gateway.extract(body.clone(), None)));
    for answer in answers.await {
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
        assert_eq!(answer.header("x-session-pool"), SITE);
    }
}

fn created(fixture: &Fixture) -> u64 {
    fixture.emulator.stats().site(SITE).sessions_created
}

fn kill_9(gateway: &Gateway) {
    let status = std::process::Command::new("kill")
        .args(["-KILL", &gateway.pid().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

/// `session-host ARGS`, run to its end.
fn session_host(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_session-host"))
        .args(args)
        .env("XDG_STATE_HOME", crate::support::state_home())
        .env("ZYTE_API_KEY", "any")
        .output()
        .expect("the binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn show(dir: &str) -> Value {
    let out = session_host(&["state", "show", "--state-dir", dir, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("json")
}

#[tokio::test(flavor = "multi_thread")]
async fn issue_15_sessions_survive_kill_9_mid_load_with_no_new_init() {
    let fixture = fixture("").await;
    let mut gateway = serve(&fixture).await;
    load(&gateway, 40).await;
    let before = created(&fixture);
    assert_eq!(before, SIZE);
    // Past two write intervals, then killed with requests in flight.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let body = json!({"url": format!("https://{SITE}/"), "httpResponseBody": true}).to_string();
    let running: Vec<_> = (0..16)
        .map(|_| {
            let request = gateway
                .client
                .post(gateway.url("/v1/extract"))
                .body(body.clone());
            tokio::spawn(async move { drop(request.send().await) })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    kill_9(&gateway);
    // Gone (and its file lock with it) before the restart.
    exit(&mut gateway, Duration::from_secs(10)).await;
    for task in running {
        drop(task.await);
    }
    drop(gateway);
    let gateway = serve(&fixture).await;
    assert!(
        gateway.logs().contains("session state restored"),
        "{}",
        gateway.logs()
    );
    load(&gateway, 40).await;
    assert_eq!(
        created(&fixture),
        before,
        "restored sessions are used, none created"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn issue_15_a_corrupt_state_file_is_moved_aside_and_the_gateway_starts() {
    let fixture = fixture("").await;
    let dir = fixture.path("state");
    std::fs::create_dir(&dir).expect("state dir");
    std::fs::write(dir.join("state.redb"), vec![0x5a; 32 * 1024]).expect("garbage");
    let gateway = serve(&fixture).await;
    load(&gateway, 4).await;
    let logs = gateway.logs();
    assert!(
        logs.contains("state.redb") && logs.contains("moved aside"),
        "{logs}"
    );
    let aside: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("state.redb.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn issue_15_a_second_process_on_one_state_dir_is_refused() {
    let fixture = fixture("").await;
    let _gateway = serve(&fixture).await;
    let dir = state_dir(&fixture);
    let settings = fixture.path("session-host.toml");
    let upstream = fixture.emulator.base_url();
    let second = session_host(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--state-dir",
        &dir,
        "--config",
        settings.to_str().expect("utf-8"),
        "--upstream",
        &upstream,
    ]);
    assert_eq!(second.status.code(), Some(1));
    let message = stderr(&second);
    assert!(
        message.contains(&dir) && message.contains("in use"),
        "{message}"
    );
    assert!(
        message.contains("--state-dir") && message.contains("--no-state"),
        "{message}"
    );
    let shown = session_host(&["state", "show", "--state-dir", &dir]);
    assert_eq!(shown.status.code(), Some(1));
    assert!(stderr(&shown).contains("in use"), "{}", stderr(&shown));
}

#[tokio::test(flavor = "multi_thread")]
async fn issue_15_a_closed_pool_stays_closed_across_a_restart() {
    let fixture = fixture("").await;
    let body = json!({"url": "https://no-location-support.example/", "browserHtml": true,
        "sessionManagement": {"location": {"postalCode": "10001"}, "pool": "nls"}})
    .to_string();
    let mut gateway = serve(&fixture).await;
    let detail = gateway
        .extract(body.clone(), None)
        .await
        .problem(409, "pool-closed");
    assert!(detail.contains("unsupported_set_location"), "{detail}");
    gateway.terminate();
    exit(&mut gateway, Duration::from_secs(30)).await;
    let gateway = serve(&fixture).await;
    let answer = gateway.extract(body, None).await;
    answer.problem(409, "pool-closed");
    assert_eq!(answer.json["reason"], "unsupported_set_location");
    let site = fixture.emulator.stats().site("no-location-support.example");
    assert_eq!(site.requests.total, 1, "no new init after the restart");
}

#[tokio::test(flavor = "multi_thread")]
async fn issue_15_expired_sessions_are_dropped_at_restart() {
    let fixture = fixture("").await;
    let mut gateway = serve(&fixture).await;
    load(&gateway, 8).await;
    gateway.terminate();
    exit(&mut gateway, Duration::from_secs(30)).await;
    // The engine's age limit becomes 1 s (15 min − 899 s): every kept session is past it.
    write_settings(&fixture, "retire_before_lifetime = 899.0\n");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let gateway = serve(&fixture).await;
    let logs = gateway.logs();
    let restored = format!("session state restored: 1 pools, 0 sessions, {SIZE} expired");
    assert!(logs.contains(&restored), "{logs}");
    load(&gateway, 1).await;
    assert!(created(&fixture) > SIZE);
}

#[tokio::test(flavor = "multi_thread")]
async fn issue_15_state_show_and_clear() {
    let fixture = fixture("").await;
    let dir = state_dir(&fixture);
    let empty = session_host(&["state", "show", "--state-dir", &dir]);
    assert_eq!(empty.status.code(), Some(1));
    assert!(stderr(&empty).contains("no state in"), "{}", stderr(&empty));
    let mut gateway = serve(&fixture).await;
    load(&gateway, 8).await;
    gateway.terminate();
    exit(&mut gateway, Duration::from_secs(30)).await;
    let shown = show(&dir);
    let pools = shown["pools"].as_array().expect("pools");
    assert_eq!(pools.len(), 1, "{shown}");
    assert_eq!(pools[0]["id"], SITE);
    let sessions = pools[0]["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len() as u64, SIZE, "{shown}");
    assert!(
        sessions
            .iter()
            .all(|s| s["age_secs"].as_f64().is_some_and(|a| a < 60.0))
    );
    let text = session_host(&["state", "show", "--state-dir", &dir]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains(&format!("pool {SITE}: {SIZE} of {SIZE} sessions")),
        "{text}"
    );
    let nope = session_host(&["state", "clear", "--state-dir", &dir, "--pool", "nope"]);
    assert_eq!(nope.status.code(), Some(1));
    assert!(
        stderr(&nope).contains("no pool \"nope\""),
        "{}",
        stderr(&nope)
    );
    let cleared = session_host(&["state", "clear", "--state-dir", &dir, "--pool", SITE]);
    assert!(cleared.status.success(), "{}", stderr(&cleared));
    assert_eq!(show(&dir)["pools"], json!([]));
    assert!(Path::new(&dir).join("state.redb").is_file());
}

/// The per-pool counter `key` of [`SITE`] in `/status`, and in `/metrics`.
async fn counted(gateway: &Gateway, key: &str) -> (u64, u64) {
    let status = gateway.get("/status", None).await.json;
    let shown = status["stats"]["per_pool"][SITE][key].as_u64().unwrap_or(0);
    let metrics = gateway.get("/metrics", None).await.json;
    let metrics = metrics.as_str().unwrap_or_default().to_owned();
    let series = format!("session_host_session_events_total{{pool=\"{SITE}\",event=\"{key}\"}} ");
    let scraped = metrics
        .lines()
        .find_map(|l| l.strip_prefix(series.as_str()))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    (shown, scraped)
}

#[tokio::test(flavor = "multi_thread")]
async fn issue_15_stats_survive_kill_9_and_carry_on() {
    let fixture = fixture("").await;
    let mut gateway = serve(&fixture).await;
    load(&gateway, 20).await;
    let key = "use/check-passed";
    let (used, scraped) = counted(&gateway, key).await;
    assert!(
        used >= 20 && scraped == used,
        "{used} in /status, {scraped} in /metrics"
    );
    let (inits, _) = counted(&gateway, "init/check-passed").await;
    assert_eq!(inits, SIZE);
    // Past two write intervals, then killed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    kill_9(&gateway);
    exit(&mut gateway, Duration::from_secs(10)).await;
    drop(gateway);
    let gateway = serve(&fixture).await;
    assert_eq!(counted(&gateway, key).await, (used, used), "restored");
    assert_eq!(counted(&gateway, "init/check-passed").await.0, SIZE);
    load(&gateway, 5).await;
    assert_eq!(
        counted(&gateway, key).await,
        (used + 5, used + 5),
        "carried on"
    );
}
