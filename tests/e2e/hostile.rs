//! The hostile-guest corpus (spine issue #2): every misbehaviour is contained, reported with
//! the config, the hook and the cause, and the host keeps serving afterwards.

use session_host::plugin::{CallEnv, GuestConfig, Hook, HookErrorKind, LoadErrorKind};

use crate::guests::{self, body};

mod issue_12;
use crate::support::{load, request, runtime};

/// The host still serves: the good guest answers, and so does the hostile one on a fresh
/// instance.
async fn still_serving(hostile: &GuestConfig) {
    let good = load("good", guests::guest(&[], None))
        .await
        .expect("the good guest loads");
    let req = request("https://example.com/");
    assert!(
        good.enabled(CallEnv::default(), &req)
            .await
            .expect("good guest answers")
    );
    assert!(
        hostile
            .cookie_mode(CallEnv::default(), &req)
            .await
            .expect("hostile guest answers on a fresh instance")
    );
}

async fn failing_enabled(name: &str, enabled_body: &str) -> (GuestConfig, HookErrorKind) {
    let plugin = load(name, guests::guest(&[("enabled", enabled_body)], None))
        .await
        .expect("loads");
    let error = plugin
        .enabled(CallEnv::default(), &request("https://example.com/"))
        .await
        .expect_err("the hook fails");
    assert_eq!((error.config.as_str(), error.hook), (name, Hook::Enabled));
    assert!(
        error
            .to_string()
            .starts_with(&format!("config {name}, hook enabled: ")),
        "{error}"
    );
    (plugin, error.kind)
}

#[tokio::test]
async fn infinite_loop_hits_the_cpu_budget() {
    let (plugin, kind) = failing_enabled("looper", body::LOOP).await;
    assert_eq!(
        kind,
        HookErrorKind::CpuBudget {
            ms: runtime().limits().hook_cpu_ms
        }
    );
    assert_eq!(
        plugin.idle_instances(),
        0,
        "the looping instance is discarded"
    );
    still_serving(&plugin).await;
}

#[tokio::test]
async fn memory_bomb_hits_the_memory_limit() {
    let (plugin, kind) = failing_enabled("bomber", body::MEMORY_BOMB).await;
    assert_eq!(
        kind,
        HookErrorKind::MemoryLimit {
            bytes: runtime().limits().memory_bytes
        }
    );
    still_serving(&plugin).await;
}

