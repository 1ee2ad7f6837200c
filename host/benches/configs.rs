//! The configs folder and URL rules (issue #5), each figure with a baseline from the same run:
//!
//! 1. `rules/*` (criterion): choosing the config for a URL with 1 000 rules loaded, against the
//!    same lookup with one rule. Target ≤ 2 µs.
//! 2. reload latency: from a new version's `rename` into a watched folder to that version
//!    serving (a Rust config, `csrf-token`, compiled because its hash is new), against
//!    loading the same bytes directly with `Runtime::load_bytes`. Target ≤ 300 ms.
//! 3. replacements under load: the csrf-token config replaced 100 times while 8 tasks send
//!    requests through the engine to the in-process emulator; failed requests (target 0), and
//!    throughput against the same load without replacements.
//! 4. start with 50 configs: a new runtime and a first load of a folder of 50 configs from a
//!    warm compile cache, against the same start with an empty cache. Target ≤ 1 s.
//!
//! Run: `cargo bench -p session-host --bench configs` (parts 2-4 run only under `cargo bench`;
//! `-- rules/` runs part 1 alone, `-- folder` parts 2-4 alone).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::Criterion;
use serde_json::json;
use session_host::configs::{CompileCache, Loader, WatchOptions, Watcher};
use session_host::engine::{Engine, EngineRequest};
use session_host::plugin::{CallEnv, Limits, Runtime};
use session_host::rules::{Rule, RuleSet};
use session_host::settings::{SessionSettings, UpstreamSettings};
use session_host::zyte::{ApiKey, Client};

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    rules(&mut criterion);
    criterion.final_summary();
    // Parts 2-4 run under `cargo bench`, unless a filter other than `folder` is given
    // (`cargo bench --bench configs -- rules/` runs only part 1).
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    if !args.iter().any(|a| a == "--bench") || filters.iter().any(|f| *f != "folder") {
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .try_init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio");
    runtime.block_on(async {
        reload_latency().await;
        replacements_under_load().await;
        start_with_50_configs().await;
    });
}

/// 1 000 rules: 900 configs for their own domains, 99 path rules sharing one domain, and a
/// universal rule with an exclude. The domains are under `.com`: under an unknown suffix such
/// as `.example`, url-matcher (tldextract) buckets every host by its last label, so 900 rules
/// would share one bucket (that case is `1000-rules-one-bucket`).
fn thousand_rules() -> Vec<Rule> {
    let mut rules: Vec<Rule> = (0..900)
        .map(|i| Rule::new(i + 1, format!("site{i}"), [format!("site{i}.com")]))
        .collect();
    rules.extend((0..99).map(|i| {
        Rule::new(
            901 + i,
            format!("shop{i}"),
            [
                format!("shop.com/cat{i}/*|"),
                format!("shop.com/cat{i}?page=*"),
            ],
        )
        .priority(500 + i as i64 % 3)
    }));
    rules.push(Rule::new(1000, "generic", [""]).exclude(["/*.jpg|"]));
    rules
}

fn rules(c: &mut Criterion) {
    let one = RuleSet::compile([Rule::new(1, "site0", ["site0.com"])]).expect("rules");
    let thousand = RuleSet::compile(thousand_rules()).expect("rules");
    let one_bucket = thousand_rules().into_iter().map(|mut rule| {
        rule.include = (rule.include.iter())
            .map(|p| p.replace(".com", ".example"))
            .collect();
        rule
    });
    let one_bucket = RuleSet::compile(one_bucket).expect("rules");
    let cases = [
        (
            "1-rule/domain-hit",
            &one,
            "https://www.site0.com/products/1?x=2",
        ),
        (
            "1000-rules/domain-hit",
            &thousand,
            "https://www.site512.com/products/1?x=2",
        ),
        (
            "1000-rules/path-hit",
            &thousand,
            "https://shop.com/cat77/item-9",
        ),
        (
            "1000-rules/universal",
            &thousand,
            "https://unknown.org/a/b.html",
        ),
        (
            "1000-rules-one-bucket/domain-hit",
            &one_bucket,
            "https://www.site512.example/products/1?x=2",
        ),
    ];
    let mut group = c.benchmark_group("rules");
    for (name, rules, url) in cases {
        let expected = if name.ends_with("universal") {
            Some("generic")
        } else {
            None
        };
        let got = rules.resolve(url);
        assert!(
            got.is_some() && (expected.is_none() || got == expected),
            "{name}: {got:?}"
        );
        group.bench_function(name, |b| {
            b.iter(|| rules.resolve(std::hint::black_box(url)))
        });
    }
    group.finish();
}

