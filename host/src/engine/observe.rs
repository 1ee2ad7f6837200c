//! Hook observation for `plugin trace` and `plugin test` (issue 18): a [`HookObserver`] given
//! to a [`super::ConfigSet`] ([`super::ConfigSet::with_observer`]) sees every hook call of
//! the configs it selects, and every download of their init chains, with input, output and
//! time.
//!
//! Policy: observation wraps the selected [`super::Config`]; the calls, their arguments and
//! their results are exactly those of an unobserved set. The observer is called after each
//! call returns, on the request's task, so it must be cheap and must not block. Inputs and
//! outputs are JSON views of the WIT values; long strings are the observer's to shorten.
//! Engines that serve traffic never install an observer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::config::{Config, ConfigHooks, HookFuture};
use crate::plugin::{
    Address, CallEnv, DownloadError, Downloader, HookError, InitError, PoolSpec, ProcessedRequest,
    Request, Response, SessionControls, Verdict,
};

/// One observed call.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HookCall {
    /// The config whose hook ran (`default` for the built-in one).
    pub config: String,
    /// The hook's WIT name (`check`, `init-session`, …), or `download` for a download of an
    /// init chain.
    pub hook: &'static str,
    /// Its arguments.
    pub input: Value,
    /// Its result: the value, or `{"error": …}`.
    pub output: Value,
    /// How long it took (for `init-session`, downloads included).
    #[serde(serialize_with = "micros")]
    pub elapsed: Duration,
}

fn micros<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u128(d.as_micros())
}

/// Sees every observed call.
pub trait HookObserver: Send + Sync {
    /// Called once per call, after it returned.
    fn record(&self, call: HookCall);
}

/// A config whose calls are observed.
pub struct Observed {
    pub(super) inner: Config,
    pub(super) observer: Arc<dyn HookObserver>,
}

impl Observed {
    async fn observe<T>(
        &self,
        hook: &'static str,
        input: Value,
        call: impl Future<Output = Result<T, HookError>>,
        view: impl Fn(&T) -> Value,
    ) -> Result<T, HookError> {
        let start = Instant::now();
        let result = call.await;
        let output = match &result {
            Ok(value) => view(value),
            Err(e) => json!({ "error": e.to_string() }),
        };
        self.observer.record(HookCall {
            config: self.inner.name().to_owned(),
            hook,
            input,
            output,
            elapsed: start.elapsed(),
        });
        result
    }
}

impl ConfigHooks for Observed {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn enabled<'a>(&'a self, env: CallEnv, r: &'a Request) -> HookFuture<'a, bool> {
        let call = self.inner.hooks().enabled(env, r);
        Box::pin(self.observe("enabled", request(r), call, |b| json!(b)))
    }
    fn cookie_mode<'a>(&'a self, env: CallEnv, r: &'a Request) -> HookFuture<'a, bool> {
        let call = self.inner.hooks().cookie_mode(env, r);
        Box::pin(self.observe("cookie-mode", request(r), call, |b| json!(b)))
    }
    fn pool<'a>(&'a self, env: CallEnv, r: &'a Request) -> HookFuture<'a, PoolSpec> {
        let call = self.inner.hooks().pool(env, r);
        Box::pin(self.observe("pool", request(r), call, pool_spec))
    }
    fn process_request<'a>(
        &'a self,
        env: CallEnv,
        r: &'a Request,
    ) -> HookFuture<'a, Option<ProcessedRequest>> {
        let call = self.inner.hooks().process_request(env, r);
        let view =
            |p: &Option<ProcessedRequest>| p.as_ref().map_or(Value::Null, |p| request(&p.request));
        Box::pin(self.observe("process-request", request(r), call, view))
    }
    fn check<'a>(
        &'a self,
        env: CallEnv,
        response: &'a Response,
        r: &'a Request,
    ) -> HookFuture<'a, Verdict> {
        let call = self.inner.hooks().check(env, response, r);
        let input = json!({ "response": self::response(response), "request": request(r) });
        Box::pin(self.observe("check", input, call, verdict))
    }
    fn init_session<'a>(
        &'a self,
        mut env: CallEnv,
        session_id: &'a str,
        r: &'a Request,
    ) -> HookFuture<'a, Result<bool, InitError>> {
        env.downloader = env.downloader.take().map(|inner| {
            let observed = ObservedDownloader {
                inner,
                config: self.inner.name().to_owned(),
                observer: self.observer.clone(),
            };
            Arc::new(observed) as Arc<dyn Downloader>
        });
        let call = self.inner.hooks().init_session(env, session_id, r);
        let input = json!({ "session_id": session_id, "request": request(r) });
        let view = |outcome: &Result<bool, InitError>| match outcome {
            Ok(passed) => json!(passed),
            Err(e) => json!({ "init-error": format!("{e:?}") }),
        };
        Box::pin(self.observe("init-session", input, call, view))
    }
}

