//! The host cost of one request with the `csrf-token` config (spine issue #2 target: ≤ 20 µs
//! on a 2-core machine), against the bare cost of one hook call.
//!
//! - `bare_call/wat`: `enabled` on a hand-written guest that returns a constant: the floor of a
//!   call (checking out a warm instance, lowering the request, lifting a bool).
//! - `bare_call/sdk`: `enabled` on the Rust example, which delegates to the host's `defaults`.
//! - `hook/*`: each of the four hooks of `request/warm` alone.
//! - `request/warm`: what a use request costs the host: `params`, `pool`, `check` of a ~2 KB
//!   Zyte API response, and `process-request`, on warm instances (the runtime's policy).
//! - `request/fresh_instances`: the same with a fresh instance per call (what the policy avoids).
//!
//! Run: `cargo bench -p session-host --bench request`.
#![expect(
    missing_docs,
    reason = "criterion_group! and criterion_main! generate undocumented items"
)]

use criterion::{Criterion, criterion_group, criterion_main};
use session_host::plugin::{CallEnv, GuestConfig, Limits, Runtime};
use session_host::session_data::SessionData;

mod fixtures;
use fixtures::{one_request, request, response};

use session_host_testkit::guests;

fn load(
    rt: &tokio::runtime::Runtime,
    runtime: &Runtime,
    name: &str,
    bytes: Vec<u8>,
) -> GuestConfig {
    rt.block_on(runtime.load_bytes(name, bytes, CallEnv::default()))
        .expect("loads")
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let csrf = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../example-configs/dist/csrf-token.wasm"
    ))
    .expect("prebuilt example");
    let warm = Runtime::new(Limits::default()).expect("runtime");
    let cold = Runtime::new(Limits {
        max_idle_instances: 0,
        ..Limits::default()
    })
    .expect("runtime");
    let wat = load(&rt, &warm, "wat", guests::guest(&[], None));
    let sdk = load(&rt, &warm, "csrf-token", csrf.clone());
    let sdk_cold = load(&rt, &cold, "csrf-token", csrf);

    let data = SessionData::new();
    data.set("csrf_token", "0123456789abcdef").expect("set");
    let env = CallEnv {
        session: Some(data),
        ..CallEnv::default()
    };
    let (request, response) = (request(), response());
    println!("response JSON: {} bytes", response.body.len());

    let mut group = c.benchmark_group("bare_call");
    group.bench_function("wat", |b| {
        b.to_async(&rt)
            .iter(|| async { wat.enabled(env.clone(), &request).await.expect("ok") })
    });
    group.bench_function("sdk", |b| {
        b.to_async(&rt)
            .iter(|| async { sdk.enabled(env.clone(), &request).await.expect("ok") })
    });
    group.finish();

    let mut group = c.benchmark_group("hook");
    group.bench_function("params", |b| {
        b.to_async(&rt)
            .iter(|| async { sdk.params(env.clone(), &request).await.expect("ok") })
    });
    group.bench_function("pool", |b| {
        b.to_async(&rt)
            .iter(|| async { sdk.pool(env.clone(), &request).await.expect("ok") })
    });
    group.bench_function("check", |b| {
        b.to_async(&rt).iter(|| async {
            sdk.check(env.clone(), &response, &request)
                .await
                .expect("ok")
        })
    });
    group.bench_function("process_request", |b| {
        b.to_async(&rt).iter(|| async {
            sdk.process_request(env.clone(), &request)
                .await
                .expect("ok")
        })
    });
    group.finish();

    let mut group = c.benchmark_group("request");
    group.bench_function("warm", |b| {
        b.to_async(&rt)
            .iter(|| one_request(&sdk, &env, &request, &response))
    });
    group.bench_function("fresh_instances", |b| {
        b.to_async(&rt)
            .iter(|| one_request(&sdk_cold, &env, &request, &response))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
