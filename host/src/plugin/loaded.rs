//! A loaded config ([`GuestConfig`]): its compiled code, its rules, its warm instances, and one
//! typed method per hook.
//!
//! Instance policy (chosen by measurement, see the module doc of [`crate::plugin`]): a call
//! takes an idle warm instance or instantiates a fresh one from the `InstancePre`; afterwards
//! the instance goes back to the idle list unless it trapped, timed out, served
//! `recycle_after_calls` calls, filled half its output buffer, or the idle list is full.
//!
//! Bounds: every call, of every hook, goes through `GuestConfig::call`, which bounds it in
//! wall-clock time (`Limits::wall_clock`: `hook_timeout_ms`, or `init_timeout_ms` for
//! `init-session`) and in guest CPU time (`hook_cpu_ms`, checked at each epoch tick, where the
//! guest also yields to the executor). A call that exceeds either fails with a typed error and
//! its instance is dropped, never returned to the idle list.
//!
//! Skipped hooks (WIT 0.1.1, `overrides`): a hook the config does not override, and whose
//! default depends on no hook it overrides, is answered by the host's own defaults (the
//! [`super::Defaults`] of the call's [`CallEnv`]) without touching an instance: the same
//! `defaults` functions the SDK's default would call, through the same output checks, so the
//! outcome is the same (the conformance suite compares every language and WIT version). The
//! dependencies follow the reference: the default `check` and `params` call `location`, the
//! default `init-session` calls `params` and `check`. A config built for 0.1.0 overrides
//! every hook.

use std::future::poll_fn;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::task::{Unconstrained, unconstrained};
use tokio::time::{Sleep, sleep_until};
use wasmtime::Store;