/// Records each download of an init chain.
struct ObservedDownloader {
    inner: Arc<dyn Downloader>,
    config: String,
    observer: Arc<dyn HookObserver>,
}

impl Downloader for ObservedDownloader {
    fn download(&self, r: Request) -> BoxFuture<'static, Result<Response, DownloadError>> {
        let input = request(&r);
        let call = self.inner.download(r);
        let (config, observer) = (self.config.clone(), self.observer.clone());
        Box::pin(async move {
            let start = Instant::now();
            let result = call.await;
            let output = match &result {
                Ok(r) => response(r),
                Err(e) => json!({ "error": format!("{e:?}") }),
            };
            let elapsed = start.elapsed();
            let hook = "download";
            observer.record(HookCall {
                config,
                hook,
                input,
                output,
                elapsed,
            });
            result
        })
    }
}

/// A JSON text as a value (kept as a string when it does not parse).
fn parsed(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// The JSON view of a request.
pub fn request(r: &Request) -> Value {
    let headers: Vec<_> = r.headers.iter().map(|h| json!([h.name, h.value])).collect();
    let mut view = json!({ "url": r.url, "method": r.method, "params": parsed(&r.params) });
    let fields = [
        ("headers", (!headers.is_empty()).then(|| json!(headers))),
        ("controls", controls(&r.controls)),
        ("session_id", r.session_id.as_ref().map(|s| json!(s))),
        ("is_init", r.is_init.then_some(json!(true))),
    ];
    for (name, value) in fields {
        if let Some(value) = value {
            view[name] = value;
        }
    }
    view
}

/// The set session controls, `None` when there is none.
fn controls(c: &SessionControls) -> Option<Value> {
    let mut view = serde_json::Map::new();
    let fields = [
        ("enabled", c.enabled.map(Value::Bool)),
        ("cookie_mode", c.cookie_mode.map(Value::Bool)),
        ("params", c.params.as_deref().map(parsed)),
        ("location", c.location.as_ref().map(address)),
        ("pool", c.pool.as_ref().map(pool_spec)),
    ];
    for (name, value) in fields {
        if let Some(value) = value {
            view.insert(name.into(), value);
        }
    }
    (!view.is_empty()).then_some(Value::Object(view))
}

/// The JSON view of an address: its set fields.
pub fn address(a: &Address) -> Value {
    json!({
        "addressCountry": a.address_country, "addressRegion": a.address_region,
        "postalCode": a.postal_code, "streetAddress": a.street_address,
    })
}

/// The JSON view of a response.
pub fn response(r: &Response) -> Value {
    json!({ "status": r.status, "body": parsed(&r.body) })
}

/// The JSON view of a pool spec.
pub fn pool_spec(p: &PoolSpec) -> Value {
    json!({ "id": p.id, "size": p.size, "delay": p.delay, "randomize_delay": p.randomize_delay })
}

/// The JSON view of a verdict: `"keep"`, `"discard"` or `{"close-pool": reason}`.
pub fn verdict(v: &Verdict) -> Value {
    match v {
        Verdict::Keep => json!("keep"),
        Verdict::Discard => json!("discard"),
        Verdict::ClosePool(reason) => json!({ "close-pool": reason }),
    }
}
