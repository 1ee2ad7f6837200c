//! The example configs (spine issue #2), loaded from `example-configs/dist/` and driven through
//! every hook, with `init-session` downloading from the real emulator.

use std::sync::Arc;

use serde_json::{Value, json};
use session_host::defaults;
use session_host::plugin::{Address, CallEnv, HookErrorKind, Request, Verdict};
use session_host::session_data::SessionData;

use crate::support::{self, EmulatorDownloader};

fn request(url: &str, params: Value) -> Request {
    let mut request = support::request(url);
    request.params = params.to_string();
    request
}

fn session_env(data: &SessionData, downloader: Option<Arc<EmulatorDownloader>>) -> CallEnv {
    CallEnv {
        session: Some(data.clone()),
        downloader: downloader.map(|d| d as Arc<dyn session_host::plugin::Downloader>),
        ..CallEnv::default()
    }
}

#[tokio::test]
async fn csrf_token_every_hook_against_the_emulator() {
    let emulator = support::emulator().await;
    let plugin = support::example("csrf-token").await;
    assert_eq!(plugin.rules().include, ["csrf.example"]);
    let env = CallEnv::default();
    let mut req = request(
        "https://csrf.example/search?q=shoes",
        json!({"httpResponseBody": true}),
    );

    assert!(
        !plugin.enabled(env.clone(), &req).await.unwrap(),
        "sessions are off by default"
    );
    req.controls.enabled = Some(true);
    assert!(plugin.enabled(env.clone(), &req).await.unwrap());
    assert!(!plugin.cookie_mode(env.clone(), &req).await.unwrap());
    assert_eq!(
        plugin.pool(env.clone(), &req).await.unwrap().id,
        "csrf.example"
    );
    assert!(defaults::is_empty(
        &plugin.location(env.clone(), &req).await.unwrap()
    ));
    let params = plugin.params(env.clone(), &req).await.unwrap();
    assert_eq!(
        Value::Object(params),
        json!({"url": "https://csrf.example/", "httpResponseBody": true})
    );

    let sid = uuid::Uuid::new_v4().to_string();
    let data = SessionData::new();
    let downloader = Arc::new(EmulatorDownloader::new(emulator.base_url(), sid.clone()));
    let init = plugin
        .init_session(session_env(&data, Some(downloader.clone())), &sid, &req)
        .await
        .unwrap();
    assert_eq!(init, Ok(true));
    let token = data
        .get("csrf_token")
        .expect("check stored the token in session data");

    req.session_id = Some(sid.clone());
    let processed = plugin
        .process_request(session_env(&data, None), &req)
        .await
        .unwrap()
        .expect("the request is modified");
    // Issue 17: the config only adds a header, so its params are the ones it was given and
    // the runtime leaves them unparsed (the engine builds the body from the client's map).
    assert_eq!(processed.request.params, req.params);
    assert_eq!(
        processed.body, None,
        "unchanged params are not parsed again"
    );
    let sent = processed.request;
    assert_eq!(
        sent.headers
            .iter()
            .find(|h| h.name == "x-csrf-token")
            .map(|h| h.value.as_str()),
        Some(token.as_str())
    );
    let ok = downloader.send(&sent).await.unwrap();
    assert_eq!(
        plugin
            .check(session_env(&data, None), &ok, &sent)
            .await
            .unwrap(),
        Verdict::Keep
    );
    let forbidden = downloader.send(&req).await.unwrap();
    assert_eq!(
        plugin
            .check(session_env(&data, None), &forbidden, &req)
            .await
            .unwrap(),
        Verdict::Discard
    );

    let site = emulator.stats().site("csrf.example");
    assert_eq!(
        (site.sessions_created, site.session_uses),
        (1, 3),
        "one session: its init and two uses"
    );
}

