//! The gateway's throughput, added latency and CPU cost per request, against the same load sent
//! straight to the emulator, in one run (issue #6, item 5).
//!
//! Everything runs in this one process, on one multi-threaded tokio runtime (one worker per
//! core): the in-process Zyte API emulator (frozen clock, no simulated latency: `time_scale` 0,
//! and the built-in sites used here have none), the gateway served on `127.0.0.1:0` exactly as
//! `session-host serve` builds it (`telemetry::install`, a `/metrics` renderer, `gateway::bind`,
//! `gateway::serve`), and the load generator. The load is 64 keep-alive HTTP/1.1 connections made
//! with hyper's client, each a task that sends its next request as soon as the previous answer's
//! body is read; a warm-up (`GATEWAY_BENCH_WARMUP_SECS`, default 1 s) then a measured window
//! (`GATEWAY_BENCH_SECS`, default 5 s) per phase.
//!
//! Each case is measured at 64 connections (the load, and the targets) and again at 1
//! connection: with a closed loop of 64 connections the latency is mostly queueing (Little's law:
//! latency ≈ connections / throughput, so the added latency follows the throughput ratio), while
//! the 1-connection row shows what one request costs in time when nothing waits.
//!
//! Two cases, each measured direct first, then through the gateway:
//!
//! - `plain`: `plain.example` (the built-in scenario's catch-all site: no bans, no faults) with
//!   the built-in default config (no guest). Gateway body: `{"url", "httpResponseBody": true,
//!   "sessionManagement": {"enabled": true}}`. Direct body: the same request with
//!   `"session": {"id"}`, connection *i* using session *i* mod 16, which is what the engine sends.
//! - `csrf`: `csrf.example/search` through the `csrf-token` example config
//!   (`example-configs/dist/csrf-token.wasm`; its `process-request` hook adds each session's
//!   token). Direct body: the session id and the token header already in place, for 16 sessions
//!   whose tokens were read beforehand.
//!
//! The engine's pool has 16 sessions (`pool_size = 16`), so that 16 × `max_session_concurrency`
//! (4) = 64 requests can be in flight: with the default 8, half the connections would wait for a
//! session, which is pool sizing, not gateway cost. The direct load uses the same 16 sessions'
//! worth of ids, so the emulator does the same work in both phases.
//!
//! Reported per phase: requests answered in the window, answers other than 200 (counted, never
//! hidden), throughput, latency p50/p99 (every request's time from send to its last body byte,
//! sorted), and the process's CPU time per request: `utime + stime` of `/proc/self/stat` (every
//! thread of the process, including finished ones, in clock ticks of `getconf CLK_TCK`) over the
//! measured window, divided by the requests. The direct phase's CPU is the emulator's plus the
//! load generator's; the gateway phase's adds the gateway, the engine and its Zyte API client.
//! Their difference is the host's own CPU time per request (gateway + engine + upstream client),
//! the figure the issue asks for. Ratios: gateway / direct throughput (target ≥ 0.7) and
//! gateway p99 − direct p99 (target ≤ 1 ms).
//!
//! On a shared 2-core machine the load generator, the emulator and the gateway compete for the
//! same cores, so the throughput ratio is bounded by the CPU shares: it measures cost, not a
//! network-bound deployment. Run it more than once and note the machine's load.
//!
//! Run: `cargo bench -p session-host --bench gateway` (quick: `GATEWAY_BENCH_SECS=1`; one case:
//! `GATEWAY_BENCH_CASES=plain`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};
use session_host::engine::Engine;
use session_host::gateway::{self, GatewayConfig, GatewayState};
use session_host::plugin::{CallEnv, Limits, Runtime};
use session_host::settings::{RetryPolicyName, SessionSettings, UpstreamSettings};
use session_host::telemetry;
use session_host::zyte::{ApiKey, Client};
use tokio::net::TcpStream;

type AnyError = Box<dyn std::error::Error + Send + Sync>;

