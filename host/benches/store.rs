//! The pool store's cost against pool size (issue 15), through the engine, in one run.
//!
//! Two pools on one engine, the in-process emulator (zero latency, frozen clock) upstream, the
//! built-in default config, no delay:
//!
//! - `store/small`: a pool of 8 sessions;
//! - `store/big`: a pool of 100,000 sessions (filled through the store's own steps, as a
//!   restart would), every request taking the next one in rotation.
//!
//! Targets: `big` throughput ≥ 0.9× `small`; ≤ 1 KB of memory per idle session; 100,000
//! sessions in ≤ 200 MB RSS in total. Besides criterion's figures, the bench runs alternating
//! rounds of both (2 noisy cores) and prints the median and range of each, their ratio, and the
//! memory figures (RSS from `/proc/self/statm`, before and after filling the big pool).
//!
//! Observation (issue 19): the work of one `/metrics` scrape, `/status` page and `/events`
//! tick (every pool's counts, a page of pools with 20 sessions each, a 100-session timeline)
//! on an engine whose `big.example` holds 100,000 sessions, against one whose pools hold 8
//! each, in alternating rounds; target: the ratio ≈ 1× (the cost does not grow with pool
//! size). It also times the old path (`Engine::pools`, a copy of every session) once each.
//!
//! Run: `cargo bench -p session-host --bench store`.
#![expect(
    missing_docs,
    reason = "criterion_group! and criterion_main! generate undocumented items"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Map, Value, json};
use session_host::engine::pool::{PoolOptions, Rotation, Session};
use session_host::engine::{Engine, EngineRequest};
use session_host::session_data::SessionData;
use session_host::settings::SessionSettings;
use session_host::store::{MemoryStore, PoolConfig, PoolKind, PoolStore, Registration};
use session_host::zyte::{ApiKey, Client};
use session_host_testkit::support;

const BIG: u32 = 100_000;
const SMALL: u32 = 8;
const SCENARIO: &str = "[policy]\nmax_active_sessions = 1000000\n\n[[site]]\ndomain = \"*\"\n";

fn request(host: &str) -> EngineRequest {
    let body = json!({"url": format!("https://{host}/"), "httpResponseBody": true});
    EngineRequest::new(body.as_object().cloned().unwrap_or_else(Map::new))
}

/// Resident memory of this process, in bytes.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Fills pool `id` with `n` sessions through the store's steps: each takes a creation slot
/// and adds its session, as the engine does.
async fn fill(store: &dyn PoolStore, id: &str, n: u32, rotation: &Rotation) {
    let options = PoolOptions {
        size: n,
        delay: 0.0,
        randomize_delay: false,
    };
    let config = PoolConfig {
        options,
        max_bad_inits: 8,
        kind: PoolKind::Named,
    };
    let now = Instant::now();
    store
        .register(id, config, Registration::Request, now)
        .await
        .expect("room for the pool");
    for _ in 0..n {
        let step = store.lease(id, now, rotation, true, 0.0).await;
        let step = step.expect("pool");
        assert!(step.create);
        let sid = uuid::Uuid::new_v4().to_string();
        let session = Session::new(sid, now, SessionData::new(), Vec::<Value>::new());
        store.add(id, session, Duration::ZERO, false).await;
    }
}