#[tokio::test]
async fn location_every_hook_against_the_emulator() {
    let emulator = support::emulator().await;
    let plugin = support::example("location").await;
    assert!(
        plugin
            .rules()
            .include
            .iter()
            .any(|p| p == "postal-code-10001.example")
    );
    let env = CallEnv::default();
    let mut req = request(
        "https://postal-code-10001.example/products",
        json!({"httpResponseBody": true}),
    );
    req.controls.enabled = Some(true);

    let location = plugin.location(env.clone(), &req).await.unwrap();
    assert_eq!(
        location.postal_code.as_deref(),
        Some("10001"),
        "derived from the domain"
    );
    assert_eq!(
        plugin.pool(env.clone(), &req).await.unwrap().id,
        "postal-code-10001.example"
    );
    let params = Value::Object(plugin.params(env.clone(), &req).await.unwrap());
    assert_eq!(
        params["actions"][0],
        json!({"action": "setLocation", "address": {"postalCode": "10001"}})
    );

    let sid = uuid::Uuid::new_v4().to_string();
    let data = SessionData::new();
    let downloader = Arc::new(EmulatorDownloader::new(emulator.base_url(), sid.clone()));
    assert_eq!(
        plugin
            .init_session(session_env(&data, Some(downloader.clone())), &sid, &req)
            .await
            .unwrap(),
        Ok(true)
    );
    assert_eq!(
        plugin
            .process_request(session_env(&data, None), &req)
            .await
            .unwrap(),
        None,
        "the default keeps requests"
    );

    req.session_id = Some(sid.clone());
    let page = downloader.send(&req).await.unwrap();
    assert_eq!(
        plugin
            .check(session_env(&data, None), &page, &req)
            .await
            .unwrap(),
        Verdict::Keep
    );

    // A session located elsewhere fails the location check.
    req.controls.location = Some(Address {
        postal_code: Some("94105".into()),
        ..defaults::address_of(&Default::default())
    });
    assert_eq!(
        plugin
            .check(session_env(&data, None), &page, &req)
            .await
            .unwrap(),
        Verdict::Discard
    );
}

#[tokio::test]
async fn init_that_awaits_a_stuck_download_times_out() {
    struct Stuck;
    impl session_host::plugin::Downloader for Stuck {
        fn download(
            &self,
            _: Request,
        ) -> futures::future::BoxFuture<
            'static,
            Result<session_host::plugin::Response, session_host::plugin::DownloadError>,
        > {
            Box::pin(futures::future::pending())
        }
    }
    let limits = session_host::plugin::Limits {
        init_timeout_ms: 300,
        ..Default::default()
    };
    let runtime = session_host::plugin::Runtime::new(limits).unwrap();
    let path = support::repo().join("example-configs/dist/csrf-token.wasm");
    let plugin = runtime.load_file(&path, CallEnv::default()).await.unwrap();
    let env = CallEnv {
        downloader: Some(Arc::new(Stuck)),
        ..CallEnv::default()
    };
    let req = request("https://csrf.example/", json!({"httpResponseBody": true}));
    let error = plugin
        .init_session(env, "sid", &req)
        .await
        .expect_err("times out");
    assert_eq!(error.kind, HookErrorKind::Timeout { ms: 300 });
    assert_eq!(
        plugin.idle_instances(),
        0,
        "the stuck instance is discarded"
    );
    assert!(
        plugin.enabled(CallEnv::default(), &req).await.is_ok(),
        "the config still serves"
    );
}

#[tokio::test]
async fn download_outside_init_session_is_refused() {
    // The default init chain run without a downloader: the SDK passes the refusal on.
    let plugin = support::example("csrf-token").await;
    let req = request("https://csrf.example/", json!({"httpResponseBody": true}));
    let outcome = plugin
        .init_session(CallEnv::default(), "sid", &req)
        .await
        .unwrap();
    match outcome {
        Err(session_host::plugin::InitError::Download(
            session_host::plugin::DownloadError::Refused(why),
        )) => {
            assert!(why.contains("only available to init-session"), "{why}")
        }
        other => panic!("expected a refused download, got {other:?}"),
    }
}