#[tokio::test]
async fn panic_message_is_reported() {
    let (plugin, kind) = failing_enabled("panicker", &body::panic()).await;
    match kind {
        HookErrorKind::Trap { panic, .. } => {
            assert_eq!(panic.as_deref(), Some(guests::PANIC_MESSAGE))
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    still_serving(&plugin).await;
}

#[tokio::test]
async fn trap_is_reported() {
    let (plugin, kind) = failing_enabled("trapper", body::TRAP).await;
    match kind {
        HookErrorKind::Trap {
            message,
            panic: None,
        } => assert!(message.contains("divide by zero"), "{message}"),
        other => panic!("expected a trap, got {other:?}"),
    }
    still_serving(&plugin).await;
}

/// Loads a guest whose `params` has `params_body`, calls it, and returns the error.
async fn failing_params(name: &str, params_body: &str) -> (GuestConfig, HookErrorKind) {
    let plugin = load(name, guests::guest(&[("params", params_body)], None))
        .await
        .expect("loads");
    let error = plugin
        .params(CallEnv::default(), &request("https://example.com/"))
        .await
        .expect_err("the hook fails");
    assert_eq!((error.config.as_str(), error.hook), (name, Hook::Params));
    (plugin, error.kind)
}

#[tokio::test]
async fn malformed_json_is_invalid_output() {
    let (plugin, kind) = failing_params("bad-json", &body::bad_json()).await;
    assert!(
        matches!(&kind, HookErrorKind::InvalidOutput(m) if m.starts_with("params is not valid JSON")),
        "{kind}"
    );
    still_serving(&plugin).await;
}

#[tokio::test]
async fn invalid_utf8_is_contained() {
    let (plugin, kind) = failing_params("bad-utf8", &body::bad_utf8()).await;
    assert!(
        matches!(&kind, HookErrorKind::Trap { message, .. } if message.contains("utf-8")),
        "{kind}"
    );
    still_serving(&plugin).await;
}

#[tokio::test]
async fn loop_in_rules_fails_the_load() {
    let error = load("loop-rules", guests::guest(&[], Some(body::LOOP)))
        .await
        .err()
        .expect("load fails");
    match error.kind {
        LoadErrorKind::Rules(hook) => assert!(
            matches!(hook.kind, HookErrorKind::CpuBudget { .. }),
            "{hook}"
        ),
        other => panic!("expected a rules error, got {other}"),
    }
}

#[tokio::test]
async fn wrong_world_is_rejected() {
    let error = load("other-world", guests::wrong_world())
        .await
        .err()
        .expect("load fails");
    assert!(
        matches!(error.kind, LoadErrorKind::WrongWorld(_)),
        "{error}"
    );
    assert!(error.to_string().contains("session-config"), "{error}");
}

#[tokio::test]
async fn module_without_component_type_is_rejected() {
    let error = load("bare", guests::bare_module())
        .await
        .err()
        .expect("load fails");
    assert!(
        matches!(error.kind, LoadErrorKind::Componentize(_)),
        "{error}"
    );
}

#[tokio::test]
async fn random_bytes_are_not_wasm() {
    let bytes: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let error = load("noise", bytes).await.err().expect("load fails");
    assert!(matches!(error.kind, LoadErrorKind::NotWasm), "{error}");
    assert_eq!(error.config, "noise");
}

#[tokio::test]
async fn truncated_file_is_rejected() {
    let whole = guests::guest(&[], None);
    for cut in [4, 8, whole.len() / 2, whole.len() - 1] {
        let error = load("truncated", whole[..cut].to_vec())
            .await
            .err()
            .expect("load fails");
        assert!(
            matches!(
                error.kind,
                LoadErrorKind::Compile(_) | LoadErrorKind::NotWasm | LoadErrorKind::Componentize(_)
            ),
            "cut {cut}: {error}"
        );
    }
    still_serving(&load("whole", whole).await.expect("the whole file loads")).await;
}

#[tokio::test]
async fn healthy_instances_are_reused() {
    let plugin = load("reuse", guests::guest(&[], None))
        .await
        .expect("loads");
    let before = plugin
        .counters()
        .instantiations
        .load(std::sync::atomic::Ordering::Relaxed);
    for _ in 0..50 {
        plugin
            .enabled(CallEnv::default(), &request("https://example.com/"))
            .await
            .expect("answers");
    }
    let after = plugin
        .counters()
        .instantiations
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(after, before, "sequential calls reuse one warm instance");
    assert_eq!(plugin.idle_instances(), 1);
}

#[tokio::test]
async fn runtime_falls_back_when_the_pool_cannot_be_reserved() {
    // Enough slots to ask for more address space than a 64-bit process has.
    let limits = session_host::plugin::Limits {
        pool_slots: 100_000_000,
        ..Default::default()
    };
    let fallback =
        session_host::plugin::Runtime::new(limits).expect("falls back instead of failing");
    assert!(!fallback.is_pooling());
    assert!(
        runtime().is_pooling(),
        "the default pool fits on this machine"
    );
    let plugin = fallback
        .load_bytes("on-demand", guests::guest(&[], None), CallEnv::default())
        .await
        .expect("loads");
    assert!(
        plugin
            .enabled(CallEnv::default(), &request("https://example.com/"))
            .await
            .expect("serves")
    );
}

#[tokio::test]
async fn components_load_like_core_modules() {
    let module = guests::guest(&[], None);
    let component = wit_component::ComponentEncoder::default()
        .module(&module)
        .unwrap()
        .encode()
        .unwrap();
    assert_eq!(
        &component[4..8],
        [0x0d, 0x00, 0x01, 0x00],
        "a component preamble"
    );
    let plugin = load("component", component)
        .await
        .expect("a component loads");
    assert_eq!(plugin.rules().priority, 500);
    assert!(
        plugin
            .enabled(CallEnv::default(), &request("https://example.com/"))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn a_survived_memory_refusal_does_not_taint_later_traps() {
    // `params` grows memory until refused and then returns normally (as an allocator that
    // handles failure would); `location` then traps for an unrelated reason.
    let survive =
        "(loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1)))) (i32.const 96)";
    let plugin = load(
        "survivor",
        guests::guest(&[("params", survive), ("location", body::TRAP)], None),
    )
    .await
    .expect("loads");
    let req = request("https://example.com/");
    let error = plugin
        .params(CallEnv::default(), &req)
        .await
        .expect_err("bad JSON at offset 96");
    assert!(
        matches!(error.kind, HookErrorKind::InvalidOutput(_)),
        "{error}"
    );
    let error = plugin
        .location(CallEnv::default(), &req)
        .await
        .expect_err("traps");
    assert!(
        matches!(&error.kind, HookErrorKind::Trap { message, .. } if message.contains("divide by zero")),
        "{error}"
    );
}
