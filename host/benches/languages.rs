//! What each guest language costs the host (issue #7), with the `csrf-token` example built in
//! every language (`example-configs/build`): the same config, the same request.
//!
//! Printed once per language before the timed groups (wall-clock, one run each):
//! - `size`: the file in `example-configs/dist/` (the Rust one is a core module, componentized
//!   on load);
//! - `compile`: [`Runtime::precompile`], i.e. Cranelift on the whole component;
//! - `cold load`: [`Runtime::load_precompiled`] from the `.cwasm` bytes in memory: deserialize,
//!   type-check the world, instantiate, call `rules` (what a restart costs with a cache);
//! - `memory floor`: the smallest [`Limits::memory_bytes`] (in MiB steps) with which the config
//!   loads and serves the request below, found by bisection.
//!
//! Timed with criterion, per language, on warm instances (the runtime's instance policy):
//! - `enabled/LANG`: one bare hook call that delegates to the host's `defaults`;
//! - `request/LANG`: what a use request costs the host: the hooks the engine calls for it
//!   (`enabled`, `cookie-mode`, `pool`, `process-request`, `check` of a ~2 KB Zyte API
//!   response; the same sequence as `request.rs`), of which the host answers those the config
//!   does not override (WIT 0.1.1);
//! - `fresh/LANG`: `enabled` on a fresh instance each time (`max_idle_instances = 0`):
//!   instantiation plus a first call, what the warm-instance policy avoids.
//!
//! Run: `cargo bench -p session-host --bench languages` (after `example-configs/build`;
//! languages whose build is missing are skipped with a note).
#![expect(
    missing_docs,
    reason = "criterion_group! and criterion_main! generate undocumented items"
)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use session_host::plugin::{CallEnv, Limits, Runtime};
use session_host::session_data::SessionData;

/// The builds of every language (the table of `tests/all/conformance.rs`).
const LANGUAGES: &[(&str, &str)] = &[
    ("rust", "example-configs/dist"),
    ("python", "example-configs/dist/python"),
    ("js", "example-configs/dist/js"),
    ("c", "example-configs/dist/c"),
    // The Rust build of WIT 0.1.0 (every hook called): the baseline of issue 17's host cost.
    ("rust-wit-0.1.0", "tests/guests/wit-0.1.0"),
];

const CONFIG: &str = "csrf-token";

mod fixtures;
use fixtures::{one_request, request, response};

fn env() -> CallEnv {
    let data = SessionData::new();
    data.set("csrf_token", "0123456789abcdef").expect("set");
    CallEnv {
        session: Some(data),
        ..CallEnv::default()
    }
}

/// The languages whose build exists, with the file's path.
fn built() -> Vec<(&'static str, PathBuf)> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut found = Vec::new();
    for (language, dir) in LANGUAGES {
        let path = repo.join(dir).join(format!("{CONFIG}.wasm"));
        if path.exists() {
            found.push((*language, path));
        } else {
            println!(
                "{language}: skipped, {} is not built (run example-configs/build)",
                path.display()
            );
        }
    }
    found
}

/// Whether a runtime with `memory_bytes` loads `artifact` and serves the request.
fn serves_within(rt: &tokio::runtime::Runtime, artifact: &[u8], memory_bytes: usize) -> bool {
    let limits = Limits {
        memory_bytes,
        pool_slots: 8,
        hook_cpu_ms: 10_000,
        ..Limits::default()
    };
    let Ok(runtime) = Runtime::new(limits) else {
        return false;
    };
    rt.block_on(async {
        let Ok(plugin) = runtime
            .load_precompiled(CONFIG, artifact, CallEnv::default())
            .await
        else {
            return false;
        };
        let (env, request, response) = (env(), request(), response());
        plugin.params(env.clone(), &request).await.is_ok()
            && plugin.check(env.clone(), &response, &request).await.is_ok()
            && plugin.process_request(env, &request).await.is_ok()
    })
}

/// The smallest memory limit, in MiB, that serves (bisection between 1 and 1024 MiB).
fn memory_floor_mib(rt: &tokio::runtime::Runtime, artifact: &[u8]) -> Option<usize> {
    let (mut low, mut high) = (0, 1024);
    if !serves_within(rt, artifact, high << 20) {
        return None;
    }
    while high - low > 1 {
        let middle = (low + high) / 2;
        if serves_within(rt, artifact, middle << 20) {
            high = middle;
        } else {
            low = middle;
        }
    }
    Some(high)
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1e3)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    // The CPU budget is measured in wall-clock time minus host waits, so on a loaded machine a
    // descheduled microsecond call can overrun 50 ms: time the calls with a generous budget.
    let limits = Limits {
        hook_cpu_ms: 10_000,
        ..Limits::default()
    };
    let runtime = Runtime::new(limits.clone()).expect("runtime");
    let (env, request, response) = (env(), request(), response());
    let fresh_runtime = Runtime::new(Limits {
        max_idle_instances: 0,
        ..limits.clone()
    })
    .expect("runtime");
    let mut plugins = Vec::new();
    let mut fresh = Vec::new();
    for (language, path) in built() {
        let bytes = std::fs::read(&path).expect("readable build");
        let size = bytes.len();
        let started = Instant::now();
        let artifact = runtime.precompile(CONFIG, bytes).expect("compiles");
        let compile = started.elapsed();
        let started = Instant::now();
        let plugin = rt
            .block_on(runtime.load_precompiled(CONFIG, &artifact, CallEnv::default()))
            .expect("loads");
        let cold = started.elapsed();
        let floor = memory_floor_mib(&rt, &artifact);
        println!(
            "{language}: size {size} bytes, compile {}, .cwasm {} bytes, cold load {}, memory floor {} MiB",
            ms(compile),
            artifact.len(),
            ms(cold),
            floor.map_or_else(|| "> 1024".into(), |mib| mib.to_string()),
        );
        plugins.push((language, plugin));
        let load = fresh_runtime.load_precompiled(CONFIG, &artifact, CallEnv::default());
        fresh.push((language, rt.block_on(load).expect("loads")));
    }

    let mut group = c.benchmark_group("enabled");
    for (language, plugin) in &plugins {
        group.bench_function(*language, |b| {
            b.to_async(&rt)
                .iter(|| async { plugin.enabled(env.clone(), &request).await.expect("ok") })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("fresh");
    for (language, plugin) in &fresh {
        group.bench_function(*language, |b| {
            b.to_async(&rt)
                .iter(|| async { plugin.enabled(env.clone(), &request).await.expect("ok") })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("request");
    for (language, plugin) in &plugins {
        group.bench_function(*language, |b| {
            b.to_async(&rt)
                .iter(|| one_request(plugin, &env, &request, &response))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