const CONNECTIONS: usize = 64;
const SESSIONS: usize = 16;
const PLAIN_URL: &str = "https://plain.example/search?q=shoes";
const CSRF_URL: &str = "https://csrf.example/search?q=shoes";

/// How one phase loads its target.
struct Load {
    connections: usize,
    warmup: Duration,
    measure: Duration,
    /// Clock ticks per second of `/proc/self/stat`.
    ticks: f64,
}

/// One case at one concurrency: direct, then through the gateway.
struct Row {
    case: &'static str,
    connections: usize,
    direct: Figures,
    through: Figures,
}

/// One phase's figures.
struct Figures {
    requests: usize,
    non_200: usize,
    seconds: f64,
    cpu_seconds: f64,
    /// Every request's latency in microseconds, sorted.
    latencies: Vec<u32>,
}

impl Figures {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * self.latencies.len() as f64).ceil() as usize;
        let index = rank.clamp(1, self.latencies.len()) - 1;
        f64::from(self.latencies[index]) / 1000.0
    }

    fn cpu_us_per_request(&self) -> f64 {
        self.cpu_seconds * 1e6 / self.requests.max(1) as f64
    }
}

fn env_secs(name: &str, default: f64) -> Duration {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .unwrap_or(Duration::from_secs_f64(default))
}

fn main() -> Result<(), AnyError> {
    let measure = env_secs("GATEWAY_BENCH_SECS", 5.0);
    let warmup = env_secs("GATEWAY_BENCH_WARMUP_SECS", 1.0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(measure, warmup))
}

async fn run(measure: Duration, warmup: Duration) -> Result<(), AnyError> {
    let ticks = clock_ticks();
    let emulator = zyte_emulator::start(zyte_emulator::EmulatorConfig {
        time_scale: 0.0,
        ..zyte_emulator::EmulatorConfig::default()
    })
    .await?;
    let upstream = UpstreamSettings {
        url: emulator.base_url(),
        wait_scale: 0.0,
        ..UpstreamSettings::default()
    };
    let client = Client::new(&upstream, ApiKey::new("bench-key"))?;
    let settings = SessionSettings {
        enabled: true,
        randomize_delay: false,
        pool_size: SESSIONS as u32,
        ..SessionSettings::default()
    };
    let engine = Engine::new(settings, client.clone());
    let plugins = Runtime::new(Limits::default())?;
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../example-configs/dist/csrf-token.wasm"
    );
    let csrf = plugins.load_file(path.as_ref(), CallEnv::default()).await?;
    engine.set_configs(vec![Arc::new(csrf)])?;

    // The gateway, as `session-host serve` builds it.
    telemetry::install()?;
    let mut config = GatewayConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..GatewayConfig::default()
    };
    let listener = gateway::bind(&config).await?;
    let gateway_addr = listener.local_addr()?;
    config.listen = gateway_addr;
    let scraped = engine.clone();
    config.metrics = Some(Arc::new(move || telemetry::scrape(&scraped)));
    let state = GatewayState::new(engine.clone(), config);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(gateway::serve(listener, state, async move {
        let _ = stopped.await;
    }));

    let plain_gateway = vec![body(json!({"url": PLAIN_URL, "httpResponseBody": true,
        "sessionManagement": {"enabled": true}}))];
    let plain_direct: Vec<Bytes> = (0..SESSIONS)
        .map(|_| {
            let sid = uuid::Uuid::new_v4().to_string();
            body(json!({"url": PLAIN_URL, "httpResponseBody": true, "session": {"id": sid}}))
        })
        .collect();
    let csrf_gateway = vec![body(json!({"url": CSRF_URL, "httpResponseBody": true,
        "sessionManagement": {"enabled": true}}))];
    let mut csrf_direct = Vec::new();
    for _ in 0..SESSIONS {
        let sid = uuid::Uuid::new_v4().to_string();
        let token = token(&client, &sid).await?;
        csrf_direct.push(body(json!({"url": CSRF_URL, "httpResponseBody": true,
            "session": {"id": sid},
            "customHttpRequestHeaders": [{"name": "x-csrf-token", "value": token}]})));
    }

    let emulator_addr = emulator.addr();
    let cases = [
        ("plain", plain_direct, plain_gateway),
        ("csrf", csrf_direct, csrf_gateway),
    ];
    let only = std::env::var("GATEWAY_BENCH_CASES").unwrap_or_default();
    let mut rows = Vec::new();
    for (name, direct, through) in cases {
        if !only.is_empty() && !only.split(',').any(|c| c.trim() == name) {
            continue;
        }
        for connections in [CONNECTIONS, 1] {
            let load = Load {
                connections,
                warmup,
                measure,
                ticks,
            };
            let direct = phase(emulator_addr, &direct, &load).await?;
            let through = phase(gateway_addr, &through, &load).await?;
            rows.push(Row {
                case: name,
                connections,
                direct,
                through,
            });
        }
    }
    let _ = stop.send(());
    server.await??;

    report(&rows, measure, warmup);
    for site in ["plain.example", "csrf.example"] {
        let stats = emulator.stats().site(site);
        println!(
            "emulator, {site}: {} sessions created, {} requests, {} answered 200",
            stats.sessions_created,
            stats.requests.total,
            stats.requests.status(200)
        );
    }
    emulator.shutdown().await;
    Ok(())
}

