//! A loaded config ([`GuestConfig`]): its compiled code, its rules, its warm instances, and one
//! typed method per hook.
//!
//! Instance policy (chosen by measurement, see the module doc of [`crate::plugin`]): a call
//! takes an idle warm instance or instantiates a fresh one from the `InstancePre`; afterwards
//! the instance goes back to the idle list unless it trapped, timed out, served
//! `recycle_after_calls` calls, filled half its output buffer, or the idle list is full.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use wasmtime::Store;

use super::bindings::{SessionConfig, SessionConfigPre};
use super::host::{CallEnv, CallState, HostState};
use super::{
    Address, Hook, HookError, HookErrorKind, InitError, Limits, LoadError, LoadErrorKind, PoolSpec,
    Request, Response, Runtime, UrlRules, Verdict,
};
use crate::{telemetry, wire};

/// Counters of one loaded config, for metrics.
#[derive(Debug, Default)]
pub struct GuestCounters {
    /// Hook calls made.
    pub calls: AtomicU64,
    /// Hook calls that failed with a trap, timeout, CPU or memory limit.
    pub failures: AtomicU64,
    /// Fresh instances created.
    pub instantiations: AtomicU64,
}

/// A request that a config's `process-request` returned.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessedRequest {
    /// The request as the guest returned it.
    pub request: Request,
    /// Its Zyte API body ([`wire::body_from_request`]), without `url` and without the
    /// session fields the host adds.
    pub body: serde_json::Map<String, serde_json::Value>,
}

/// A loaded session config.
pub struct GuestConfig {
    runtime: Runtime,
    name: Arc<str>,
    pre: SessionConfigPre<HostState>,
    exports: Vec<String>,
    rules: UrlRules,
    idle: Mutex<Vec<Warm>>,
    counters: GuestCounters,
}

/// An instance kept warm between calls.
struct Warm {
    store: Store<HostState>,
    bindings: SessionConfig,
    calls: u64,
}

