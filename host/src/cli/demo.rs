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

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use session_host::engine::{Engine, EngineError, EngineRequest};
use session_host::plugin::{Address, CallEnv, Limits, Runtime};
use session_host::settings::{SessionSettings, UpstreamSettings};
use session_host::zyte::{ApiKey, Client};

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
}

/// The outcome of one request, for the summary.
struct Outcome {
    pool: String,
    ok: bool,
    error: Option<String>,
}

/// Runs the demo.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let emulator = zyte_emulator::start(zyte_emulator::EmulatorConfig {
        seed: args.seed,
        ..Default::default()
    })
    .await
    .context("cannot start the emulator")?;
    println!("Zyte API emulator listening at {}", emulator.base_url());
    let engine = engine(&emulator.base_url()).await?;
    let batch = batch(args.requests);
    let progress = Progress::new(batch.len());
    let outcomes: Vec<Outcome> = futures::stream::iter(batch)
        .map(|(pool_hint, request)| {
            let engine = engine.clone();
            async move { run_one(&engine, pool_hint, request).await }
        })
        .buffer_unordered(args.concurrency.max(1))
        .inspect(|outcome| progress.record(outcome))
        .collect()
        .await;
    progress.finish();
    print_summary(&engine, &outcomes, &emulator.stats());
    emulator.shutdown().await;
    Ok(())
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
    (0..total)
        .map(|i| {
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
        })
        .collect()
}

async fn run_one(engine: &Engine, pool_hint: String, request: EngineRequest) -> Outcome {
    match engine.execute(request).await {
        Ok(response) => Outcome {
            pool: response.served_by.map(|s| s.pool).unwrap_or(pool_hint),
            ok: response.status == 200,
            error: None,
        },
        Err(error) => {
            let pool = match &error {
                EngineError::PoolClosed { pool, .. } => pool.clone(),
                _ => pool_hint,
            };
            Outcome {
                pool,
                ok: false,
                error: Some(kind(&error)),
            }
        }
    }
}

/// A short label of an engine error, for counting.
fn kind(error: &EngineError) -> String {
    match error {
        EngineError::PoolClosed { reason, .. } => format!("pool closed ({reason})"),
        other => {
            let text = other.to_string();
            text.split(':').next().unwrap_or(&text).to_owned()
        }
    }
}

/// A progress bar on a terminal, plain periodic lines otherwise.
struct Progress {
    bar: Option<ProgressBar>,
    total: usize,
    started: Instant,
    done: std::sync::atomic::AtomicUsize,
    errors: std::sync::atomic::AtomicUsize,
}

impl Progress {
    fn new(total: usize) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total as u64);
            let style = ProgressStyle::with_template("{bar:40} {pos}/{len} {per_sec:>10} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        Self {
            bar,
            total,
            started: Instant::now(),
            done: Default::default(),
            errors: Default::default(),
        }
    }

    fn record(&self, outcome: &Outcome) {
        use std::sync::atomic::Ordering::Relaxed;
        let done = self.done.fetch_add(1, Relaxed) + 1;
        let errors =
            self.errors.fetch_add(usize::from(!outcome.ok), Relaxed) + usize::from(!outcome.ok);
        match &self.bar {
            Some(bar) => {
                bar.set_position(done as u64);
                bar.set_message(format!("errors: {errors}"));
            }
            None if done.is_multiple_of(50) || done == self.total => {
                let rate = done as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
                eprintln!(
                    "{done}/{} requests, {errors} errors, {rate:.0} req/s",
                    self.total
                );
            }
            None => {}
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
        let elapsed = self.started.elapsed();
        println!("{} requests in {:.1} s", self.total, elapsed.as_secs_f64());
    }
}

fn print_summary(engine: &Engine, outcomes: &[Outcome], emulator: &zyte_emulator::StatsSnapshot) {
    let stats = engine.stats();
    let mut per_pool: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut errors: BTreeMap<&str, usize> = BTreeMap::new();
    for outcome in outcomes {
        let entry = per_pool.entry(&outcome.pool).or_default();
        entry.0 += 1;
        entry.1 += usize::from(outcome.ok);
        if let Some(error) = &outcome.error {
            *errors.entry(error).or_default() += 1;
        }
    }
    println!();
    println!(
        "{:<38} {:>8} {:>8} {:>6} {:>6} {:>6} {:>8}  state",
        "pool", "requests", "success", "inits", "uses", "bans", "check ✗"
    );
    for pool in engine.pools() {
        let (requests, ok) = per_pool.get(pool.id.as_str()).copied().unwrap_or_default();
        let counter = |key: &str| stats.pool(&pool.id, key);
        let state = match &pool.closed {
            Some(reason) => format!("closed: {reason}"),
            None => format!(
                "{} live, {} retired",
                pool.sessions.len(),
                pool.retired.len()
            ),
        };
        println!(
            "{:<38} {:>8} {:>7.0}% {:>6} {:>6} {:>6} {:>8}  {}",
            pool.id,
            requests,
            100.0 * ok as f64 / requests.max(1) as f64,
            counter("init/check-passed"),
            counter("use/check-passed") + counter("use/check-failed"),
            counter("use/failed"),
            counter("use/check-failed"),
            state,
        );
        for retired in pool.retired.iter().rev().take(2) {
            println!(
                "    retired {}: {}",
                short(&retired.id),
                retired.retired_because.as_deref().unwrap_or("?")
            );
        }
    }
    if !errors.is_empty() {
        println!("\nrequests without a response, by cause:");
        for (error, count) in errors {
            println!("  {count:>5}  {error}");
        }
    }
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

/// The first block of a session id.
fn short(id: &str) -> &str {
    id.split('-').next().unwrap_or(id)
}