fn body(value: Value) -> Bytes {
    Bytes::from(value.to_string())
}

/// The CSRF token of session `sid`, read from the home page like the config does.
async fn token(client: &Client, sid: &str) -> Result<String, AnyError> {
    let request: Map<String, Value> = [
        ("url".to_owned(), json!("https://csrf.example/")),
        ("httpResponseBody".to_owned(), json!(true)),
        ("session".to_owned(), json!({"id": sid})),
    ]
    .into_iter()
    .collect();
    let answer = client
        .extract(&request, RetryPolicyName::SessionDefault)
        .await?;
    let parsed: Value = serde_json::from_str(&answer.body)?;
    let encoded = parsed["httpResponseBody"].as_str().unwrap_or_default();
    let html = base64::engine::general_purpose::STANDARD.decode(encoded)?;
    let html = String::from_utf8_lossy(&html);
    let start = html.find("value=\"").ok_or("no token on the home page")? + 7;
    let end = html[start..].find('"').ok_or("no closing quote")? + start;
    Ok(html[start..end].to_owned())
}

/// Warms up, then measures `load` on `addr`, connection *i* sending `bodies[i % n]`.
async fn phase(addr: SocketAddr, bodies: &[Bytes], load: &Load) -> Result<Figures, AnyError> {
    let bodies = Arc::new(bodies.to_vec());
    drive(addr, &bodies, load.connections, load.warmup).await?;
    let cpu_before = cpu_seconds(load.ticks)?;
    let started = Instant::now();
    let results = drive(addr, &bodies, load.connections, load.measure).await?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu_seconds = cpu_seconds(load.ticks)? - cpu_before;
    let mut latencies = Vec::new();
    let mut non_200 = 0;
    for (connection_latencies, connection_non_200) in results {
        latencies.extend(connection_latencies);
        non_200 += connection_non_200;
    }
    latencies.sort_unstable();
    Ok(Figures {
        requests: latencies.len(),
        non_200,
        seconds,
        cpu_seconds,
        latencies,
    })
}

/// Runs `connections` connections until `duration` is over; each returns its latencies and
/// non-200s.
async fn drive(
    addr: SocketAddr,
    bodies: &Arc<Vec<Bytes>>,
    connections: usize,
    duration: Duration,
) -> Result<Vec<(Vec<u32>, usize)>, AnyError> {
    let deadline = Instant::now() + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..connections {
        let body = bodies[i % bodies.len()].clone();
        tasks.spawn(connection(addr, body, deadline));
    }
    let mut results = Vec::with_capacity(connections);
    while let Some(done) = tasks.join_next().await {
        results.push(done??);
    }
    Ok(results)
}