/// The csrf-token example's bytes.
fn csrf_token() -> Vec<u8> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../example-configs/dist/csrf-token.wasm");
    std::fs::read(path).expect("example-configs/dist/csrf-token.wasm")
}

/// `bytes` with a custom section appended: a new version (new hash) of the same config.
fn variant(bytes: &[u8], n: u32) -> Vec<u8> {
    let name = b"bench-variant";
    let mut out = bytes.to_vec();
    out.extend([0, (1 + name.len() + 4) as u8, name.len() as u8]);
    out.extend_from_slice(name);
    out.extend(n.to_le_bytes());
    out
}

fn engine(upstream: &str) -> Engine {
    let settings = SessionSettings {
        enabled: true,
        pool_size: 4,
        ..SessionSettings::default()
    };
    let upstream = UpstreamSettings {
        url: upstream.to_owned(),
        wait_scale: 0.0,
        ..UpstreamSettings::default()
    };
    Engine::new(
        settings,
        Client::new(&upstream, ApiKey::new("bench")).expect("client"),
    )
}

fn median(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    (samples[samples.len() / 2], samples[samples.len() - 1])
}

/// Renames `bytes` into `dir` as `name`, from a staging file in `stage` (same filesystem).
fn rename_in(stage: &Path, dir: &Path, name: &str, bytes: &[u8]) {
    let staged = stage.join(name);
    std::fs::write(&staged, bytes).expect("stage");
    std::fs::rename(&staged, dir.join(name)).expect("rename");
}

async fn watched(engine: &Engine, dir: &Path, cache: &Path, debounce_ms: u64) -> Watcher {
    let runtime = Runtime::new(Limits::default()).expect("runtime");
    let loader = Loader::new(dir, runtime, Some(CompileCache::new(cache)));
    let options = WatchOptions {
        debounce: Duration::from_millis(debounce_ms),
        ..WatchOptions::default()
    };
    Watcher::start(loader, engine.clone(), options)
        .await
        .expect("watch")
        .0
}

