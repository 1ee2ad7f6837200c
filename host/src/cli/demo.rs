//! `session-host demo`: one command, no setup, no key.
//!
//! It starts the embedded emulator on loopback with its built-in scenario, loads the example
//! configs (embedded in the binary from `example-configs/dist/`, so the demo runs from any
//! directory), sends a batch of requests through the engine, and prints what happened per pool.
//! The batch is chosen to make every part of session management visible:
//!
//! | Site | What it shows |
//! | --- | --- |
//! | `example.com` | sessions created, then banned after 12 uses and replaced |
//! | `csrf.example` | the `csrf-token` config: a token from the init page added to every request |
//! | `postal-code-10001.example` | the `location` config: sessions initialised with `setLocation` |
//! | `flaky.example` | 30 % of answers are 520: retried with another session, sessions refreshed |
//! | `no-location-support.example` | `setLocation` unsupported: the pool closes, its requests fail fast |
//!
//! With `--serve` (issue 19) the demo then keeps going: it serves the gateway and its
//! dashboard on `--listen` (loopback, no key), prints the dashboard's URL, and sends a slow
//! trickle of the same requests ([`TRICKLE`] apart) so that sessions live, get banned and retire
//! in the browser, until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures::StreamExt;
use serde_json::{Value, json};
use session_host::engine::{Engine, EngineRequest};
use session_host::gateway::{self, GatewayConfig, GatewayState};
use session_host::plugin::{Address, CallEnv, Limits, Runtime};
use session_host::problem::Problem;
use session_host::settings::{SessionSettings, UpstreamSettings};
use session_host::telemetry;
use session_host::zyte::{ApiKey, Client};

use super::progress::Progress;
use super::summary::{self, Tally};

/// The prebuilt example configs, embedded at build time.
const CONFIGS: [(&str, &[u8]); 2] = [
    (
        "csrf-token",
        include_bytes!("../../../example-configs/dist/csrf-token.wasm"),
    ),
    (
        "location",
        include_bytes!("../../../example-configs/dist/location.wasm"),
    ),
];

/// Options of `demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Requests in the batch.
    #[arg(long, default_value_t = 300)]
    requests: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seed of the emulator's random decisions (bans, faults).
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// After the batch, keep the gateway and its dashboard up, with a slow trickle of traffic,
    /// until Ctrl-C.
    #[arg(long)]
    serve: bool,
    /// Where `--serve` listens (a loopback address: the demo's gateway has no key).
    #[arg(long, value_name = "ADDR", default_value_t = gateway::DEFAULT_LISTEN, requires = "serve")]
    listen: SocketAddr,
}

/// The pause between two requests of `--serve`'s trickle: slow enough to follow in the
/// dashboard, fast enough that `example.com` sessions get banned and replaced within minutes.
pub const TRICKLE: Duration = Duration::from_millis(500);

/// Runs the demo.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    if args.serve {
        telemetry::install()?; // before the batch, so that the dashboard shows its latencies
    }
    let emulator = zyte_emulator::start(zyte_emulator::EmulatorConfig {
        seed: args.seed,
        ..Default::default()
    })
    .await
    .context("cannot start the emulator")?;
    println!("Zyte API emulator listening at {}", emulator.base_url());
    let engine = engine(&emulator.base_url()).await?;
    let batch = batch(args.requests);
    let live = engine.clone();
    let progress = Progress::start(batch.len(), 0, move || summary::live(&live));
    let mut tally = Tally::default();
    let mut outcomes = futures::stream::iter(batch)
        .map(|(pool_hint, request)| run_one(&engine, pool_hint, request))
        .buffer_unordered(args.concurrency.max(1));
    while let Some((pool, problem)) = outcomes.next().await {
        progress.record(problem.is_none());
        tally.record(Some(&pool), problem.as_ref());
    }
    let elapsed = progress.finish();
    println!(
        "{} requests in {:.1} s",
        args.requests,
        elapsed.as_secs_f64()
    );
    summary::write_table(&mut std::io::stdout(), &engine, &tally)?;
    print_emulator(&emulator.stats());
    if args.serve {
        drop(outcomes);
        serve(engine, args.listen).await?;
    }
    emulator.shutdown().await;
    Ok(())
}

