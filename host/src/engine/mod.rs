//! The session engine: pools of Zyte API sessions, their lifecycle, checks and retries
//! (docs/reference.md §4 and §5), as a library API for the front ends.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use session_host::engine::{Engine, EngineRequest};
//! use session_host::settings::HostSettings;
//! use session_host::zyte::Client;
//! let settings = HostSettings::default();
//! let engine = Engine::new(settings.sessions, Client::from_env(&settings.upstream)?);
//! let body = serde_json::json!({"url": "https://example.com", "httpResponseBody": true});
//! let mut request = EngineRequest::new(body.as_object().cloned().unwrap_or_default());
//! request.controls.enabled = Some(true);
//! let response = engine.execute(request).await?;
//! println!("{} via {:?}", response.status, response.served_by);
//! # Ok(()) }
//! ```
//!
//! # Policy (reference behaviour unless marked "improves on")
//!
//! - **Config.** Chosen by URL rules with the reference's url-matcher semantics ([`config`],
//!   [`crate::rules`]); the configs sit behind an `ArcSwap` ([`Engine::install_configs`]): a
//!   request keeps the version it started with, and a new set reopens every closed pool.
//! - **Disabled requests** are forwarded as they are, with the non-session retry policy, and
//!   counted as `use/disabled`. A request that names its own retry policy
//!   ([`EngineRequest::retry_policy`]) gets it as it is, with or without sessions; an unknown
//!   name is [`EngineError::BadInput`] naming the field, and nothing is sent.
//! - **Pools.** The `pool` hook names the pool; its options are frozen at first sight with the
//!   precedence `[sessions.pools]` > hook > global (4.2). Pools in `[sessions.pools]` with a
//!   `size` exist from the start; their other options still take the first request's spec
//!   (a preset's own keys win). The deprecated `pool_sizes` is merged under `pools`
//!   ([`SessionSettings::with_deprecated_merged`]). The first `size` requests of a pool each
//!   initialise their own session, concurrently, with their own URL and controls (5.4).
//! - **Who owns a pool** (improves on 4.2, issue 13): a pool a request names is
//!   `client_pool_prefix` + its id (the built-in `pool` default), so a request's options only
//!   ever apply to its own pools, never to a site's or a config's; a request asking for more
//!   than `max_pool_size` sessions is a bad input, other sizes are clamped to it.
//! - **Bounded pools** (issue 13): at most `max_pools` pools, and `max_client_pools`,
//!   `max_param_pools`, `max_location_pools` of those kinds; idle pools are evicted, least
//!   recently used first, else [`EngineError::TooManyPools`] ([`bounds`]).
//! - **Init** (5.5, 5.7): `init-session` (or the built-in default chain) downloads through a
//!   [`downloader::InitDownloader`] with the session retry policy. `over-session-limit` and
//!   `session-creation-error` are retried after `creation_retry_delay` with a new id, not
//!   counted; other failures count as bad inits, and `max_bad_inits` consecutive ones close the
//!   pool with `bad_session_inits`. Improves on 5.5 (pitfall 4): a back-off of
//!   `init_failure_backoff` × 2^(n−1) seconds (capped at 60 s) after the n-th consecutive failed
//!   init, so a broken site is not hammered. After a passed init the triggering request waits
//!   the pool's delay, then uses the session; the session becomes available to others one more
//!   delay later (two independent draws when randomised). A replacement waits the same.
//! - **Rotation** (5.6): improves on the reference's FIFO by handing out the session available
//!   earliest (no head-of-line blocking), and bounds concurrent use of one session to
//!   `max_session_concurrency` (the reference allows any number). When the pool has no session
//!   the request waits, woken as soon as a session is added, and fails with
//!   [`EngineError::NoSession`] after `(queue_max_attempts − 1) × queue_wait_time` seconds.
//! - **State** lives in a [`crate::store::PoolStore`]; each engine step is one store step.
//!   The in-memory store costs `O(log n)` per step in a pool of `n` sessions, with one lock per
//!   pool (issue 15).
//! - **Proactive retirement** improves on 5.11: a session whose next possible use comes within
//!   `retire_before_lifetime` seconds (default 0) of Zyte API's 15-minute lifetime, or, unused,
//!   within `retire_before_idle` seconds (default 0) of its 2-minute idle limit, is retired and
//!   replaced, so that no request burns an attempt on it; a session a request can still use in
//!   its lifetime is kept. Cookie-mode pools are exempt (Zyte API does not expire a cookie jar).
//! - **Checks and errors** (5.9, 5.10): a failed check retries the request with another session
//!   and replaces the session at `max_check_failures`; a 520/521 likewise at `max_errors`; a
//!   `/problem/session-expired` or a check error replaces it at once. Concurrent failures
//!   replace a session once. Replacement runs in the background, triggered by the failing
//!   request. Other upstream errors are returned as they are. A request is retried at most
//!   `retry_times` times (Scrapy's `RETRY_TIMES`).
//! - **Closing** (5.12): `bad_session_inits`, `pool_error` (the `pool` hook failed: the URL's
//!   netloc pool is closed), `unsupported_set_location` and a guest's own reason close the
//!   affected pool only. Its requests then fail fast with [`EngineError::PoolClosed`] until
//!   [`Engine::reopen_pool`] or a new config set.
//! - **Deadline and cancellation** (issue 12; the reference has no request deadline). Every
//!   request has one [`Deadline`]: the caller's ([`Engine::execute_by`]: the gateway's and
//!   `run`'s `--request-timeout-secs`), else the `request_timeout` setting (default 600 s).
//!   It is threaded through every wait: the retry policy's waits and each upstream attempt
//!   (cut at the deadline), session creation retries, the init back-off, the pool's delay,
//!   and the waits for a session (empty, busy, delayed pool). A fixed wait that would end
//!   after the deadline is not started; a wait that an event can end (a session freed or
//!   added) lasts until the deadline at most. Then the request fails with
//!   [`EngineError::Timeout`] (a 504 `timeout` problem, or an error answer line), naming
//!   what it was waiting for, and the whole request future is bounded by the deadline too
//!   (by the engine's own timer, or by the caller's when it drops the request at the deadline
//!   itself: [`Engine::execute_guarded`], the gateway).
//!   After the deadline no work of the request goes on, and an init cut short is not counted
//!   as a bad init. **Cancellation is safe**: the request's future may be dropped at any
//!   await (a 504, a client that disconnects); drop guards then release its session lease
//!   (its in-flight count) and give back the slot of a session creation it had started, so
//!   that a later request creates that session. Returning a lease is the only thing done
//!   after a request ends. Background replacements are bounded the same way, by the
//!   `request_timeout` setting, and give their slot back when they run out of time.
//! - **Cookie mode** (5.13): see [`cookies`]. **Session data** is kept per session and dropped
//!   with it; each session keeps its last events, and each pool its last retired sessions with
//!   why ([`Engine::pools`]), improving on the reference, which keeps no history.