/// Waits until config `name`'s version differs from `old`.
async fn served_new_version(engine: &Engine, name: &str, old: &str) -> String {
    loop {
        let set = engine.configs();
        if let Some(entry) = set.get(name).filter(|e| e.version != old) {
            return entry.version.clone();
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn reload_latency() {
    let (dir, stage, cache) = (tmp(), tmp(), tmp());
    let engine = engine("http://127.0.0.1:9/");
    let _watcher = watched(&engine, dir.path(), cache.path(), 100).await;
    let base = csrf_token();
    let runtime = Runtime::new(Limits::default()).expect("runtime");
    let (mut reloads, mut direct) = (Vec::new(), Vec::new());
    let mut version = String::new();
    for n in 0..20 {
        let bytes = variant(&base, n);
        let started = Instant::now();
        runtime
            .load_bytes("csrf-token", bytes.clone(), CallEnv::default())
            .await
            .expect("load");
        direct.push(started.elapsed());
        let started = Instant::now();
        rename_in(stage.path(), dir.path(), "csrf-token.wasm", &bytes);
        version = served_new_version(&engine, "csrf-token", &version).await;
        reloads.push(started.elapsed());
    }
    let ((r50, rmax), (d50, _)) = (median(reloads), median(direct));
    println!(
        "reload latency (rename → serving, 20 new versions, debounce 100 ms): median {r50:.1?}, \
         max {rmax:.1?}; direct load of the same bytes: median {d50:.1?}; ratio {:.2}",
        r50.as_secs_f64() / d50.as_secs_f64()
    );
}

async fn replacements_under_load() {
    let emulator = zyte_emulator::start(zyte_emulator::EmulatorConfig {
        time_scale: 0.0,
        ..Default::default()
    })
    .await
    .expect("emulator");
    let (dir, stage, cache) = (tmp(), tmp(), tmp());
    let engine = engine(&emulator.base_url());
    let base = csrf_token();
    rename_in(stage.path(), dir.path(), "csrf-token.wasm", &base);
    let _watcher = watched(&engine, dir.path(), cache.path(), 20).await;
    let load = Load::start(&engine, 8);
    tokio::time::sleep(Duration::from_millis(500)).await; // warm up: sessions created
    let window = Duration::from_secs(5);
    let baseline = load.rate_over(window).await;
    let before = load.counts();
    let started = Instant::now();
    let mut version = engine
        .configs()
        .get("csrf-token")
        .expect("loaded")
        .version
        .clone();
    for n in 1..=100 {
        rename_in(
            stage.path(),
            dir.path(),
            "csrf-token.wasm",
            &variant(&base, n),
        );
        version = served_new_version(&engine, "csrf-token", &version).await;
    }
    let elapsed = started.elapsed();
    let after = load.counts();
    load.stop().await;
    let during = (after.0 - before.0) as f64 / elapsed.as_secs_f64();
    println!(
        "100 replacements under load (8 tasks, {elapsed:.1?}): {} failed of {} requests; \
         {during:.0} req/s during replacements vs {baseline:.0} req/s without; ratio {:.2}",
        after.1 - before.1,
        (after.0 - before.0) + (after.1 - before.1),
        during / baseline
    );
    emulator.shutdown().await;
}

/// Tasks sending requests through the engine until stopped, counting successes and failures.
struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(engine: &Engine, tasks: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let tasks = (0..tasks)
            .map(|_| {
                let (engine, stop, ok, failed) =
                    (engine.clone(), stop.clone(), ok.clone(), failed.clone());
                tokio::spawn(async move {
                    let body = json!({"url": "https://csrf.example/search?q=shoes", "httpResponseBody": true});
                    let body = body.as_object().cloned().unwrap_or_default();
                    while !stop.load(Ordering::Relaxed) {
                        match engine.execute(EngineRequest::new(body.clone())).await {
                            Ok(r) if r.status == 200 => ok.fetch_add(1, Ordering::Relaxed),
                            Ok(_) | Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                        };
                        // A request that fails fast never yields: let the watcher run.
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        Self {
            stop,
            ok,
            failed,
            tasks,
        }
    }

    fn counts(&self) -> (u64, u64) {
        (
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }

    async fn rate_over(&self, window: Duration) -> f64 {
        let before = self.counts().0;
        tokio::time::sleep(window).await;
        (self.counts().0 - before) as f64 / window.as_secs_f64()
    }

    async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

async fn start_with_50_configs() {
    let (dir, cache, empty) = (tmp(), tmp(), tmp());
    let base = csrf_token();
    for i in 0..50 {
        let name = format!("site{i}");
        std::fs::write(dir.path().join(format!("{name}.wasm")), variant(&base, i)).expect("write");
        let sidecar = format!("[rules]\ninclude = [\"site{i}.example\"]\n");
        std::fs::write(dir.path().join(format!("{name}.toml")), sidecar).expect("write");
    }
    let cold = start(dir.path(), empty.path()).await; // the baseline: every config compiled
    start(dir.path(), cache.path()).await; // fills the cache
    let mut warm = Vec::new();
    for _ in 0..5 {
        warm.push(start(dir.path(), cache.path()).await);
    }
    let (w50, wmax) = median(warm);
    println!(
        "start with 50 configs: warm cache median {w50:.1?} (max {wmax:.1?}); cold (compiling) \
         {cold:.1?}; ratio {:.3}",
        w50.as_secs_f64() / cold.as_secs_f64()
    );
}

/// A host start: a new runtime and the first load of `dir`, through the cache in `cache`.
async fn start(dir: &Path, cache: &Path) -> Duration {
    let started = Instant::now();
    let runtime = Runtime::new(Limits::default()).expect("runtime");
    let mut loader = Loader::new(dir, runtime, Some(CompileCache::new(cache)));
    let (set, report) = loader.reload().await.expect("folder").expect("a set");
    assert_eq!(set.entries().len(), 50, "{:?}", report.problems);
    started.elapsed()
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}