/// `--serve`: the gateway and dashboard on `listen`, a trickle of traffic, until a signal.
async fn serve(engine: Engine, listen: SocketAddr) -> anyhow::Result<()> {
    let signal = super::serve::shutdown_signal()?;
    let config = GatewayConfig {
        listen,
        metrics: Some(Arc::new({
            let engine = engine.clone();
            move || telemetry::scrape(&engine)
        })),
        ..GatewayConfig::default()
    };
    let listener = gateway::bind(&config).await?;
    let addr = listener
        .local_addr()
        .context("cannot read the bound address")?;
    let trickle = tokio::spawn(trickle(engine.clone()));
    println!("\ndashboard: http://{addr}/ (Zyte API gateway at http://{addr}/v1/); Ctrl-C stops");
    gateway::serve(listener, GatewayState::new(engine, config), signal).await?;
    trickle.abort();
    Ok(())
}

/// One request of the batch every [`TRICKLE`], for ever.
async fn trickle(engine: Engine) {
    for i in 0.. {
        tokio::time::sleep(TRICKLE).await;
        let (hint, request) = request_at(i);
        let engine = engine.clone();
        // Not awaited: a slow answer does not hold up the trickle.
        tokio::spawn(async move { run_one(&engine, hint, request).await });
    }
}

/// An engine on the emulator with the example configs loaded.
async fn engine(base_url: &str) -> anyhow::Result<Engine> {
    let runtime = Runtime::new(Limits::default())?;
    let mut plugins = Vec::new();
    for (name, bytes) in CONFIGS {
        let plugin = runtime
            .load_bytes(name, bytes.to_vec(), CallEnv::default())
            .await?;
        println!(
            "loaded config {name}: {}",
            plugin.rules().include.join(", ")
        );
        plugins.push(Arc::new(plugin));
    }
    // Short waits so that the demo takes seconds: pools of 3, retries without the real
    // multi-second back-off, no creation delay.
    let settings = SessionSettings {
        enabled: true,
        pool_size: 3,
        creation_retry_delay: 0.5,
        queue_wait_time: 0.2,
        ..SessionSettings::default()
    };
    let upstream = UpstreamSettings {
        url: base_url.to_owned(),
        wait_scale: 0.0,
        ..UpstreamSettings::default()
    };
    let engine = Engine::new(settings, Client::new(&upstream, ApiKey::new("demo-key"))?);
    engine.set_configs(plugins)?;
    Ok(engine)
}

/// The batch: `(pool label for errors, request)`, interleaved across sites.
fn batch(total: usize) -> Vec<(String, EngineRequest)> {
    (0..total).map(request_at).collect()
}

/// The batch's request number `i`.
fn request_at(i: usize) -> (String, EngineRequest) {
    let (url, body) = match i % 10 {
        0..=2 => (
            format!("https://example.com/page/{i}"),
            json!({"httpResponseBody": true}),
        ),
        3 | 4 => (
            format!("https://csrf.example/search?q=item{i}"),
            json!({"httpResponseBody": true}),
        ),
        5 | 6 => (
            format!("https://postal-code-10001.example/products/{i}"),
            json!({"httpResponseBody": true}),
        ),
        7 | 8 => (
            format!("https://flaky.example/item/{i}"),
            json!({"httpResponseBody": true}),
        ),
        _ => (
            format!("https://no-location-support.example/p/{i}"),
            json!({"browserHtml": true}),
        ),
    };
    let mut body = body.as_object().cloned().unwrap_or_default();
    let host = url::Url::parse(&url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    body.insert("url".into(), Value::String(url));
    let mut request = EngineRequest::new(body);
    if host == "no-location-support.example" {
        request.controls.location = Some(Address {
            address_country: Some("US".into()),
            address_region: None,
            postal_code: Some("10001".into()),
            street_address: None,
        });
    }
    (host, request)
}

/// Sends `request`: the pool that served or refused it, and the problem when it failed.
async fn run_one(
    engine: &Engine,
    pool_hint: String,
    request: EngineRequest,
) -> (String, Option<Problem>) {
    match engine.execute(request).await {
        Ok(response) => (
            response.served_by.map(|s| s.pool).unwrap_or(pool_hint),
            None,
        ),
        Err(error) => {
            let problem = Problem::from_engine_error(&error);
            let pool = problem.pool().map(str::to_owned).unwrap_or(pool_hint);
            (pool, Some(problem))
        }
    }
}

/// What the emulator saw: sessions per site.
fn print_emulator(emulator: &zyte_emulator::StatsSnapshot) {
    println!("\nserver side (emulator): sessions created per site");
    for (site, s) in &emulator.sites {
        if s.sessions_created > 0 {
            println!(
                "  {site:<30} {:>4} sessions, {:>4} uses, {:>3} bans",
                s.sessions_created, s.session_uses, s.bans
            );
        }
    }
}