pub mod config;
pub mod cookies;
pub mod downloader;
pub mod observe;
pub mod pool;
pub mod stats;

mod clock;
mod error;
mod execute;
mod guard;
mod lifecycle;
mod passthrough;
mod route;
mod snapshot;

use std::sync::Arc;

use arc_swap::ArcSwap;
use serde_json::{Map, Value};

pub use clock::{Clock, Deadline};
pub use config::{
    Config, ConfigEntry, ConfigHooks, ConfigProblem, ConfigSet, ConfigStatus, ConfigsStatus,
    DEFAULT_NAME, HookFuture,
};
pub use error::{EngineError, ServedBy};
pub use route::Route;
pub use snapshot::{PoolCounts, PoolSnapshot, SessionSnapshot};
pub use stats::StatsSnapshot;

use crate::defaults::DefaultConfig;
use crate::plugin::{GuestConfig, PoolSpec, SessionControls};
use crate::rules::RulesError;
use crate::settings::SessionSettings;
use crate::store::{MemoryStore, PoolConfig, PoolKind, PoolPin, PoolStore, Registration};
use crate::wire;
use crate::zyte::Client;
use pool::{PoolOptions, Rotation};
use stats::Stats;

/// A request for the engine: a Zyte API body (with its `url`) and its session controls.
#[derive(Debug, Clone)]
pub struct EngineRequest {
    /// The Zyte API request body, including `url`.
    pub body: Map<String, Value>,
    /// The session controls (`zyte_api_session_*` equivalents).
    pub controls: SessionControls,
    /// The retry policy the request chose by name (`sessionManagement.retryPolicy`, the
    /// reference's `zyte_api_retry_policy`): a built-in or a custom one of the settings, applied
    /// as it is with and without sessions. `None`: the `retry_policy` setting.
    pub retry_policy: Option<String>,
}