async fn connection(
    addr: SocketAddr,
    body: Bytes,
    deadline: Instant,
) -> Result<(Vec<u32>, usize), AnyError> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let mut latencies = Vec::with_capacity(4096);
    let mut non_200 = 0;
    while Instant::now() < deadline {
        let request = Request::builder()
            .method("POST")
            .uri("/v1/extract")
            .header("host", "127.0.0.1")
            .header("authorization", "Basic S0VZOg==")
            .header("content-type", "application/json")
            .body(Full::new(body.clone()))?;
        sender.ready().await?;
        let sent = Instant::now();
        let response = sender.send_request(request).await?;
        let status = response.status();
        response.into_body().collect().await?;
        let micros = sent.elapsed().as_micros();
        latencies.push(u32::try_from(micros).unwrap_or(u32::MAX));
        if status != 200 {
            non_200 += 1;
        }
    }
    Ok((latencies, non_200))
}

/// Clock ticks per second of `/proc/self/stat` times (`getconf CLK_TCK`, 100 on Linux).
fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse::<f64>().ok())
        .filter(|&t| t > 0.0)
        .unwrap_or(100.0)
}

/// The process's user + system CPU time so far, every thread included.
fn cpu_seconds(ticks: f64) -> Result<f64, AnyError> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the command name (which may hold spaces) start at field 3, `state`;
    // `utime` and `stime` are fields 14 and 15.
    let rest = stat.rsplit_once(')').ok_or("unexpected /proc/self/stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11).ok_or("no utime")?.parse()?;
    let stime: f64 = fields.get(12).ok_or("no stime")?.parse()?;
    Ok((utime + stime) / ticks)
}

fn report(rows: &[Row], measure: Duration, warmup: Duration) {
    println!();
    println!(
        "{:.1} s measured after {:.1} s warm-up per phase, {} worker threads",
        measure.as_secs_f64(),
        warmup.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    println!(
        "{:<6} {:>5} {:<8} {:>9} {:>8} {:>9} {:>8} {:>8} {:>11}",
        "case", "conns", "target", "requests", "non-200", "req/s", "p50 ms", "p99 ms", "CPU µs/req"
    );
    for row in rows {
        for (target, f) in [("direct", &row.direct), ("gateway", &row.through)] {
            println!(
                "{:<6} {:>5} {:<8} {:>9} {:>8} {:>9.0} {:>8.2} {:>8.2} {:>11.1}",
                row.case,
                row.connections,
                target,
                f.requests,
                f.non_200,
                f.rps(),
                f.percentile_ms(50.0),
                f.percentile_ms(99.0),
                f.cpu_us_per_request()
            );
        }
    }
    println!();
    println!(
        "{:<6} {:>5} {:>22} {:>24} {:>16}",
        "case", "conns", "gateway/direct req/s", "added p99 ms (p50)", "host CPU µs/req"
    );
    for row in rows {
        let (direct, through) = (&row.direct, &row.through);
        let ratio = through.rps() / direct.rps();
        let added_p99 = through.percentile_ms(99.0) - direct.percentile_ms(99.0);
        let added_p50 = through.percentile_ms(50.0) - direct.percentile_ms(50.0);
        let host_cpu = through.cpu_us_per_request() - direct.cpu_us_per_request();
        let verdict = |ok: bool| if ok { "ok" } else { "MISSED" };
        // The targets are set at 64 connections; the 1-connection row shows the unqueued cost.
        let (ratio_note, p99_note) = if row.connections == CONNECTIONS {
            (verdict(ratio >= 0.7), verdict(added_p99 <= 1.0))
        } else {
            ("-", "-")
        };
        println!(
            "{:<6} {:>5} {ratio:>6.2} (≥0.70: {ratio_note:<6}) {added_p99:>+7.2} ({added_p50:>+6.2}) {p99_note:<6} {host_cpu:>10.1}",
            row.case, row.connections
        );
    }
    println!(
        "host CPU µs/req = gateway phase − direct phase (process utime+stime per request); \
         the CPU column includes the emulator and the load generator"
    );
}
