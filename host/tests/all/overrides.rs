//! Issue 17 item 3 and issue 18 item 6: a config built for WIT 0.1.1 declares the hooks it
//! overrides (`overrides`), and the host answers the others from its defaults without calling
//! the guest; a config built for 0.1.0 has every hook called, as before.
//!
//! The WAT guests' hooks that are not overridden trap (`pool`, `location`, `params`, `check`,
//! `process-request`), so a hook the host calls shows as an error and a skipped one as the
//! default's answer.

use std::sync::atomic::Ordering::Relaxed;

use session_host::plugin::{CallEnv, Hooks, Response, Verdict};

use crate::{guests, support};

/// The bit of `hook` in the WIT's `hooks` flags.
fn bit(hook: Hooks) -> u8 {
    let all = [
        Hooks::ENABLED,
        Hooks::COOKIE_MODE,
        Hooks::POOL,
        Hooks::LOCATION,
        Hooks::PARAMS,
        Hooks::INIT_SESSION,
        Hooks::CHECK,
        Hooks::PROCESS_REQUEST,
    ];
    let index = all.iter().position(|h| *h == hook).expect("a hook");
    1 << index
}

fn response() -> Response {
    Response {
        status: 200,
        body: r#"{"url":"https://example.com/","statusCode":200}"#.into(),
    }
}

#[tokio::test]
async fn issue_17_hooks_a_config_does_not_override_are_answered_by_the_host() {
    let bytes = guests::guest_declaring(0, &[], None);
    let guest = support::load("declares-none", bytes).await.expect("loads");
    assert_eq!(guest.overrides(), Hooks::empty());
    let calls_at_load = guest.counters().calls.load(Relaxed);
    let (env, r) = (
        CallEnv::default(),
        support::request("https://Example.com/a"),
    );
    let enabled = guest.enabled(env.clone(), &r).await.expect("default");
    assert_eq!(enabled, env.defaults.enabled(&r));
    let cookie_mode = guest.cookie_mode(env.clone(), &r).await.expect("default");
    assert_eq!(cookie_mode, env.defaults.cookie_mode(&r));
    assert_eq!(
        guest.pool(env.clone(), &r).await.expect("default").id,
        "example.com"
    );
    let params = guest.params(env.clone(), &r).await.expect("default");
    assert_eq!(params.get("browserHtml"), Some(&serde_json::json!(true)));
    let verdict = guest.check(env.clone(), &response(), &r).await;
    assert_eq!(verdict.expect("default"), Verdict::Keep);
    assert!(
        guest
            .process_request(env, &r)
            .await
            .expect("default")
            .is_none()
    );
    assert_eq!(
        guest.counters().calls.load(Relaxed),
        calls_at_load,
        "no guest call"
    );
}

#[tokio::test]
async fn issue_17_a_default_that_depends_on_an_overridden_hook_is_still_called() {
    // `location` overridden: the default `check` and `params` read it, so both go to the guest
    // (whose `check` and `params` trap here); `pool` does not, so the host answers it.
    let bytes = guests::guest_declaring(bit(Hooks::LOCATION), &[], None);
    let guest = support::load("declares-location", bytes)
        .await
        .expect("loads");
    let (env, r) = (
        CallEnv::default(),
        support::request("https://example.com/a"),
    );
    assert_eq!(
        guest.pool(env.clone(), &r).await.expect("default").id,
        "example.com"
    );
    let check = guest.check(env.clone(), &response(), &r).await.unwrap_err();
    assert!(check.to_string().contains("hook check"), "{check}");
    let params = guest.params(env, &r).await.unwrap_err();
    assert!(params.to_string().contains("hook params"), "{params}");
}

#[tokio::test]
async fn issue_18_a_config_built_for_wit_0_1_0_has_every_hook_called() {
    let guest = support::load("old", guests::guest(&[], None))
        .await
        .expect("loads");
    assert_eq!(guest.overrides(), Hooks::all());
    let (env, r) = (
        CallEnv::default(),
        support::request("https://example.com/a"),
    );
    let pool = guest.pool(env.clone(), &r).await.unwrap_err();
    assert!(pool.to_string().contains("hook pool"), "{pool}");
    // The WAT guest's own `enabled` answers `true` whatever the settings say.
    assert!(
        guest
            .cookie_mode(env, &r)
            .await
            .expect("the guest's answer")
    );
}