impl EngineRequest {
    /// A request with no session controls.
    pub fn new(body: Map<String, Value>) -> Self {
        Self {
            body,
            controls: wire::no_controls(),
            retry_policy: None,
        }
    }
}

/// Zyte API's answer, and which session served it.
#[derive(Debug, Clone)]
pub struct EngineResponse {
    /// The upstream HTTP status (200).
    pub status: u16,
    /// The raw JSON body.
    pub body: String,
    /// The session, pool and config; `None` for requests without sessions.
    pub served_by: Option<ServedBy>,
}

/// The session engine. Cheap to clone: clones share everything.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    settings: Arc<SessionSettings>,
    defaults: Arc<DefaultConfig>,
    configs: ArcSwap<ConfigSet>,
    store: Arc<dyn PoolStore>,
    stats: Arc<Stats>,
    clock: Clock,
    rotation: Rotation,
}

impl Engine {
    /// An engine with no guest config (every URL uses the built-in default), its pools in
    /// memory.
    pub fn new(settings: SessionSettings, client: Client) -> Self {
        let store = MemoryStore::new(&settings.clone().with_deprecated_merged());
        Self::with_store(settings, client, Arc::new(store))
    }

    /// [`Engine::new`] with its pools in `store`.
    pub fn with_store(
        settings: SessionSettings,
        client: Client,
        store: Arc<dyn PoolStore>,
    ) -> Self {
        let settings = Arc::new(settings.with_deprecated_merged());
        // An earlier run's counters carry on, and the store keeps these (issue 15).
        let stats = Arc::new(Stats::new(&settings));
        if let Some(saved) = store.saved_stats() {
            stats.restore(saved);
        }
        store.keep_stats(stats.clone());
        let inner = Inner {
            client,
            defaults: Arc::new(DefaultConfig::new(settings.clone())),
            configs: ArcSwap::from_pointee(ConfigSet::default()),
            store,
            stats,
            clock: Clock::default(),
            rotation: Rotation::from_settings(&settings),
            settings,
        };
        for (id, preset) in &inner.settings.pools {
            if preset.size.is_some() {
                let config = inner.pool_config(&pool_spec(id));
                let now = inner.clock.now();
                // A preset is never refused: it counts against no bound. The in-memory store
                // registers it at once; a remote one in the background.
                let (store, id) = (inner.store.clone(), id.clone());
                guard::detach(async move {
                    let _ = store.register(&id, config, Registration::Preset, now).await;
                });
            }
        }
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Replaces the loaded configs with `plugins` and their own rules (later plugins win ties),
    /// and reopens closed pools.
    ///
    /// # Errors
    /// Their rules do not compile; the configs in force are kept.
    pub fn set_configs(&self, plugins: Vec<Arc<GuestConfig>>) -> Result<(), RulesError> {
        self.install_configs(ConfigSet::from_plugins(plugins)?);
        Ok(())
    }

    /// Swaps in `set` and reopens closed pools (a new config may fix what closed them).
    /// Requests already running finish with the config they started with.
    pub fn install_configs(&self, set: ConfigSet) {
        self.inner.configs.store(Arc::new(set));
        self.inner.store.reopen_all();
    }

    /// The configs in force.
    pub fn configs(&self) -> Arc<ConfigSet> {
        self.inner.configs.load_full()
    }

    /// Sends `request` through its session pool (or as is, when sessions are disabled for it),
    /// by the deadline of the `request_timeout` setting.
    pub async fn execute(&self, request: EngineRequest) -> Result<EngineResponse, EngineError> {
        let deadline = Deadline::after(self.inner.request_budget());
        self.inner.execute(request, deadline).await
    }

    /// [`Engine::execute`] by `deadline`: the answer is a response or an error by then
    /// ([`EngineError::Timeout`] when time ran out), and no work of the request goes on after
    /// it (see the cancellation policy above).
    pub async fn execute_by(
        &self,
        request: EngineRequest,
        deadline: Deadline,
    ) -> Result<EngineResponse, EngineError> {
        self.inner.execute(request, deadline).await
    }

    /// [`Engine::execute_by`] for a caller that drops the returned future itself when
    /// `deadline` passes (the gateway's guard does): the same answers and the same
    /// cancellation, without the engine's own timer around the whole request (issue 17: one
    /// timer registered and removed per request, and one boxed future, fewer).
    ///
    /// Every wait inside still ends at the deadline with an [`EngineError::Timeout`] naming
    /// what it waited for; only work that no wait covers (a guest hook still running, under
    /// its own wall-clock bound) is then ended by the caller's drop rather than by the
    /// engine's "running the request" timeout. A caller that does not drop the future at the
    /// deadline must use [`Engine::execute_by`].
    pub fn execute_guarded(
        &self,
        request: EngineRequest,
        deadline: Deadline,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<EngineResponse, EngineError>> + Send + '_>>
    {
        self.inner.execute_guarded(request, deadline)
    }

    /// Where `request` would go (config, sessions enabled, pool), without sending it. Runs the
    /// `enabled`, `cookie-mode` and `pool` hooks, but creates no pool.
    pub async fn route(&self, request: EngineRequest) -> Result<Route, EngineError> {
        self.inner.route(request).await
    }

    /// Reopens pool `id`; false when there is no such pool or it is not closed.
    pub async fn reopen_pool(&self, id: &str) -> bool {
        self.inner.store.reopen(id).await
    }

    /// The counters, named as `stats_per_pool` asks.
    pub fn stats(&self) -> StatsSnapshot {
        self.inner
            .stats
            .snapshot(self.inner.settings.stats_per_pool)
    }

    /// Brings the pool views ([`Engine::pools`], [`Engine::pool_counts`]...) up to date now. A
    /// shared store (Redis) shows a copy of its pools' global state fetched in the background
    /// every second while read; this fetches it at once (one round trip, off any request's
    /// path). Local stores' views are always current: nothing to do.
    pub async fn refresh_views(&self) {
        self.inner.store.refresh_views().await;
    }

    /// Every pool, sorted by id ([`Engine::pools_page`] for some of them).
    pub fn pools(&self) -> Vec<PoolSnapshot> {
        self.pools_page(0, usize::MAX).1
    }

    /// The number of pools, and the `limit` pools from `offset` in the order of their ids.
    ///
    /// Never holds a lock for long (issue 13): the ids are copied, sorted outside any lock,
    /// and each pool of the page is snapshotted under its own lock.
    pub fn pools_page(&self, offset: usize, limit: usize) -> (usize, Vec<PoolSnapshot>) {
        let mut ids = self.inner.store.ids();
        ids.sort_unstable();
        let total = ids.len();
        let page = ids.iter().skip(offset).take(limit);
        let out = page.filter_map(|id| self.pool(id)).collect();
        (total, out)
    }

    /// Pool `id`'s counters summed over every host sharing it, when its store shares them (the
    /// Redis store, issue 16): no round trip, the figures the store last fetched.
    pub fn shared_stats(&self, id: &str) -> Option<std::collections::BTreeMap<String, u64>> {
        self.inner.store.shared_stats(id)
    }

    /// Every pool's aggregates, sorted by id: `O(pools)` whatever their sizes (issue 19).
    pub fn pool_counts(&self) -> Vec<PoolCounts> {
        let mut out = self.inner.store.counts(self.inner.clock.now());
        out.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// The number of pools, and the `limit` pools from `offset` in the order of their ids, each
    /// with its aggregates and at most `max_sessions` live sessions: `O(pools + page)`.
    pub fn pools_page_bounded(
        &self,
        offset: usize,
        limit: usize,
        max_sessions: usize,
    ) -> (usize, Vec<(PoolCounts, PoolSnapshot)>) {
        let mut ids = self.inner.store.ids();
        ids.sort_unstable();
        let total = ids.len();
        let page = ids.iter().skip(offset).take(limit);
        let out = page
            .filter_map(|id| self.pool_bounded(id, max_sessions))
            .collect();
        (total, out)
    }

    /// Pool `id` with its aggregates and at most `max_sessions` live sessions.
    pub fn pool_bounded(
        &self,
        id: &str,
        max_sessions: usize,
    ) -> Option<(PoolCounts, PoolSnapshot)> {
        let now = self.inner.clock.now();
        self.inner.store.pool_bounded(id, now, max_sessions)
    }

    /// Pool `id`, if it exists.
    pub fn pool(&self, id: &str) -> Option<PoolSnapshot> {
        self.inner.store.pool(id, self.inner.clock.now())
    }

    /// The Prometheus `pool` label of pool `id` ([`stats::Stats::label`]): its id for the
    /// first site and config pools, else `other` (issue 13).
    pub fn metric_label(&self, id: &str) -> String {
        self.inner.stats.label(id)
    }

    /// Records the pool labels of this scrape's gauges; returns the previous scrape's
    /// (`telemetry::observe_engine` zeroes the labels that are gone).
    pub(crate) fn swap_gauge_labels(
        &self,
        labels: std::collections::BTreeSet<String>,
    ) -> std::collections::BTreeSet<String> {
        std::mem::replace(&mut *self.inner.stats.gauge_labels.lock(), labels)
    }

    /// The engine's clock (tests advance it together with the emulator's).
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }
}

impl Inner {
    /// The budget of a request without its own deadline, and of a background replacement:
    /// the `request_timeout` setting (600 s when it is not positive).
    fn request_budget(&self) -> std::time::Duration {
        let budget = crate::zyte::retry::secs(self.settings.request_timeout);
        if budget.is_zero() {
            DEFAULT_REQUEST_TIMEOUT
        } else {
            budget
        }
    }

    /// Registers the pool of `spec` at first sight, within the pool bounds
    /// ([`crate::store::bounds`]), and records the request's use of it; returns its id and the
    /// pin the request holds.
    ///
    /// # Errors
    /// A pool a request named asks for more than `max_pool_size` sessions
    /// ([`EngineError::BadInput`]), or a bound is full ([`EngineError::TooManyPools`]).
    async fn register(&self, spec: &PoolSpec) -> Result<(String, PoolPin), EngineError> {
        let config = self.pool_config(spec);
        self.check_size(spec, config.kind)?;
        let now = self.clock.now();
        let registered = self
            .store
            .register(&spec.id, config, Registration::Request, now)
            .await?;
        self.forget(registered.evicted);
        Ok((spec.id.clone(), registered.pin))
    }

    /// A pool a request named may not ask for more than `max_pool_size` sessions (other
    /// pools are clamped to it, [`PoolOptions::resolve`]).
    fn check_size(&self, spec: &PoolSpec, kind: PoolKind) -> Result<(), EngineError> {
        if spec.id.len() > wire::MAX_POOL_ID {
            return Err(EngineError::BadInput(format!(
                "the pool id is {} bytes long, above the {} bytes the host keeps",
                spec.id.len(),
                wire::MAX_POOL_ID
            )));
        }
        let max = self.settings.max_pool_size;
        match spec.size {
            Some(size) if kind == PoolKind::Client && size > max => Err(EngineError::BadInput(
                format!("pool size {size} is above the [sessions] max_pool_size setting ({max})"),
            )),
            _ => Ok(()),
        }
    }

    /// Drops the counters of evicted pools into the `(evicted)` bucket.
    fn forget(&self, evicted: Vec<String>) {
        for id in evicted {
            tracing::debug!(pool = %wire::truncated(&id), "evicted an idle session pool");
            self.stats.forget(&id);
        }
    }

    /// The options pool `spec` freezes: `[sessions.pools.ID]` > the hook's spec > global.
    fn pool_config(&self, spec: &PoolSpec) -> PoolConfig {
        let max_bad_inits = self.settings.max_bad_inits_per_pool.get(&spec.id).copied();
        PoolConfig {
            options: PoolOptions::resolve(&self.settings, spec),
            max_bad_inits: max_bad_inits.unwrap_or(self.settings.max_bad_inits),
            kind: PoolKind::of(&spec.id, &self.settings.client_pool_prefix),
        }
    }

    async fn closed(&self, id: &str) -> Option<EngineError> {
        let reason = self.store.closed(id).await?;
        Some(closed_error(id, reason))
    }

    async fn close(&self, id: &str, reason: &str) -> EngineError {
        let reason = &wire::truncated(reason);
        tracing::error!(pool = id, reason, "closing session pool");
        let closed = self.store.close(id, reason).await;
        closed_error(id, closed.unwrap_or_else(|| reason.to_owned()))
    }

    /// Counts `stat` for pool `id`: in the engine's counters, and where every host sees it
    /// ([`PoolStore::count`]).
    fn count(&self, id: &str, stat: stats::SessionStat) {
        self.stats.inc(id, stat);
        self.store.count(id, stat);
    }
}

/// The error of a request to pool `id`, closed with `reason`; a store that could not take the
/// step ([`crate::store::UNAVAILABLE`]) is a [`EngineError::StoreUnavailable`], not a closed pool.
fn closed_error(id: &str, reason: String) -> EngineError {
    if reason == crate::store::UNAVAILABLE {
        return EngineError::StoreUnavailable {
            pool: id.to_owned(),
        };
    }
    EngineError::PoolClosed {
        pool: id.to_owned(),
        reason,
    }
}

/// [`closed_error`], for the store's tests.
#[cfg(test)]
pub(crate) fn closed_error_for_tests(id: &str, reason: String) -> EngineError {
    closed_error(id, reason)
}

/// The request budget when the `request_timeout` setting is not positive: 600 s, as the
/// gateway's default.
const DEFAULT_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// The error of a request whose `deadline` passed while it was `doing` something.
fn timed_out(pool: Option<&str>, deadline: &Deadline, doing: impl Into<String>) -> EngineError {
    EngineError::Timeout {
        pool: pool.map(str::to_owned),
        budget: deadline.budget(),
        doing: doing.into(),
    }
}

fn pool_spec(id: &str) -> PoolSpec {
    PoolSpec {
        id: id.to_owned(),
        size: None,
        delay: None,
        randomize_delay: None,
    }
}

/// An engine pointed at a fresh emulator serving `scenario`, for the engine's and the store's
/// unit tests: sessions on, no randomised delay, retry waits scaled to zero.
#[cfg(test)]
pub(crate) async fn test_engine(
    scenario: zyte_emulator::Scenario,
    settings: SessionSettings,
) -> (zyte_emulator::RunningEmulator, Engine) {
    let config = zyte_emulator::EmulatorConfig {
        scenario,
        ..zyte_emulator::EmulatorConfig::default()
    };
    let emulator = zyte_emulator::start(config).await.expect("emulator");
    let upstream = crate::settings::UpstreamSettings {
        url: emulator.base_url(),
        wait_scale: 0.0,
        ..crate::settings::UpstreamSettings::default()
    };
    let client =
        crate::zyte::Client::new(&upstream, crate::zyte::ApiKey::new("test-key")).expect("client");
    let settings = SessionSettings {
        enabled: true,
        randomize_delay: false,
        ..settings
    };
    (emulator, Engine::new(settings, client))
}
