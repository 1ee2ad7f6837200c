//! The durable store's cost (issue 15), in one run:
//!
//! - **Per request.** The store steps of one request (`register`, `lease`, `release`) on a pool
//!   of 8 sessions, on the [`MemoryStore`] and on the [`DurableStore`] (which marks what
//!   changed; its writer thread writes every 100 ms meanwhile), and whole requests through the
//!   engine against the in-process emulator with each store. Target: ≤ 10 µs added per
//!   request.
//! - **Which database.** The cost of persisting one session record (about 600 bytes of JSON) in
//!   redb and in SQLite (rusqlite, WAL, `synchronous = FULL`, both durable at commit): one
//!   record per transaction, and 1,000 records per transaction (what the write-behind does).
//!
//! Alternating rounds (2 noisy cores), medians and ranges. Run:
//! `cargo bench -p session-host --bench state`.
#![expect(
    missing_docs,
    reason = "criterion_group! and criterion_main! generate undocumented items"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use futures::executor::block_on;
use serde_json::{Map, Value, json};
use session_host::engine::pool::{PoolOptions, Rotation, Session};
use session_host::engine::{Engine, EngineRequest};
use session_host::session_data::SessionData;
use session_host::settings::SessionSettings;
use session_host::store::record::{SessionRecord, Wall};
use session_host::store::{
    DurableStore, MemoryStore, PoolConfig, PoolKind, PoolStore, Registration,
};
use session_host::zyte::{ApiKey, Client};
use session_host_testkit::support;

const SMALL: u32 = 8;
const ROUNDS: usize = 7;

fn median_range(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn config() -> PoolConfig {
    PoolConfig {
        options: PoolOptions {
            size: SMALL,
            delay: 0.0,
            randomize_delay: false,
        },
        max_bad_inits: 8,
        kind: PoolKind::Named,
    }
}

fn fill(store: &dyn PoolStore, id: &str, rotation: &Rotation) {
    let now = Instant::now();
    block_on(store.register(id, config(), Registration::Request, now)).expect("room");
    for _ in 0..SMALL {
        block_on(store.lease(id, now, rotation, true, 0.0)).expect("pool");
        let sid = uuid::Uuid::new_v4().to_string();
        let data = SessionData::new();
        data.set("token", &"t".repeat(200)).expect("set");
        let session = Session::new(sid, now, data, Vec::new());
        block_on(store.add(id, session, Duration::ZERO, false));
    }
}

/// One request's store steps (the in-memory store's futures are ready at once); panics when
/// no session is ready.
fn steps(store: &dyn PoolStore, rotation: &Rotation) {
    let now = Instant::now();
    let id = "site.example";
    block_on(store.register(id, config(), Registration::Request, now)).expect("room");
    let step = block_on(store.lease(id, now, rotation, true, 0.0)).expect("pool");
    let session_host::engine::pool::Choice::Ready(lease) = step.choice else {
        panic!("no session ready: {:?}", step.choice);
    };
    block_on(store.release(id, &lease));
}

/// Nanoseconds per request of `ROUND` requests' steps.
fn time_steps(store: &dyn PoolStore, rotation: &Rotation) -> f64 {
    const ROUND: u32 = 200_000;
    let start = Instant::now();
    for _ in 0..ROUND {
        steps(store, rotation);
    }
    start.elapsed().as_nanos() as f64 / f64::from(ROUND)
}

fn settings() -> SessionSettings {
    SessionSettings {
        enabled: true,
        randomize_delay: false,
        delay: 0.0,
        max_session_concurrency: 0,
        ..SessionSettings::default()
    }
}

fn record() -> Vec<u8> {
    let data = SessionData::new();
    data.set("token", &"t".repeat(200)).expect("set");
    let id = uuid::Uuid::new_v4().to_string();
    let s = Session::new(id, Instant::now(), data, Vec::new());
    serde_json::to_vec(&SessionRecord::of(&s, &Wall::now())).expect("json")
}

const SESSIONS: redb::TableDefinition<(&str, &str), &[u8]> = redb::TableDefinition::new("s");

/// Microseconds per record written to redb, `batch` records per transaction.
fn redb_write(db: &redb::Database, batch: usize, value: &[u8], n: &mut u64) -> f64 {
    let start = Instant::now();
    let tx = db.begin_write().expect("tx");
    {
        let mut t = tx.open_table(SESSIONS).expect("table");
        for _ in 0..batch {
            *n += 1;
            let key = (*n % 1000).to_string();
            t.insert(("pool", key.as_str()), value).expect("insert");
        }
    }
    tx.commit().expect("commit");
    start.elapsed().as_secs_f64() * 1e6 / batch as f64
}

/// Microseconds per record written to SQLite, `batch` records per transaction.
fn sqlite_write(db: &mut rusqlite::Connection, batch: usize, value: &[u8], n: &mut u64) -> f64 {
    let start = Instant::now();
    let tx = db.transaction().expect("tx");
    {
        let mut insert = tx
            .prepare_cached("INSERT OR REPLACE INTO s (pool, id, v) VALUES ('pool', ?1, ?2)")
            .expect("prepare");
        for _ in 0..batch {
            *n += 1;
            insert
                .execute(rusqlite::params![(*n % 1000).to_string(), value])
                .expect("insert");
        }
    }
    tx.commit().expect("commit");
    start.elapsed().as_secs_f64() * 1e6 / batch as f64
}

fn databases() {
    let dir = tempfile::tempdir().expect("tempdir");
    let redb = redb::Database::create(dir.path().join("s.redb")).expect("redb");
    let mut sqlite = rusqlite::Connection::open(dir.path().join("s.sqlite")).expect("sqlite");
    sqlite
        .execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
             CREATE TABLE s (pool TEXT, id TEXT, v BLOB, PRIMARY KEY (pool, id));",
        )
        .expect("schema");
    let value = record();
    let mut n = 0;
    for batch in [1, 1000] {
        let reps = if batch == 1 { 200 } else { 5 };
        let (mut r, mut s) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let one: Vec<f64> = (0..reps)
                .map(|_| redb_write(&redb, batch, &value, &mut n))
                .collect();
            r.push(median_range(one).0);
            let one: Vec<f64> = (0..reps)
                .map(|_| sqlite_write(&mut sqlite, batch, &value, &mut n))
                .collect();
            s.push(median_range(one).0);
        }
        let (r, s) = (median_range(r), median_range(s));
        println!(
            "state: {batch} record(s) of {} bytes per transaction: redb {:.1} µs/record ({:.1}–{:.1}), \
             SQLite {:.1} µs/record ({:.1}–{:.1}); SQLite/redb {:.2}",
            value.len(),
            r.0,
            r.1,
            r.2,
            s.0,
            s.1,
            s.2,
            s.0 / r.0
        );
    }
}

