//! Each test drives real code under its own local recorder (thread-local, so tests do not see
//! each other's metrics) and reads the rendered Prometheus text.

use std::sync::Arc;
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::PrometheusRecorder;
use serde_json::json;

use super::*;
use crate::engine::stats::{SessionStat, Stats};
use crate::engine::{Engine, EngineError, PoolSnapshot, SessionSnapshot};
use crate::plugin::{CallEnv, HookErrorKind, Limits, Runtime};
use crate::settings::{PoolOptions, RetryPolicyName, SessionSettings, UpstreamSettings};
use crate::zyte::{ApiKey, Client};

/// The value of the series `name` whose labels include `labels`, if rendered.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            line.starts_with(&format!("{name}{{")) || line.starts_with(&format!("{name} "))
        })
        .find(|line| {
            labels
                .iter()
                .all(|(k, v)| line.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
}

fn local() -> PrometheusRecorder {
    recorder().expect("the recorder builds")
}

/// A current-thread runtime: everything it runs records into the thread's local recorder.
fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

#[test]
fn every_stat_is_a_counter_with_its_pool() {
    let recorder = local();
    metrics::with_local_recorder(&recorder, || {
        let stats = Stats::default();
        stats.inc("a.com", SessionStat::InitCheckPassed);
        stats.inc("a.com", SessionStat::InitCheckPassed);
        stats.inc("b.com@10001", SessionStat::UseFailed);
        stats.inc_global("scrapy-zyte-api/sessions/use/disabled");
        stats.inc_global("retry/count");
    });
    let text = recorder.handle().render();
    let pool = |pool, event| sample(&text, SESSION_EVENTS, &[("pool", pool), ("event", event)]);
    assert_eq!(pool("a.com", "init/check-passed"), Some(2.0), "{text}");
    // A location pool has no label of its own (issue 13).
    assert_eq!(pool("other", "use/failed"), Some(1.0), "{text}");
    assert_eq!(pool("b.com@10001", "use/failed"), None);
    let global = |event| sample(&text, ENGINE_EVENTS, &[("event", event)]);
    assert_eq!(global("use/disabled"), Some(1.0), "{text}");
    assert_eq!(global("retry/count"), Some(1.0));
}

#[test]
fn hook_calls_are_timed_and_guest_errors_counted() {
    let recorder = local();
    let _guard = metrics::set_default_local_recorder(&recorder);
    rt().block_on(async {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../example-configs/dist/csrf-token.wasm"
        );
        let runtime = Runtime::new(Limits::default()).expect("runtime");
        let plugin = runtime
            .load_file(path.as_ref(), CallEnv::default())
            .await
            .expect("csrf-token loads");
        let request = |url: &str| {
            crate::wire::request_from_body(
                url.into(),
                &Default::default(),
                crate::wire::no_controls(),
            )
        };
        let ok = plugin
            .params(CallEnv::default(), &request("https://csrf.example/a"))
            .await;
        assert!(ok.is_ok(), "{ok:?}");
        // The config cannot find the origin of a URL that does not parse: its own error.
        let err = plugin
            .params(CallEnv::default(), &request("not a url"))
            .await;
        assert!(
            matches!(err, Err(ref e) if matches!(e.kind, HookErrorKind::Guest(_))),
            "{err:?}"
        );
    });
    let text = recorder.handle().render();
    let params = [("config", "csrf-token"), ("hook", "params")];
    let count = format!("{HOOK_DURATION}_count");
    assert_eq!(sample(&text, &count, &params), Some(2.0), "{text}");
    assert_eq!(sample(&text, &count, &[("hook", "rules")]), Some(1.0));
    // Sub-millisecond buckets: the first one is 10 µs.
    let first = [("hook", "params"), ("le", "0.00001")];
    assert!(
        sample(&text, &format!("{HOOK_DURATION}_bucket"), &first).is_some(),
        "{text}"
    );
    let guest = [
        ("config", "csrf-token"),
        ("hook", "params"),
        ("kind", "guest_error"),
    ];
    assert_eq!(sample(&text, HOOK_ERRORS, &guest), Some(1.0), "{text}");
    let fresh = [("config", "csrf-token")];
    assert_eq!(
        sample(&text, HOOK_INSTANTIATIONS, &fresh),
        Some(1.0),
        "{text}"
    );
}

#[test]
fn error_kinds_have_stable_labels() {
    let kinds = [
        (HookErrorKind::Guest("x".into()), "guest_error"),
        (HookErrorKind::CpuBudget { ms: 1 }, "cpu_limit"),
        (HookErrorKind::MemoryLimit { bytes: 1 }, "memory_limit"),
        (HookErrorKind::Timeout { ms: 1 }, "timeout"),
        (
            HookErrorKind::Trap {
                message: "x".into(),
                panic: None,
            },
            "trap",
        ),
    ];
    for (kind, label) in kinds {
        assert_eq!(hook_error_kind(&kind), label);
    }
}

#[test]
fn upstream_attempts_are_timed_by_status_class() {
    let recorder = local();
    let _guard = metrics::set_default_local_recorder(&recorder);
    rt().block_on(async {
        let emulator = zyte_emulator::start(zyte_emulator::EmulatorConfig::default())
            .await
            .expect("emulator");
        let upstream = UpstreamSettings {
            url: emulator.base_url(),
            wait_scale: 0.0,
            ..UpstreamSettings::default()
        };
        let client = Client::new(&upstream, ApiKey::new("test-key")).expect("client");
        let object = |v: serde_json::Value| v.as_object().cloned().unwrap_or_default();
        let home = object(json!({"url": "https://csrf.example/", "httpResponseBody": true}));
        let mut bad = home.clone();
        bad.insert("session".into(), json!({"id": "not-a-uuid"}));
        let policy = RetryPolicyName::SessionDefault;
        assert!(client.extract(&home, policy).await.is_ok());
        // A session id that is not a UUID is a final 400.
        assert_eq!(
            client
                .extract(&bad, policy)
                .await
                .err()
                .and_then(|e| e.status()),
            Some(400)
        );
    });
    let text = recorder.handle().render();
    let count = format!("{UPSTREAM_DURATION}_count");
    assert_eq!(
        sample(&text, &count, &[("outcome", "2xx")]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, &count, &[("outcome", "4xx")]),
        Some(1.0),
        "{text}"
    );
    let top = [("outcome", "2xx"), ("le", "300")];
    assert!(sample(&text, &format!("{UPSTREAM_DURATION}_bucket"), &top).is_some());
}

fn session(in_flight: u32) -> SessionSnapshot {
    SessionSnapshot {
        id: "s".into(),
        age_secs: 0.0,
        uses: 1,
        in_flight,
        check_failures: 0,
        errors: 0,
        retired_because: None,
        history: Vec::new(),
    }
}

#[test]
fn pool_gauges_follow_the_snapshot() {
    let pool = PoolSnapshot {
        id: "p".into(),
        closed: Some("bad_session_inits".into()),
        size: 5,
        delay: 0.0,
        randomize_delay: false,
        bad_inits: 3,
        pending_initial: 0,
        sessions: vec![session(0), session(2), session(1)],
        retired: Vec::new(),
    };
    let recorder = local();
    metrics::with_local_recorder(&recorder, || observe::observe_pool(&pool));
    let text = recorder.handle().render();
    let state = |s| sample(&text, POOL_SESSIONS, &[("pool", "p"), ("state", s)]);
    assert_eq!(
        (state("idle"), state("busy"), state("missing")),
        (Some(1.0), Some(2.0), Some(2.0)),
        "{text}"
    );
    let p = [("pool", "p")];
    assert_eq!(sample(&text, POOL_IN_FLIGHT, &p), Some(3.0));
    assert_eq!(sample(&text, POOL_SIZE, &p), Some(5.0));
    assert_eq!(sample(&text, POOL_BAD_INITS, &p), Some(3.0));
    assert_eq!(sample(&text, POOL_CLOSED, &p), Some(1.0));
}

#[test]
fn observe_engine_reads_every_pool() {
    let mut settings = SessionSettings::default();
    let preset = PoolOptions {
        size: Some(3),
        ..PoolOptions::default()
    };
    settings.pools.insert("preset.example".into(), preset);
    let client = Client::new(&UpstreamSettings::default(), ApiKey::new("k")).expect("client");
    let engine = Engine::new(settings, client);
    let recorder = local();
    metrics::with_local_recorder(&recorder, || observe_engine(&engine));
    let text = recorder.handle().render();
    let missing = [("pool", "preset.example"), ("state", "missing")];
    assert_eq!(sample(&text, POOL_SESSIONS, &missing), Some(3.0), "{text}");
    assert_eq!(
        sample(&text, POOL_CLOSED, &[("pool", "preset.example")]),
        Some(0.0)
    );
}

#[test]
fn reloads_config_errors_and_requests_are_recorded() {
    let recorder = local();
    metrics::with_local_recorder(&recorder, || {
        describe();
        record_reload(ReloadOutcome::Applied);
        record_reload(ReloadOutcome::Partial);
        record_reload(ReloadOutcome::Failed);
        record_config_error("broken");
        set_config_load_errors(1);
        set_configs_loaded(4);
        let closed: Result<(), _> = Err(EngineError::PoolClosed {
            pool: "p".into(),
            reason: "r".into(),
        });
        let elapsed = Duration::from_millis(3);
        record_request(Front::Gateway, RequestOutcome::of(&closed), elapsed);
        record_request(
            Front::Run,
            RequestOutcome::of(&Ok::<_, EngineError>(())),
            elapsed,
        );
    });
    let text = recorder.handle().render();
    for outcome in ["applied", "partial", "failed"] {
        assert_eq!(
            sample(&text, CONFIG_RELOADS, &[("outcome", outcome)]),
            Some(1.0)
        );
    }
    assert!(
        sample(&text, CONFIG_LAST_RELOAD, &[]).is_some_and(|t| t > 1.7e9),
        "{text}"
    );
    assert_eq!(
        sample(&text, CONFIG_ERRORS, &[("config", "broken")]),
        Some(1.0)
    );
    assert_eq!(sample(&text, CONFIG_LOAD_ERRORS, &[]), Some(1.0));
    assert_eq!(sample(&text, CONFIGS_LOADED, &[]), Some(4.0));
    let gateway = [("front", "gateway"), ("outcome", "pool_closed")];
    assert_eq!(sample(&text, REQUESTS, &gateway), Some(1.0), "{text}");
    let run = [("front", "run"), ("outcome", "ok")];
    assert_eq!(sample(&text, REQUESTS, &run), Some(1.0));
    let count = format!("{REQUEST_DURATION}_count");
    assert_eq!(sample(&text, &count, &[("front", "run")]), Some(1.0));
    assert!(text.contains(&format!("# HELP {REQUESTS} ")), "{text}");
}

#[test]
fn install_is_idempotent() {
    let first = install().expect("installs");
    let second = install().expect("installs again");
    metrics::counter!(CONFIG_ERRORS, "config" => "install-test").increment(1);
    let line = |text: &str| sample(text, CONFIG_ERRORS, &[("config", "install-test")]);
    assert_eq!(line(&first.render()), Some(1.0));
    assert_eq!(line(&second.render()), Some(1.0));
    assert_eq!(line(&render()), Some(1.0));
    assert!(handle().is_some());
    assert!(render().contains(&format!("# HELP {CONFIG_ERRORS} ")));
    // The same recorder serves every call; a second one cannot be installed behind its back.
    let other = recorder().expect("builds");
    assert!(metrics::set_global_recorder(other).is_err());
}

/// Issue 17: under the global recorder each thread keeps its handles, and every call still
/// counts; a local recorder set later on the same thread sees its own calls, not the cache's.
#[test]
fn issue_17_cached_handles_count_every_call_and_respect_local_recorders() {
    let global = install().expect("installs");
    let outcome = RequestOutcome::TooManyPools;
    let requests = [("front", "demo"), ("outcome", "too_many_pools")];
    let pool = [("pool", "issue-17.example"), ("event", "use/check-passed")];
    let hook = [("config", "issue-17-config"), ("hook", "check")];
    let config: Arc<str> = "issue-17-config".into();
    let before = sample(&global.render(), REQUESTS, &requests).unwrap_or(0.0);
    std::thread::spawn(move || {
        for _ in 0..3 {
            record_request(Front::Demo, outcome, Duration::from_millis(1));
            record::session_event("issue-17.example", "use/check-passed");
            record::hook_call(&config, crate::plugin::Hook::Check, Some(Instant::now()));
        }
        // The same thread, the cache filled: a local recorder still gets the next calls.
        let local = local();
        metrics::with_local_recorder(&local, || {
            record_request(Front::Demo, outcome, Duration::from_millis(1));
            record::session_event("issue-17.example", "use/check-passed");
        });
        let text = local.handle().render();
        assert_eq!(sample(&text, REQUESTS, &requests), Some(1.0), "{text}");
        assert_eq!(sample(&text, SESSION_EVENTS, &pool), Some(1.0), "{text}");
    })
    .join()
    .expect("the recording thread");
    let text = global.render();
    assert_eq!(
        sample(&text, REQUESTS, &requests),
        Some(before + 3.0),
        "{text}"
    );
    assert_eq!(sample(&text, SESSION_EVENTS, &pool), Some(3.0), "{text}");
    let count = format!("{HOOK_DURATION}_count");
    assert_eq!(sample(&text, &count, &hook), Some(3.0), "{text}");
}
