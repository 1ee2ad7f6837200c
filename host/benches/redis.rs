//! The Redis store's cost per request against the in-memory one (issue 16), through the engine,
//! in one run, and the throughput of 1, 2 and 3 hosts sharing one pool on one Redis.
//!
//! The in-process emulator (zero latency) upstream, the built-in default config, no delay,
//! pools of 8 sessions; `redis-server` on a free loopback port (the testkit's). Each "host" is
//! an engine with its own `RedisStore` (its own connection) in this process.
//!
//! - Overhead: alternating rounds of `ROUND` sequential requests, memory store then Redis store;
//!   prints each one's median time per request (with range) and the median time the Redis store
//!   adds. Target: ≤ 150 µs added per request (one script awaited: the lease, which carries the
//!   release of the request before it).
//! - Hosts: alternating rounds of 1, 2 and 3 engines, each sending requests one after another,
//!   all at once, to one shared pool; prints the median requests/s (with range) per host count.
//!
//! Run: `cargo bench -p session-host --bench redis`; `REDIS_BENCH_SMOKE=1` runs 2 short rounds
//! (CI-sized). Without `redis-server` it prints why and does nothing.
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, json};
use session_host::engine::{Engine, EngineRequest};
use session_host::settings::SessionSettings;
use session_host::store::{MemoryStore, RedisOptions, RedisStore};
use session_host::zyte::{ApiKey, Client};
use session_host_testkit::redis::RedisServer;
use session_host_testkit::support;

const SITE: &str = "bench.example";

fn request() -> EngineRequest {
    let body = json!({"url": format!("https://{SITE}/"), "httpResponseBody": true});
    EngineRequest::new(body.as_object().cloned().unwrap_or_else(Map::new))
}

fn median_range(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

/// Seconds per request of `n` sequential requests on `engine`, sent from a task on the runtime's
/// workers, as a `serve` host runs each connection (not from the thread blocking on the
/// runtime, which would add a hop between threads to every store call, memory and Redis alike).
async fn per_request(engine: &Engine, n: u32) -> f64 {
    let engine = engine.clone();
    let task = tokio::spawn(async move {
        let start = Instant::now();
        for _ in 0..n {
            engine.execute(request()).await.expect("request");
        }
        start.elapsed().as_secs_f64() / f64::from(n)
    });
    task.await.expect("the bench task")
}

/// Seconds per `PING` of `n` sequential ones on `conn`, from a task on the workers: one bare
/// loopback round trip with Redis through the client the store uses, the floor of what one
/// script awaited per request can add.
async fn per_ping(conn: &::redis::aio::MultiplexedConnection, n: u32) -> f64 {
    let mut conn = conn.clone();
    let task = tokio::spawn(async move {
        let start = Instant::now();
        for _ in 0..n {
            let _: String = ::redis::cmd("PING")
                .query_async(&mut conn)
                .await
                .expect("PING");
        }
        start.elapsed().as_secs_f64() / f64::from(n)
    });
    task.await.expect("the bench task")
}

/// Requests/s of `engines` each sending `n` sequential requests, all at once.
async fn throughput(engines: &[Engine], n: u32) -> f64 {
    let start = Instant::now();
    let all = engines.iter().map(|e| per_request(e, n));
    futures::future::join_all(all).await;
    f64::from(n) * engines.len() as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let smoke = std::env::var_os("REDIS_BENCH_SMOKE").is_some();
    let (rounds, round) = if smoke { (2, 200) } else { (7, 2_000) };
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio");
    let (_emulator, upstream) = rt.block_on(support::instant_emulator(None));
    let settings = SessionSettings {
        enabled: true,
        randomize_delay: false,
        delay: 0.0,
        pool_size: 8,
        ..SessionSettings::default()
    };
    let client = || Client::new(&upstream, ApiKey::new("bench-key")).expect("client");
    let memory = Engine::with_store(
        settings.clone(),
        client(),
        Arc::new(MemoryStore::new(&settings)),
    );
    let hosts: Vec<Engine> = (0..3)
        .map(|_| {
            let options = RedisOptions {
                lease_ttl: Duration::from_secs(30),
                ..RedisOptions::default()
            };
            let store = rt.block_on(RedisStore::connect(&redis.url(), options));
            Engine::with_store(settings.clone(), client(), Arc::new(store.expect("Redis")))
        })
        .collect();
    let ping = rt.block_on(async {
        let client = ::redis::Client::open(redis.url()).expect("Redis URL");
        client
            .get_multiplexed_async_connection()
            .await
            .expect("Redis")
    });
    // Warm up: pools created, scripts loaded.
    rt.block_on(per_request(&memory, 50));
    for host in &hosts {
        rt.block_on(per_request(host, 50));
    }
    let (mut mem, mut red, mut added, mut trips) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let m = rt.block_on(per_request(&memory, round)) * 1e6;
        let r = rt.block_on(per_request(&hosts[0], round)) * 1e6;
        let p = rt.block_on(per_ping(&ping, round)) * 1e6;
        mem.push(m);
        red.push(r);
        added.push(r - m);
        trips.push(p);
    }
    let (m, r, a) = (median_range(mem), median_range(red), median_range(added));
    let p = median_range(trips);
    println!(
        "redis: memory store {:.0} µs/request ({:.0}–{:.0}); Redis store {:.0} µs ({:.0}–{:.0}); added {:.0} µs ({:.0}–{:.0}), ratio {:.2}",
        m.0,
        m.1,
        m.2,
        r.0,
        r.1,
        r.2,
        a.0,
        a.1,
        a.2,
        r.0 / m.0
    );
    println!(
        "redis: one bare round trip (PING) {:.0} µs ({:.0}–{:.0}); added per request / round trip {:.2}",
        p.0,
        p.1,
        p.2,
        a.0 / p.0
    );
    // What Redis itself spends per script (the rest of a round trip is the network and the
    // scheduling of the processes on the cores).
    let stats: String = rt.block_on(async {
        let mut conn = ping.clone();
        ::redis::cmd("INFO")
            .arg("commandstats")
            .query_async(&mut conn)
            .await
            .expect("INFO")
    });
    if let Some(line) = stats.lines().find(|l| l.starts_with("cmdstat_evalsha:")) {
        println!("redis: server time per script: {line}");
    }
    let mut rates = vec![Vec::new(); 3];
    for _ in 0..rounds {
        for (k, out) in rates.iter_mut().enumerate() {
            out.push(rt.block_on(throughput(&hosts[..=k], round / 2)));
        }
    }
    for (k, rate) in rates.into_iter().enumerate() {
        let (med, lo, hi) = median_range(rate);
        println!(
            "redis: {} host(s) on one pool: {med:.0} requests/s ({lo:.0}–{hi:.0})",
            k + 1
        );
    }
}