fn bench(c: &mut Criterion) {
    databases();
    let settings = settings();
    let rotation = Rotation::from_settings(&settings);
    let dir = tempfile::tempdir().expect("tempdir");
    let memory = Arc::new(MemoryStore::new(&settings));
    let (durable, _) = DurableStore::open(dir.path(), &settings).expect("state");
    fill(memory.as_ref(), "site.example", &rotation);
    fill(durable.as_ref(), "site.example", &rotation);
    let (mut m, mut d) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        m.push(time_steps(memory.as_ref(), &rotation));
        d.push(time_steps(durable.as_ref(), &rotation));
    }
    let (m, d) = (median_range(m), median_range(d));
    println!(
        "state: one request's store steps: memory {:.0} ns ({:.0}–{:.0}), durable {:.0} ns ({:.0}–{:.0}); \
         added {:.2} µs per request",
        m.0,
        m.1,
        m.2,
        d.0,
        d.1,
        d.2,
        (d.0 - m.0) / 1000.0
    );
    engine_rounds(c, &settings, memory, durable);
}

fn engine_rounds(
    c: &mut Criterion,
    settings: &SessionSettings,
    memory: Arc<MemoryStore>,
    durable: Arc<DurableStore>,
) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let scenario =
        zyte_emulator::Scenario::from_toml_str("[[site]]\ndomain = \"*\"\n").expect("scenario");
    let (_emulator, upstream) = rt.block_on(support::instant_emulator(Some(scenario)));
    let engine = |store: Arc<dyn PoolStore>| {
        let client = Client::new(&upstream, ApiKey::new("bench-key")).expect("client");
        Engine::with_store(settings.clone(), client, store)
    };
    let engines = [("memory", engine(memory)), ("durable", engine(durable))];
    let body = json!({"url": "https://site.example/", "httpResponseBody": true});
    let request = EngineRequest::new(
        body.as_object()
            .cloned()
            .unwrap_or_else(Map::<String, Value>::new),
    );
    const ROUND: u32 = 2_000;
    let mut micros = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        for ((_, engine), out) in engines.iter().zip([&mut micros.0, &mut micros.1]) {
            let start = Instant::now();
            for _ in 0..ROUND {
                rt.block_on(engine.execute(request.clone()))
                    .expect("request");
            }
            out.push(start.elapsed().as_secs_f64() * 1e6 / f64::from(ROUND));
        }
    }
    let (m, d) = (median_range(micros.0), median_range(micros.1));
    println!(
        "state: a request through the engine: memory {:.1} µs ({:.1}–{:.1}), durable {:.1} µs ({:.1}–{:.1}); ratio {:.2}",
        m.0,
        m.1,
        m.2,
        d.0,
        d.1,
        d.2,
        d.0 / m.0
    );
    let mut group = c.benchmark_group("state");
    for (name, engine) in &engines {
        group.bench_function(*name, |bench| {
            bench
                .to_async(&rt)
                .iter(|| async { engine.execute(request.clone()).await.expect("request") })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