/// One hook call, with its arguments.
enum Call<'a> {
    Rules,
    Enabled(&'a Request),
    CookieMode(&'a Request),
    Pool(&'a Request),
    Location(&'a Request),
    Params(&'a Request),
    InitSession(&'a str, &'a Request),
    Check(&'a Response, &'a Request),
    ProcessRequest(&'a Request),
}

/// What a hook returned.
#[expect(
    clippy::large_enum_variant,
    reason = "one short-lived value per call, moved once"
)]
enum Ret {
    Rules(UrlRules),
    Bool(Result<bool, String>),
    Pool(Result<PoolSpec, String>),
    Address(Result<Address, String>),
    Text(Result<String, String>),
    Init(Result<bool, InitError>),
    Verdict(Result<Verdict, String>),
    Request(Result<Option<Request>, String>),
}

impl Call<'_> {
    fn hook(&self) -> Hook {
        match self {
            Call::Rules => Hook::Rules,
            Call::Enabled(_) => Hook::Enabled,
            Call::CookieMode(_) => Hook::CookieMode,
            Call::Pool(_) => Hook::Pool,
            Call::Location(_) => Hook::Location,
            Call::Params(_) => Hook::Params,
            Call::InitSession(..) => Hook::InitSession,
            Call::Check(..) => Hook::Check,
            Call::ProcessRequest(_) => Hook::ProcessRequest,
        }
    }

    /// Runs the hook. Only `init-session` can wait (on `download`), so only it gets the
    /// wall-clock timeout; the others are bounded by the CPU budget alone, and never register a
    /// timer.
    async fn invoke(
        self,
        b: &SessionConfig,
        s: &mut Store<HostState>,
        limits: &Limits,
    ) -> wasmtime::Result<Ret> {
        Ok(match self {
            Call::Rules => Ret::Rules(b.call_rules(s).await?),
            Call::Enabled(r) => Ret::Bool(b.call_enabled(s, r).await?),
            Call::CookieMode(r) => Ret::Bool(b.call_cookie_mode(s, r).await?),
            Call::Pool(r) => Ret::Pool(b.call_pool(s, r).await?),
            Call::Location(r) => Ret::Address(b.call_location(s, r).await?),
            Call::Params(r) => Ret::Text(b.call_params(s, r).await?),
            Call::Check(resp, r) => Ret::Verdict(b.call_check(s, resp, r).await?),
            Call::ProcessRequest(r) => Ret::Request(b.call_process_request(s, r).await?),
            Call::InitSession(id, r) => {
                let timeout = limits.init_timeout();
                match tokio::time::timeout(timeout, b.call_init_session(s, id, r)).await {
                    Ok(result) => Ret::Init(result?),
                    Err(_) => {
                        return Err(wasmtime::Error::new(TimedOut(timeout.as_millis() as u64)));
                    }
                }
            }
        })
    }
}

impl GuestConfig {
    pub(crate) async fn new(
        runtime: Runtime,
        name: &str,
        pre: SessionConfigPre<HostState>,
        exports: Vec<String>,
        env: CallEnv,
    ) -> Result<Self, LoadError> {
        let mut plugin = Self {
            runtime,
            name: name.into(),
            pre,
            exports,
            rules: UrlRules {
                include: Vec::new(),
                exclude: Vec::new(),
                priority: 0,
                instead_of: None,
            },
            idle: Mutex::new(Vec::new()),
            counters: GuestCounters::default(),
        };
        plugin.rules = match plugin.call(env, Call::Rules).await {
            Ok(Ret::Rules(rules)) => rules,
            Ok(_) => unreachable_ret(Hook::Rules),
            Err(e) => {
                return Err(LoadError {
                    config: name.to_owned(),
                    kind: LoadErrorKind::Rules(Box::new(e)),
                });
            }
        };
        Ok(plugin)
    }

    /// The config's name (its file stem).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The rules the config declared when it loaded.
    pub fn rules(&self) -> &UrlRules {
        &self.rules
    }

    /// The component's exports, by WIT name.
    pub fn exports(&self) -> &[String] {
        &self.exports
    }

    /// Call counters.
    pub fn counters(&self) -> &GuestCounters {
        &self.counters
    }

    /// Instances currently idle and warm.
    pub fn idle_instances(&self) -> usize {
        self.idle.lock().len()
    }

    /// The `enabled` hook.
    pub async fn enabled(&self, env: CallEnv, request: &Request) -> Result<bool, HookError> {
        match self.call(env, Call::Enabled(request)).await? {
            Ret::Bool(r) => r.map_err(|e| self.guest_error(Hook::Enabled, e)),
            _ => unreachable_ret(Hook::Enabled),
        }
    }

    /// The `cookie-mode` hook.
    pub async fn cookie_mode(&self, env: CallEnv, request: &Request) -> Result<bool, HookError> {
        match self.call(env, Call::CookieMode(request)).await? {
            Ret::Bool(r) => r.map_err(|e| self.guest_error(Hook::CookieMode, e)),
            _ => unreachable_ret(Hook::CookieMode),
        }
    }

    /// The `pool` hook. An empty pool id is invalid output.
    pub async fn pool(&self, env: CallEnv, request: &Request) -> Result<PoolSpec, HookError> {
        match self.call(env, Call::Pool(request)).await? {
            Ret::Pool(Ok(pool)) if pool.id.is_empty() => {
                Err(self.invalid(Hook::Pool, "the pool id is empty".into()))
            }
            Ret::Pool(r) => r.map_err(|e| self.guest_error(Hook::Pool, e)),
            _ => unreachable_ret(Hook::Pool),
        }
    }

    /// The `location` hook.
    pub async fn location(&self, env: CallEnv, request: &Request) -> Result<Address, HookError> {
        match self.call(env, Call::Location(request)).await? {
            Ret::Address(r) => r.map_err(|e| self.guest_error(Hook::Location, e)),
            _ => unreachable_ret(Hook::Location),
        }
    }

    /// The `params` hook, parsed: invalid JSON or a non-object is invalid output.
    pub async fn params(
        &self,
        env: CallEnv,
        request: &Request,
    ) -> Result<serde_json::Map<String, serde_json::Value>, HookError> {
        match self.call(env, Call::Params(request)).await? {
            Ret::Text(Ok(text)) => {
                wire::parse_object(&text, "params").map_err(|e| self.invalid(Hook::Params, e))
            }
            Ret::Text(Err(e)) => Err(self.guest_error(Hook::Params, e)),
            _ => unreachable_ret(Hook::Params),
        }
    }

    /// The `init-session` hook. The inner result is the guest's own outcome; the outer error is
    /// a failure of the call itself.
    pub async fn init_session(
        &self,
        env: CallEnv,
        session_id: &str,
        request: &Request,
    ) -> Result<Result<bool, InitError>, HookError> {
        match self
            .call(env, Call::InitSession(session_id, request))
            .await?
        {
            Ret::Init(r) => Ok(r),
            _ => unreachable_ret(Hook::InitSession),
        }
    }

    /// The `check` hook.
    pub async fn check(
        &self,
        env: CallEnv,
        response: &Response,
        request: &Request,
    ) -> Result<Verdict, HookError> {
        match self.call(env, Call::Check(response, request)).await? {
            Ret::Verdict(r) => r.map_err(|e| self.guest_error(Hook::Check, e)),
            _ => unreachable_ret(Hook::Check),
        }
    }

    /// The `process-request` hook. A returned request whose params are not a JSON object is
    /// invalid output; a valid one comes back with its Zyte API body, parsed once here.
    pub async fn process_request(
        &self,
        env: CallEnv,
        request: &Request,
    ) -> Result<Option<ProcessedRequest>, HookError> {
        match self.call(env, Call::ProcessRequest(request)).await? {
            Ret::Request(Ok(Some(new))) => match wire::body_from_request(&new) {
                Ok(body) => Ok(Some(ProcessedRequest { request: new, body })),
                Err(e) => Err(self.invalid(Hook::ProcessRequest, e)),
            },
            Ret::Request(Ok(None)) => Ok(None),
            Ret::Request(Err(e)) => Err(self.guest_error(Hook::ProcessRequest, e)),
            _ => unreachable_ret(Hook::ProcessRequest),
        }
    }

    fn guest_error(&self, hook: Hook, message: String) -> HookError {
        self.error(hook, HookErrorKind::Guest(message))
    }

    fn invalid(&self, hook: Hook, message: String) -> HookError {
        self.error(hook, HookErrorKind::InvalidOutput(message))
    }

    fn error(&self, hook: Hook, kind: HookErrorKind) -> HookError {
        telemetry::hook_error(&self.name, hook, &kind);
        HookError {
            config: self.name.to_string(),
            hook,
            kind,
        }
    }

    /// Runs one call and records its duration, failed or not ([`telemetry`]).
    async fn call(&self, env: CallEnv, call: Call<'_>) -> Result<Ret, HookError> {
        let (hook, started) = (call.hook(), telemetry::started());
        let result = self.run(env, call, hook).await;
        telemetry::hook_call(&self.name, hook, started);
        result
    }

    /// Runs one call on a warm or fresh instance, enforcing the limits, and returns the
    /// instance to the idle list if it is still healthy.
    async fn run(&self, env: CallEnv, call: Call<'_>, hook: Hook) -> Result<Ret, HookError> {
        self.counters.calls.fetch_add(1, Ordering::Relaxed);
        let mut warm = match self.checkout().await {
            Ok(warm) => warm,
            Err(kind) => return Err(self.failure(hook, kind)),
        };
        let state = warm.store.data_mut();
        state.call = CallState::new(hook, env);
        // A refusal in an earlier call that the guest survived says nothing about this one.
        state.memory.refused = false;
        warm.store.set_epoch_deadline(1);
        let limits = &self.runtime.limits;
        let outcome = call.invoke(&warm.bindings, &mut warm.store, limits).await;
        let output_full = warm.store.data_mut().drain_output();
        let result = outcome.map_err(|trap| classify_trap(warm.store.data(), &trap));
        // Drop what belongs to this call (the session's data, the downloader) without
        // allocating a fresh environment.
        let env = &mut warm.store.data_mut().call.env;
        (env.session, env.downloader) = (None, None);
        warm.calls += 1;
        match result {
            Ok(ret) => {
                if !output_full && warm.calls < limits.recycle_after_calls {
                    self.checkin(warm);
                }
                Ok(ret)
            }
            Err(kind) => Err(self.failure(hook, kind)),
        }
    }

    fn failure(&self, hook: Hook, kind: HookErrorKind) -> HookError {
        self.counters.failures.fetch_add(1, Ordering::Relaxed);
        let error = self.error(hook, kind);
        tracing::warn!("{error}");
        error
    }

    async fn checkout(&self) -> Result<Warm, HookErrorKind> {
        if let Some(warm) = self.idle.lock().pop() {
            return Ok(warm);
        }
        self.counters.instantiations.fetch_add(1, Ordering::Relaxed);
        telemetry::instantiation(&self.name);
        let runtime = &self.runtime;
        let mut store = Store::new(
            &runtime.engine,
            HostState::new(self.name.clone(), runtime.limits.clone()),
        );
        store.limiter(|state| &mut state.memory);
        store.epoch_deadline_callback(|mut ctx| {
            let state = ctx.data();
            if state.call.guest_time() > state.limits.hook_cpu() {
                ctx.data_mut().call.cpu_exceeded = true;
                return Ok(wasmtime::UpdateDeadline::Interrupt);
            }
            Ok(wasmtime::UpdateDeadline::Continue(1))
        });
        store.set_epoch_deadline(1);
        match self.pre.instantiate_async(&mut store).await {
            Ok(bindings) => Ok(Warm {
                store,
                bindings,
                calls: 0,
            }),
            Err(e) => Err(HookErrorKind::Instantiate(format!("{e:#}"))),
        }
    }

    fn checkin(&self, warm: Warm) {
        let mut idle = self.idle.lock();
        if idle.len() < self.runtime.limits.max_idle_instances {
            idle.push(warm);
        }
    }
}

/// The wall-clock timeout of an async call fired after this many milliseconds.
#[derive(Debug, thiserror::Error)]
#[error("timed out after {0} ms")]
struct TimedOut(u64);

/// Names the cause of a failed call from what the store saw during it.
fn classify_trap(state: &HostState, error: &wasmtime::Error) -> HookErrorKind {
    if let Some(TimedOut(ms)) = error.downcast_ref::<TimedOut>() {
        return HookErrorKind::Timeout { ms: *ms };
    }
    if state.call.cpu_exceeded {
        return HookErrorKind::CpuBudget {
            ms: state.limits.hook_cpu_ms,
        };
    }
    if state.memory.refused {
        return HookErrorKind::MemoryLimit {
            bytes: state.limits.memory_bytes,
        };
    }
    let message = match error.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => trap.to_string(),
        None => format!("{error:#}"),
    };
    HookErrorKind::Trap {
        message,
        panic: state.call.panic.clone(),
    }
}

/// [`Call::invoke`] returns the `Ret` variant of its own hook; anything else is a bug here.
fn unreachable_ret<T>(hook: Hook) -> T {
    unreachable!("hook {hook} returned the result of another hook")
}
