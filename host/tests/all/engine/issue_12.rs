//! Regression tests of issue 12 at the engine level: a guest hook that times out releases the
//! session lease it was called under, and the pool serves the next request with the same
//! session.

use std::sync::Arc;
use std::time::{Duration, Instant};

use session_host::engine::EngineError;
use session_host::plugin::{CallEnv, HookErrorKind, Limits};
use session_host::settings::SessionSettings;

use super::harness::{Harness, get, s, session_of, settings};
use crate::{guests, support};

/// The URL whose `process-request` never returns: compared by length in the guest.
const STUCK: &str = "https://example.com/stuck";

/// The wall-clock bound of the guest's hooks: short, and below its CPU budget, so that the
/// wall clock is what stops the loop.
const BOUND_MS: u64 = 300;

/// `process-request`: loops forever when the request's URL is as long as [`STUCK`] (the
/// request record is the argument area, its `url` length at offset 4), else `ok(none)`.
fn process_stuck_on_long_url() -> String {
    format!(
        "(if (i32.eq (i32.load (i32.add (local.get 0) (i32.const 4))) (i32.const {len}))
           (then (loop $l (br $l))))
         {zeros}",
        len = STUCK.len(),
        zeros = guests::body::zeros(),
    )
}

async fn in_flight(h: &Harness) -> u32 {
    h.pools()
        .await
        .iter()
        .flat_map(|p| &p.sessions)
        .map(|s| s.in_flight)
        .sum()
}

#[tokio::test]
async fn issue_12_a_hook_timeout_releases_the_lease_and_the_pool_reuses_the_session() {
    use guests::body;
    let (zeros, pool, init, process) = (
        body::zeros(),
        body::pool_ok(),
        body::init_ok(),
        process_stuck_on_long_url(),
    );
    let check = body::zeros(); // ok(keep)
    let hooks = [
        ("cookie-mode", zeros.as_str()),
        ("pool", pool.as_str()),
        ("init-session", init.as_str()),
        ("process-request", process.as_str()),
        ("check", check.as_str()),
    ];
    let limits = Limits {
        hook_timeout_ms: BOUND_MS,
        hook_cpu_ms: 60_000,
        ..support::runtime().limits().clone()
    };
    let runtime = support::runtime().with_limits(limits).expect("limits");
    let guest = runtime
        .load_bytes("stuck", guests::guest(&hooks, None), CallEnv::default())
        .await
        .expect("the guest loads");
    let h = Harness::new(SessionSettings {
        pool_size: 1,
        ..settings()
    })
    .await;
    h.configs(vec![Arc::new(guest)]);
    let first = h.get("https://example.com/a").await;
    let session = session_of(&first);
    assert!(!session.is_empty(), "served by a session");

    let started = Instant::now();
    let error = h.send(get(STUCK)).await.expect_err("the hook times out");
    let took = started.elapsed();
    let EngineError::Config(hook_error) = &error else {
        panic!("not a hook error: {error:?}");
    };
    assert_eq!(hook_error.kind, HookErrorKind::Timeout { ms: BOUND_MS });
    assert!(
        took < Duration::from_millis(BOUND_MS + 700),
        "answered after {took:?}"
    );
    assert_eq!(in_flight(&h).await, 0, "the lease is released");

    let next = h.get("https://example.com/b").await;
    assert_eq!(session_of(&next), session, "the pool reuses its session");
    assert_eq!(h.created("example.com"), 1, "no session was created for it");
    assert_eq!(h.stat(&s("use/check-passed")), 2);
    assert_eq!(in_flight(&h).await, 0);
}
