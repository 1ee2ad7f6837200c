//! Issue 17 item 3 and issue 18 item 6: a config built for WIT 0.1.1 declares the hooks it
//! overrides (`overrides`), and the host answers the others from its defaults without calling
//! the guest; a config built for 0.1.0 has every hook called, as before.
//!
//! The WAT guests' hooks that are not overridden trap (`pool`, `location`, `params`, `check`,
//! `process-request`), so a hook the host calls shows as an error and a skipped one as the
//! default's answer.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;

use session_host::defaults::DefaultConfig;
use session_host::plugin::{
    Address, CallEnv, Defaults, Hooks, PoolSpec, Request, Response, UrlRules, Verdict,
};

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

/// [`Defaults`] that count the calls of the two the default check makes, for
/// [`issue_17_the_default_check_of_a_response_without_actions_stays_in_the_guest`].
struct Counting {
    inner: DefaultConfig,
    location: AtomicUsize,
    check: AtomicUsize,
}

impl Defaults for Counting {
    fn rules(&self) -> UrlRules {
        self.inner.rules()
    }
    fn enabled(&self, request: &Request) -> bool {
        self.inner.enabled(request)
    }
    fn cookie_mode(&self, request: &Request) -> bool {
        self.inner.cookie_mode(request)
    }
    fn pool(&self, request: &Request) -> Result<PoolSpec, String> {
        self.inner.pool(request)
    }
    fn location(&self, request: &Request) -> Address {
        self.location.fetch_add(1, Relaxed);
        self.inner.location(request)
    }
    fn params(&self, location: &Address) -> String {
        self.inner.params(location)
    }
    fn preset_init_params(&self, request: &Request) -> Option<String> {
        self.inner.preset_init_params(request)
    }
    fn init_request(
        &self,
        session_id: &str,
        request: &Request,
        params: &str,
        cookie_mode: bool,
    ) -> Result<Request, String> {
        self.inner
            .init_request(session_id, request, params, cookie_mode)
    }
    fn check(&self, response: &Response, request: &Request, location: &Address) -> Verdict {
        self.check.fetch_add(1, Relaxed);
        self.inner.check(response, request, location)
    }
}

/// Issue 17: the SDKs' default check answers a response whose body has no `actions` (every
/// HTTP response) in the guest, as the host's own default does, instead of two host calls that
/// copy the response and the request across (`defaults.location`, `defaults.check`); a body
/// with actions still gets the host's check. Run on the `csrf-token` example, whose `check`
/// starts with the default, in each language (the committed WIT 0.1.0 builds keep their old
/// SDK, and so their two calls).
#[tokio::test]
async fn issue_17_the_default_check_of_a_response_without_actions_stays_in_the_guest() {
    let mut checked = 0;
    for (language, folder) in [
        ("rust", "example-configs/dist"),
        ("python", "example-configs/dist/python"),
        ("js", "example-configs/dist/js"),
        ("c", "example-configs/dist/c"),
    ] {
        let path = support::repo().join(folder).join("csrf-token.wasm");
        if !path.is_file() && language != "rust" {
            eprintln!("skipping {language}: {} is not built", path.display());
            continue;
        }
        let guest = support::runtime()
            .load_file(&path, CallEnv::default())
            .await
            .unwrap_or_else(|e| panic!("{language} loads: {e}"));
        let counting = Arc::new(Counting {
            inner: DefaultConfig::default(),
            location: AtomicUsize::new(0),
            check: AtomicUsize::new(0),
        });
        let env = CallEnv {
            defaults: counting.clone(),
            ..CallEnv::default()
        };
        let r = support::request("https://csrf.example/search?q=a");
        let verdict = guest.check(env.clone(), &response(), &r).await;
        assert_eq!(verdict.expect("checks"), Verdict::Keep, "{language}");
        let calls = (
            counting.location.load(Relaxed),
            counting.check.load(Relaxed),
        );
        assert_eq!(calls, (0, 0), "{language}: no host call without actions");
        let with_actions = Response {
            status: 200,
            body: r#"{"url":"https://csrf.example/","statusCode":200,"actions":[]}"#.into(),
        };
        let verdict = guest.check(env, &with_actions, &r).await;
        assert_eq!(verdict.expect("checks"), Verdict::Keep, "{language}");
        let calls = (
            counting.location.load(Relaxed),
            counting.check.load(Relaxed),
        );
        assert_eq!(calls, (1, 1), "{language}: the host's check with actions");
        checked += 1;
    }
    assert!(checked >= 1);
}
