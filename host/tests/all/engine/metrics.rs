//! Prometheus metrics (issue 6) of real engine requests and of failing hooks: the global
//! recorder renders the session counters, the pool gauges, the upstream and hook histograms
//! and the guest errors by kind.
//!
//! The recorder is global, so other tests of this binary may record into it while this one
//! runs: series of this test's own pools are exact, shared ones (upstream, hooks, retries) are
//! lower bounds.

use std::sync::Arc;

use session_host::plugin::CallEnv;
use session_host::telemetry;

use super::harness::{Harness, get, pool, postal, settings};
use crate::guests::{self, body};
use crate::support;

/// This test's own pool.
const POOL: &str = "metrics-csrf";

/// The value of the series `name` whose labels include `labels`, if rendered.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let series = |line: &&str| {
        line.strip_prefix(name)
            .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
    };
    text.lines()
        .filter(series)
        .find(|line| {
            labels
                .iter()
                .all(|(k, v)| line.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn metrics_show_session_counters_pool_gauges_and_latencies() {
    let handle = telemetry::install().expect("the recorder installs");
    // The reference's pool ids, so that the pool this test names has a label of its own
    // (a `client/` pool shares `other`, issue 13).
    let h = Harness::new(session_host::settings::SessionSettings {
        client_pool_prefix: String::new(),
        ..settings()
    })
    .await;
    h.configs(vec![Arc::new(support::example("csrf-token").await)]);
    for q in 0..5 {
        let mut r = get(&format!("https://csrf.example/search?q={q}"));
        r.controls.pool = Some(pool(POOL, Some(2)));
        h.send(r).await.expect("a response");
    }
    let mut disabled = get("https://example.com/");
    disabled.controls.enabled = Some(false);
    h.send(disabled).await.expect("a response");
    let mut unsupported = get("https://no-location-support.example/");
    unsupported.controls.location = Some(postal("73301"));
    assert!(h.send(unsupported).await.is_err());

    // A shared store's gauges come from a copy fetched in the background: fetched now.
    h.engine.refresh_views().await;
    let text = telemetry::scrape(&h.engine);
    // Other tests of this binary record into the same global recorder at the same time, so
    // the two renders are compared by their families, not byte for byte.
    let families = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| l.starts_with("# TYPE"))
            .map(str::to_owned)
            .collect()
    };
    // The scrape is the recorder's text plus the families not yet recorded (issue 19).
    let rendered = handle.render();
    assert!(
        families(&rendered)
            .iter()
            .all(|f| text.contains(f.as_str())),
        "scrape renders the installed recorder"
    );
    let event = |e| {
        sample(
            &text,
            telemetry::SESSION_EVENTS,
            &[("pool", POOL), ("event", e)],
        )
    };
    assert_eq!(event("init/check-passed"), Some(2.0), "{text}");
    assert_eq!(event("use/check-passed"), Some(5.0));
    let disabled = [("event", "use/disabled")];
    assert!(sample(&text, telemetry::ENGINE_EVENTS, &disabled) >= Some(1.0));

    let state = |s| {
        sample(
            &text,
            telemetry::POOL_SESSIONS,
            &[("pool", POOL), ("state", s)],
        )
    };
    assert_eq!(
        (state("idle"), state("busy"), state("missing")),
        (Some(2.0), Some(0.0), Some(0.0))
    );
    assert_eq!(
        sample(&text, telemetry::POOL_SIZE, &[("pool", POOL)]),
        Some(2.0)
    );
    assert_eq!(
        sample(&text, telemetry::POOL_CLOSED, &[("pool", POOL)]),
        Some(0.0)
    );
    // A location pool has no label of its own: its gauges add up under `other` (issue 13).
    let closed = [("pool", "other")];
    assert!(
        sample(&text, telemetry::POOL_CLOSED, &closed) >= Some(1.0),
        "{text}"
    );
    assert!(
        !text.contains("no-location-support.example@73301"),
        "{text}"
    );

    // At least 2 inits and 5 uses, each an attempt that got a 200.
    let upstream = format!("{}_count", telemetry::UPSTREAM_DURATION);
    assert!(
        sample(&text, &upstream, &[("outcome", "2xx")]) >= Some(7.0),
        "{text}"
    );
    // `check` runs once per use (an init checks inside `init-session`).
    let hooks = format!("{}_count", telemetry::HOOK_DURATION);
    let checks = [("config", "csrf-token"), ("hook", "check")];
    assert!(sample(&text, &hooks, &checks) >= Some(5.0), "{text}");
    let inits = [("config", "csrf-token"), ("hook", "init-session")];
    assert!(sample(&text, &hooks, &inits) >= Some(2.0), "{text}");
    assert!(text.contains(&format!("# HELP {} ", telemetry::SESSION_EVENTS)));
}

#[tokio::test]
async fn guest_errors_are_counted_by_kind() {
    telemetry::install().expect("the recorder installs");
    let request = support::request("https://example.com/");
    let enabled = [
        ("metrics-trap", body::TRAP.to_owned()),
        ("metrics-loop", body::LOOP.to_owned()),
        ("metrics-bomb", body::MEMORY_BOMB.to_owned()),
    ];
    for (name, hook_body) in enabled {
        let guest = guests::guest(&[("enabled", &hook_body)], None);
        let plugin = support::load(name, guest).await.expect("loads");
        assert!(plugin.enabled(CallEnv::default(), &request).await.is_err());
    }
    let guest = guests::guest(&[("params", &body::bad_json())], None);
    let plugin = support::load("metrics-json", guest).await.expect("loads");
    assert!(plugin.params(CallEnv::default(), &request).await.is_err());

    let text = telemetry::render();
    let errors = |config, hook, kind| {
        let labels = [("config", config), ("hook", hook), ("kind", kind)];
        sample(&text, telemetry::HOOK_ERRORS, &labels)
    };
    assert_eq!(
        errors("metrics-trap", "enabled", "trap"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(errors("metrics-loop", "enabled", "cpu_limit"), Some(1.0));
    assert_eq!(errors("metrics-bomb", "enabled", "memory_limit"), Some(1.0));
    assert_eq!(
        errors("metrics-json", "params", "invalid_output"),
        Some(1.0)
    );
    let hooks = format!("{}_count", telemetry::HOOK_DURATION);
    let timed = [("config", "metrics-loop"), ("hook", "enabled")];
    assert_eq!(
        sample(&text, &hooks, &timed),
        Some(1.0),
        "failed calls are timed too"
    );
}