fn median_range(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let scenario = zyte_emulator::Scenario::from_toml_str(SCENARIO).expect("scenario");
    let (_emulator, upstream) = rt.block_on(support::instant_emulator(Some(scenario)));
    let client = Client::new(&upstream, ApiKey::new("bench-key")).expect("client");
    let settings = SessionSettings {
        enabled: true,
        randomize_delay: false,
        delay: 0.0,
        ..SessionSettings::default()
    };
    let rotation = Rotation::from_settings(&settings);
    let store = Arc::new(MemoryStore::new(&settings));
    let before = rss();
    rt.block_on(fill(store.as_ref(), "big.example", BIG, &rotation));
    let after = rss();
    rt.block_on(fill(store.as_ref(), "small.example", SMALL, &rotation));
    let per_session = after.saturating_sub(before) as f64 / f64::from(BIG);
    let small_store = Arc::new(MemoryStore::new(&settings));
    rt.block_on(fill(small_store.as_ref(), "big.example", SMALL, &rotation));
    rt.block_on(fill(
        small_store.as_ref(),
        "small.example",
        SMALL,
        &rotation,
    ));
    let engine8 = Engine::with_store(settings.clone(), client.clone(), small_store);
    let engine = Engine::with_store(settings, client, store);
    observation(&engine, &engine8);
    let (small, big) = (request("small.example"), request("big.example"));

    // Alternating rounds: each sends `ROUND` requests to one pool, then to the other.
    const ROUND: u32 = 2_000;
    let mut rates = (Vec::new(), Vec::new());
    for _ in 0..7 {
        for (req, out) in [(&small, &mut rates.0), (&big, &mut rates.1)] {
            let start = Instant::now();
            for _ in 0..ROUND {
                rt.block_on(engine.execute(req.clone())).expect("request");
            }
            out.push(f64::from(ROUND) / start.elapsed().as_secs_f64());
        }
    }
    let (s, b) = (median_range(rates.0), median_range(rates.1));
    println!(
        "store: small pool {:.0} req/s (range {:.0}–{:.0}); 100k pool {:.0} req/s (range {:.0}–{:.0}); ratio {:.2}",
        s.0,
        s.1,
        s.2,
        b.0,
        b.1,
        b.2,
        b.0 / s.0
    );
    println!(
        "store: {per_session:.0} bytes per idle session; RSS {:.1} MB with 100k sessions (before filling {:.1} MB)",
        after as f64 / 1e6,
        before as f64 / 1e6
    );

    let mut group = c.benchmark_group("store");
    group.bench_function("small", |bench| {
        bench
            .to_async(&rt)
            .iter(|| async { engine.execute(small.clone()).await.expect("request") })
    });
    group.bench_function("big", |bench| {
        bench
            .to_async(&rt)
            .iter(|| async { engine.execute(big.clone()).await.expect("request") })
    });
    group.bench_function("scrape_small", |bench| bench.iter(|| scrape(&engine8)));
    group.bench_function("scrape_big", |bench| bench.iter(|| scrape(&engine)));
    group.finish();
}

/// What one scrape, status page and dashboard tick read (see the module doc).
fn scrape(engine: &Engine) -> usize {
    let counts = engine.pool_counts();
    let (_, page) = engine.pools_page_bounded(0, 100, 20);
    let timeline = engine.pool_bounded("big.example", 100);
    counts.len() + page.len() + usize::from(timeline.is_some())
}

/// Alternating rounds of [`scrape`] on the 100k engine and the 8-session one; prints medians,
/// ranges and their ratio, and the old path's cost.
fn observation(big: &Engine, small: &Engine) {
    const ROUND: u32 = 200;
    let mut micros = (Vec::new(), Vec::new());
    for _ in 0..7 {
        for (engine, out) in [(small, &mut micros.0), (big, &mut micros.1)] {
            let start = Instant::now();
            for _ in 0..ROUND {
                std::hint::black_box(scrape(engine));
            }
            out.push(start.elapsed().as_secs_f64() * 1e6 / f64::from(ROUND));
        }
    }
    let (s, b) = (median_range(micros.0), median_range(micros.1));
    let old = |engine: &Engine| {
        let start = Instant::now();
        std::hint::black_box(engine.pools());
        start.elapsed().as_secs_f64() * 1e6
    };
    println!(
        "observation: 8-session pools {:.1} µs a scrape (range {:.1}–{:.1}); 100k pool {:.1} µs (range {:.1}–{:.1}); ratio {:.2}; the old copy of every session: {:.0} µs vs {:.0} µs",
        s.0,
        s.1,
        s.2,
        b.0,
        b.1,
        b.2,
        b.0 / s.0,
        old(small),
        old(big)
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