use super::bindings::{Exports, ExportsPre};
use super::host::{CallEnv, CallState, HostState};
use super::output;
use super::{
    Address, Hook, HookError, HookErrorKind, Hooks, InitError, LoadError, LoadErrorKind, PoolSpec,
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
    /// session fields the host adds; `None` when the guest returned the `params` it was given,
    /// unchanged: the caller, which made that text, applies the views to the map it made it
    /// from ([`wire::with_views`]) instead of parsing it again (issue 17).
    pub body: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A loaded session config.
pub struct GuestConfig {
    runtime: Runtime,
    name: Arc<str>,
    pre: ExportsPre,
    exports: Vec<String>,
    rules: UrlRules,
    overrides: Hooks,
    idle: Mutex<Vec<Warm>>,
    counters: GuestCounters,
}

/// An instance kept warm between calls.
struct Warm {
    store: Store<HostState>,
    bindings: Exports,
    calls: u64,
}

impl GuestConfig {
    pub(crate) async fn new(
        runtime: Runtime,
        name: &str,
        pre: ExportsPre,
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
            overrides: Hooks::all(),
            idle: Mutex::new(Vec::new()),
            counters: GuestCounters::default(),
        };
        let rules = plugin.call(env.clone(), Hook::Rules, async |b, s| b.call_rules(s).await);
        let rules = rules.await.and_then(|rules| {
            let checked = output::rules(&plugin.runtime.limits, &rules);
            checked.map_err(|kind| plugin.error(Hook::Rules, kind))?;
            Ok(rules)
        });
        plugin.rules = rules.map_err(|e| LoadError {
            config: name.to_owned(),
            kind: LoadErrorKind::Rules(Box::new(e)),
        })?;
        let overrides = plugin.call(env, Hook::Overrides, async |b, s| b.call_overrides(s).await);
        plugin.overrides = overrides.await.map_err(|e| LoadError {
            config: name.to_owned(),
            kind: LoadErrorKind::Rules(Box::new(e)),
        })?;
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

    /// The hooks the config overrides (all of them for a config built for WIT 0.1.0).
    pub fn overrides(&self) -> Hooks {
        self.overrides
    }

    /// Whether `hook` must be called in the guest: the config overrides it or a hook its
    /// default calls (see the module docs).
    fn calls(&self, hook: Hooks) -> bool {
        let needed = if hook == Hooks::CHECK || hook == Hooks::PARAMS {
            hook | Hooks::LOCATION
        } else if hook == Hooks::INIT_SESSION {
            hook | Hooks::PARAMS | Hooks::LOCATION | Hooks::CHECK
        } else {
            hook
        };
        self.overrides.intersects(needed)
    }

    /// Call counters.
    pub fn counters(&self) -> &GuestCounters {
        &self.counters
    }

    /// Instances currently idle and warm.
    pub fn idle_instances(&self) -> usize {
        self.idle.lock().len()
    }

    /// The answer of a hook that the host gives itself, without a guest call (see the module
    /// docs), or `None` when the guest must be called. Synchronous, so that a caller can answer
    /// without building (and boxing) the call's future (issue 17).
    pub fn answered_by_host(&self, env: &CallEnv, request: &Request, hook: Hooks) -> Option<bool> {
        if self.calls(hook) {
            return None;
        }
        if hook == Hooks::ENABLED {
            Some(env.defaults.enabled(request))
        } else if hook == Hooks::COOKIE_MODE {
            Some(env.defaults.cookie_mode(request))
        } else {
            None
        }
    }

    /// The `pool` hook's answer when the host gives it (the config does not override `pool`),
    /// checked like a guest's; `None` when the guest must be called.
    pub fn pool_by_host(
        &self,
        env: &CallEnv,
        request: &Request,
    ) -> Option<Result<PoolSpec, HookError>> {
        (!self.calls(Hooks::POOL)).then(|| self.checked_pool(env.defaults.pool(request)))
    }

    /// The `enabled` hook.
    pub async fn enabled(&self, env: CallEnv, request: &Request) -> Result<bool, HookError> {
        if let Some(answer) = self.answered_by_host(&env, request, Hooks::ENABLED) {
            return Ok(answer);
        }
        let result = self.call(env, Hook::Enabled, async |b, s| {
            b.call_enabled(s, request).await
        });
        result
            .await?
            .map_err(|e| self.guest_error(Hook::Enabled, e))
    }

    /// The `cookie-mode` hook.
    pub async fn cookie_mode(&self, env: CallEnv, request: &Request) -> Result<bool, HookError> {
        if let Some(answer) = self.answered_by_host(&env, request, Hooks::COOKIE_MODE) {
            return Ok(answer);
        }
        let hook = Hook::CookieMode;
        let result = self.call(env, hook, async |b, s| b.call_cookie_mode(s, request).await);
        result.await?.map_err(|e| self.guest_error(hook, e))
    }

    /// The `pool` hook. An empty pool id is invalid output.
    pub async fn pool(&self, env: CallEnv, request: &Request) -> Result<PoolSpec, HookError> {
        if let Some(answer) = self.pool_by_host(&env, request) {
            return answer;
        }
        let call = self.call(env, Hook::Pool, async |b, s| b.call_pool(s, request).await);
        self.checked_pool(call.await?)
    }

    /// What the `pool` hook answered, guest or host: an empty pool id is invalid output.
    fn checked_pool(&self, result: Result<PoolSpec, String>) -> Result<PoolSpec, HookError> {
        match result {
            Ok(pool) if pool.id.is_empty() => {
                Err(self.invalid(Hook::Pool, "the pool id is empty".into()))
            }
            Ok(pool) => self.within_limits(Hook::Pool, pool, output::pool),
            Err(e) => Err(self.guest_error(Hook::Pool, e)),
        }
    }

    /// The `location` hook.
    pub async fn location(&self, env: CallEnv, request: &Request) -> Result<Address, HookError> {
        let hook = Hook::Location;
        let address = if self.calls(Hooks::LOCATION) {
            let call = self.call(env, hook, async |b, s| b.call_location(s, request).await);
            call.await?.map_err(|e| self.guest_error(hook, e))?
        } else {
            env.defaults.location(request)
        };
        self.within_limits(hook, address, output::location)
    }

    /// The `params` hook, parsed: invalid JSON or a non-object is invalid output.
    pub async fn params(
        &self,
        env: CallEnv,
        request: &Request,
    ) -> Result<serde_json::Map<String, serde_json::Value>, HookError> {
        let text = if self.calls(Hooks::PARAMS) {
            let call = self.call(env, Hook::Params, async |b, s| {
                b.call_params(s, request).await
            });
            call.await?.map_err(|e| self.guest_error(Hook::Params, e))?
        } else {
            env.defaults.params(&env.defaults.location(request))
        };
        let text = self.within_limits(Hook::Params, text, |l, t| output::params(l, t))?;
        wire::parse_object(&text, "params").map_err(|e| self.invalid(Hook::Params, e))
    }

    /// The `init-session` hook. The inner result is the guest's own outcome; the outer error is
    /// a failure of the call itself.
    pub async fn init_session(
        &self,
        env: CallEnv,
        session_id: &str,
        request: &Request,
    ) -> Result<Result<bool, InitError>, HookError> {
        if !self.calls(Hooks::INIT_SESSION) {
            let outcome = crate::defaults::default_init(&env, session_id, request).await;
            return Ok(output::init(outcome));
        }
        let call = async |b: &Exports, s: &mut Store<HostState>| {
            b.call_init_session(s, session_id, request).await
        };
        let outcome = self.call(env, Hook::InitSession, call).await?;
        Ok(output::init(outcome))
    }

    /// The `check` hook.
    pub async fn check(
        &self,
        env: CallEnv,
        response: &Response,
        request: &Request,
    ) -> Result<Verdict, HookError> {
        if !self.calls(Hooks::CHECK) {
            let location = env.defaults.location(request);
            let verdict = env.defaults.check(response, request, &location);
            return Ok(output::verdict(verdict));
        }
        let call =
            async |b: &Exports, s: &mut Store<HostState>| b.call_check(s, response, request).await;
        let result = self.call(env, Hook::Check, call).await?;
        let verdict = result.map_err(|e| self.guest_error(Hook::Check, e))?;
        Ok(output::verdict(verdict))
    }

    /// The `process-request` hook. A returned request whose params are not a JSON object is
    /// invalid output; a valid one comes back with its Zyte API body, parsed once here.
    pub async fn process_request(
        &self,
        env: CallEnv,
        request: &Request,
    ) -> Result<Option<ProcessedRequest>, HookError> {
        if !self.calls(Hooks::PROCESS_REQUEST) {
            return Ok(None);
        }
        let hook = Hook::ProcessRequest;
        let result = self.call(env, hook, async |b, s| {
            b.call_process_request(s, request).await
        });
        let Some(new) = result.await?.map_err(|e| self.guest_error(hook, e))? else {
            return Ok(None);
        };
        let new = self.within_limits(hook, new, output::request)?;
        if new.params == request.params {
            return Ok(Some(ProcessedRequest {
                request: new,
                body: None,
            }));
        }
        match wire::body_from_request(&new) {
            Ok(body) => Ok(Some(ProcessedRequest {
                request: new,
                body: Some(body),
            })),
            Err(e) => Err(self.invalid(hook, e)),
        }
    }

    fn guest_error(&self, hook: Hook, message: String) -> HookError {
        self.error(hook, HookErrorKind::Guest(output::message(message)))
    }

    /// `value` if `check` finds it within this config's output limits, else the typed error
    /// (the value is dropped).
    fn within_limits<T>(
        &self,
        hook: Hook,
        value: T,
        check: impl FnOnce(&super::Limits, &T) -> Result<(), HookErrorKind>,
    ) -> Result<T, HookError> {
        match check(&self.runtime.limits, &value) {
            Ok(()) => Ok(value),
            Err(kind) => Err(self.error(hook, kind)),
        }
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

    /// Runs one hook call: the one path every hook takes, so that its bounds and its error
    /// mapping live here. `invoke` makes the typed call on the instance; its return type flows
    /// through. The call's duration is recorded, failed or not ([`telemetry`]), from the same
    /// clock read that starts its CPU budget and its wall-clock bound.
    async fn call<T>(
        &self,
        env: CallEnv,
        hook: Hook,
        invoke: impl AsyncFnOnce(&Exports, &mut Store<HostState>) -> wasmtime::Result<T>,
    ) -> Result<T, HookError> {
        let started = Instant::now();
        let result = self.run(env, hook, started, invoke).await;
        telemetry::hook_call(&self.name, hook, telemetry::active().then_some(started));
        result
    }

    /// Runs one call on a warm or fresh instance, enforcing the limits, and returns the
    /// instance to the idle list if it is still healthy.
    async fn run<T>(
        &self,
        env: CallEnv,
        hook: Hook,
        started: Instant,
        invoke: impl AsyncFnOnce(&Exports, &mut Store<HostState>) -> wasmtime::Result<T>,
    ) -> Result<T, HookError> {
        self.counters.calls.fetch_add(1, Ordering::Relaxed);
        let mut warm = match self.checkout().await {
            Ok(warm) => warm,
            Err(kind) => return Err(self.failure(hook, kind)),
        };
        let state = warm.store.data_mut();
        state.call = CallState::new(hook, env, started);
        // A refusal in an earlier call that the guest survived says nothing about this one.
        state.memory.refused = false;
        warm.store.set_epoch_deadline(1);
        let limits = &self.runtime.limits;
        let outcome = bounded(
            started,
            limits.wall_clock(hook),
            invoke(&warm.bindings, &mut warm.store),
        )
        .await;
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
            // Yield to the executor every tick: a computing guest never pins a tokio worker,
            // other tasks run between its slices, and its wall-clock timeout can fire.
            Ok(wasmtime::UpdateDeadline::Yield(1))
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

/// `call` within `bound` of wall-clock time counted from `started` (the call's start, before
/// the instance was checked out). On timeout the call's future is dropped mid-call (the guest's
/// fiber with it) and fails with [`TimedOut`]; the caller then discards the instance, whose
/// state is unknown. This holds whether the guest computes (the epoch callback yields to the
/// executor every tick, so the timer gets its turn) or awaits a host import (a WASI sleep or
/// poll, a `download`: a pending host future).
///
/// The timer is armed only when the call first returns `Pending` (issue 17): a call that
/// completes in its first poll, as nearly every hook call does, never reads the clock again nor
/// builds a timer; it cannot have outrun its bound unnoticed, since it never let the executor
/// run anything else, and a call that does yield is bounded from `started`, as before.
async fn bounded<T>(
    started: Instant,
    bound: Duration,
    call: impl Future<Output = wasmtime::Result<T>>,
) -> wasmtime::Result<T> {
    let mut call = pin!(call);
    // Polled outside tokio's cooperative budget, as `tokio::time::timeout` polls its delay: a
    // call that spent the task's budget still sees its deadline.
    let mut timer: Option<Pin<Box<Unconstrained<Sleep>>>> = None;
    poll_fn(|cx| {
        if let Poll::Ready(result) = call.as_mut().poll(cx) {
            return Poll::Ready(result);
        }
        let deadline = tokio::time::Instant::from_std(started + bound);
        let timer = timer.get_or_insert_with(|| Box::pin(unconstrained(sleep_until(deadline))));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(wasmtime::Error::new(TimedOut(
                bound.as_millis() as u64
            )))),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUND: Duration = Duration::from_millis(200);

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    fn timed_out(result: wasmtime::Result<u8>) -> Option<u64> {
        result.err()?.downcast_ref::<TimedOut>().map(|t| t.0)
    }

    #[test]
    fn issue_17_a_call_ready_at_once_is_not_timed() {
        let result = rt().block_on(bounded(Instant::now(), BOUND, async { Ok(7) }));
        assert_eq!(result.ok(), Some(7));
        // Even past its deadline: a call that completes in its first poll ran nothing else.
        let late = Instant::now() - 2 * BOUND;
        let result = rt().block_on(bounded(late, BOUND, async { Ok(8) }));
        assert_eq!(result.ok(), Some(8));
    }

    #[test]
    fn issue_17_the_bound_counts_from_the_call_start_not_from_its_first_wait() {
        let rt = rt();
        // The call started 150 ms ago (its checkout, say): 50 ms are left of its 200.
        let started = Instant::now() - Duration::from_millis(150);
        let waited = Instant::now();
        let result = rt.block_on(bounded(started, BOUND, std::future::pending()));
        let waited = waited.elapsed();
        assert_eq!(timed_out(result), Some(200));
        assert!(
            waited >= Duration::from_millis(40) && waited < Duration::from_millis(140),
            "timed out after {waited:?}, not at the start's deadline"
        );
    }

    #[test]
    fn issue_17_a_call_that_yields_then_completes_within_its_bound_succeeds() {
        let rt = rt();
        let call = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(9)
        };
        let result = rt.block_on(bounded(Instant::now(), BOUND, call));
        assert_eq!(result.ok(), Some(9));
    }

    #[test]
    fn issue_17_a_call_that_spends_the_task_budget_still_times_out() {
        let rt = rt();
        // Each poll spends the whole cooperative budget and stays pending, for 3 bounds.
        let until = Instant::now() + 3 * BOUND;
        let greedy = std::future::poll_fn(|cx| {
            if Instant::now() > until {
                return Poll::Ready(Ok(0));
            }
            for _ in 0..1_000 {
                if pin!(tokio::task::coop::consume_budget())
                    .poll(cx)
                    .is_pending()
                {
                    break;
                }
            }
            assert!(!tokio::task::coop::has_budget_remaining());
            cx.waker().wake_by_ref();
            Poll::Pending
        });
        let waited = Instant::now();
        let result = rt.block_on(bounded(Instant::now(), BOUND, greedy));
        assert_eq!(timed_out(result), Some(200));
        assert!(waited.elapsed() < BOUND + Duration::from_millis(150));
    }
}
