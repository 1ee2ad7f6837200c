//! The Redis store (issue 16): pools shared by every host pointed at one Redis.
//!
//! # Policy
//!
//! - **One round trip per step, one awaited per request.** Each [`PoolStore`] step is one Lua
//!   script sent by `EVALSHA` ([`::redis::Script`] falls back to `EVAL` once when the server
//!   does not know it yet), atomic on the server: `lease` reaps expired leases, checks the
//!   closed state and the initial creations, and takes the session available earliest (a
//!   sorted set by next-use time holding the sessions below the concurrency limit) in one step,
//!   and its reply brings the session's cookie jar and guest data. What a request says after
//!   its answer (release, data, cookies, counters) is queued and carried by the pool's next
//!   lease, or sent alone within [`LINGER`] (`settle.rs`): a request waits on its lease only. A
//!   session creation reads the pool's options from the copy registering brought.
//! - **Global semantics.** Size, delay, bad-init count, closed state and sessions live in Redis:
//!   they hold across hosts. Times shared across hosts are the server's (`TIME`), so the hosts'
//!   clocks need not agree; the engine's `now` arguments are ignored.
//! - **Leases expire** after [`RedisOptions::lease_ttl`] unless renewed (one ticker per host
//!   renews every lease it holds every third of it, in one round trip: [`renewals`]): a host
//!   killed with -9 frees its sessions within the TTL; a reaped lease is not released twice,
//!   so a session is neither lost nor used twice at once.
//! - **Keys.** `{prefix}{{{namespace}/{pool}}}:…`: the pool id, with the namespace, is the
//!   Redis Cluster hash tag, so a pool's keys share one slot and pools spread across slots.
//!   Hosts share a pool only within one namespace: give hosts that run different configs (a
//!   rollout) different namespaces, e.g. the configs' version hash.
//! - **Bounded calls.** Every call ends within [`RedisOptions::timeout`]; a step that fails
//!   (Redis down, timeout) is logged and answered as "no pool" (`None`/`false`). The URL,
//!   which may carry a password, is never logged: [`redact`].
//! - **Redis failure** (`[store] on_failure`, `--store-on-failure`). `closed` (the default):
//!   a lease Redis cannot take answers [`super::UNAVAILABLE`], which the engine turns into a
//!   503 `store-unavailable` problem: the request fails fast, no session is used outside the
//!   global bounds, and the client retries. `local`: [`LocalFallback`] serves this host's own
//!   pools until Redis answers again. Either way, a Redis restarted empty (no persistence)
//!   gets each pool registered again, with this host's options, at its next lease.
//! - **Session data and cookies.** A session's guest data comes with its lease and goes back
//!   with its last release on this host; cookie jars are merged in Redis as the in-memory store
//!   merges them ([`crate::engine::cookies`]), never replaced.
//! - **Not shared yet:** proactive retirement (`retire_before_*`) is local to the in-memory
//!   store, and the pool bounds (`max_pools`…) count the pools of each host.
//! - **Views.** The status views ([`PoolStore::counts`], [`PoolStore::pool`]) list the pools
//!   this host registered, with their global figures, retired sessions and some live sessions
//!   from a copy refreshed in the background while it is read, or at once by
//!   [`PoolStore::refresh_views`] ([`views`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ::redis::aio::ConnectionManager;
use ::redis::{FromRedisValue, Script};
use async_trait::async_trait;
use futures::future::{BoxFuture, FutureExt, Shared};
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::Notify;

use self::settle::Settle;
use self::views::Views;
use super::bounds::PoolPin;
use super::{Failure, PoolConfig, PoolStore, Registered, Registration, Step};
use crate::engine::pool::{Choice, HISTORY, Lease, PoolOptions, Rotation, Session};
use crate::engine::stats::SessionStat;
use crate::engine::{EngineError, PoolCounts, PoolSnapshot};
use crate::session_data::SessionData;

/// How the store talks to Redis.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// Prefix of every key (default `sh:`).
    pub prefix: String,
    /// Hosts share pools within one namespace (default empty): see the module policy.
    pub namespace: String,
    /// A lease lasts this long unless renewed (default 30 s): a host killed with -9 frees its
    /// sessions within it.
    pub lease_ttl: Duration,
    /// Bound of every call, connection included (default 2 s).
    pub timeout: Duration,
    /// How often a waiting request looks again for a session another host freed (default
    /// 50 ms).
    pub poll: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            prefix: "sh:".into(),
            namespace: String::new(),
            lease_ttl: Duration::from_secs(30),
            timeout: Duration::from_secs(2),
            poll: Duration::from_millis(50),
        }
    }
}

/// Why the store could not start.
#[derive(Debug, thiserror::Error)]
pub enum RedisStoreError {
    /// The URL is not a Redis URL (shown redacted).
    #[error("bad Redis URL {url}: {reason}")]
    Url {
        /// The URL, its password replaced.
        url: String,
        /// Why.
        reason: String,
    },
    /// No connection within the timeout.
    #[error("cannot reach Redis at {url}: {reason}")]
    Connect {
        /// The URL, its password replaced.
        url: String,
        /// Why.
        reason: String,
    },
}

/// `url` with its password (and user) replaced by `***`, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() || !u.username().is_empty() => {
            let _ = u.set_username("***");
            let _ = u.set_password(None);
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "(unparsable URL)".into(),
    }
}

struct Scripts {
    lease: Script,
    add: Script,
    release: Arc<Script>,
    renew: Arc<Script>,
    pool: Script,
    session: Script,
    view: Arc<Script>,
}

impl Scripts {
    fn new() -> Self {
        // The jar bounds of `merge_jar`, the engine's own (`engine/cookies.rs`).
        let bounds = format!(
            "local MAX_COOKIES, MAX_JAR_BYTES = {}, {}",
            crate::engine::cookies::MAX_COOKIES,
            crate::engine::cookies::MAX_JAR_BYTES
        );
        let common = include_str!("common.lua");
        let with = |body: &str| Script::new(&format!("{bounds}\n{common}\n{body}"));
        Self {
            lease: with(include_str!("lease.lua")),
            add: with(include_str!("add.lua")),
            release: Arc::new(with(include_str!("release.lua"))),
            renew: Arc::new(with(include_str!("renew.lua"))),
            pool: with(include_str!("pool.lua")),
            session: with(include_str!("session.lua")),
            view: Arc::new(with(include_str!("view.lua"))),
        }
    }
}

/// Pools shared through one Redis (see the module policy).
pub struct RedisStore {
    conn: ConnectionManager,
    options: RedisOptions,
    scripts: Arc<Scripts>,
    /// Pools this host registered, with the config it asked for (the views, and registering
    /// again a pool Redis lost: a restart without persistence).
    local: Arc<Mutex<HashMap<String, PoolConfig>>>,
    /// The options in force in Redis of the pools this host registered (the first
    /// registration's, perhaps another host's), as registering answered them: a session
    /// creation reads them with no round trip.
    frozen: Mutex<HashMap<String, PoolOptions>>,
    /// The pools' global figures, for the views.
    views: Arc<Views>,
    /// The last call failed (Redis unreachable or past the timeout); the next success clears
    /// it.
    down: AtomicBool,
    notify: Arc<Notify>,
    max_concurrency: Mutex<u32>,
    /// The guest data of the sessions this host holds, as their lease brought it (see
    /// [`Leased`]).
    leased: Mutex<HashMap<(String, String), Leased>>,
    /// What requests have to tell Redis after their answers, per pool: the pool's next lease
    /// carries it, or it goes alone within [`LINGER`] (`settle.rs`).
    queues: settle::Queues,
    /// The leases this host holds, renewed by one ticker ([`renewals`]).
    held: Arc<renewals::Held>,
    /// The last [`PoolStore::reopen_all`]'s task (a config reload, from any thread): lease
    /// steps and the views wait for it, so that every step after a reload sees its pools
    /// reopened, as with the in-memory store.
    reopening: Mutex<Option<Shared<BoxFuture<'static, ()>>>>,
    /// This host's id in the fairness steps (`WAITING`, offers: [`wake`]).
    host: String,
    /// The channel offers are published on ([`wake::channel`]).
    channel: String,
    /// Dropped with the store: ends the subscriber task ([`wake::listen`]).
    _listening: tokio::sync::watch::Sender<()>,
}

/// A held session's guest data, from its lease (no round trip to read it) until its last
/// release on this host (which writes it back when the request changed it).
struct Leased {
    data: SessionData,
    /// The data as leased, to tell whether a request changed it.
    json: String,
    /// Leases of it this host holds (a session may serve several requests at once).
    holders: u32,
    /// When it was leased: entries of leases dropped before they were held (a request cancelled
    /// during its lease step) are pruned past [`LEASED_CAP`] once older than the lease TTL.
    at: Instant,
}

/// Held sessions' data kept at once before stale entries are pruned: well above any host's
/// concurrent requests, so a prune is rare; it bounds what cancelled lease steps can leave.
const LEASED_CAP: usize = 4096;

impl RedisStore {
    /// Connects to `url` (`redis://[:password@]host:port/db`).
    ///
    /// # Errors
    /// The URL is not a Redis URL, or Redis does not answer within `options.timeout`.
    pub async fn connect(url: &str, options: RedisOptions) -> Result<Self, RedisStoreError> {
        let bad = |reason: String| RedisStoreError::Url {
            url: redact(url),
            reason,
        };
        let client = ::redis::Client::open(url).map_err(|e| bad(e.to_string()))?;
        let connect = tokio::time::timeout(options.timeout, client.get_connection_manager());
        let fail = |reason: String| RedisStoreError::Connect {
            url: redact(url),
            reason,
        };
        let conn = match connect.await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return Err(fail(e.to_string())),
            Err(_) => return Err(fail(format!("no answer within {:?}", options.timeout))),
        };
        let host = format!("{:016x}", rand::random::<u64>());
        let channel = wake::channel(&options);
        let notify = Arc::new(Notify::new());
        let (listening, stop) = tokio::sync::watch::channel(());
        spawn(wake::listen(
            client,
            channel.clone(),
            host.clone(),
            Arc::downgrade(&notify),
            stop,
            options.timeout,
        ));
        Ok(Self {
            conn,
            options,
            scripts: Arc::new(Scripts::new()),
            local: Arc::default(),
            frozen: Mutex::default(),
            views: Arc::default(),
            down: AtomicBool::new(false),
            notify,
            max_concurrency: Mutex::new(u32::MAX),
            leased: Mutex::default(),
            queues: settle::Queues::default(),
            held: Arc::default(),
            reopening: Mutex::default(),
            host,
            channel,
            _listening: listening,
        })
    }

    /// The meta key of pool `id`; every other key of the pool shares its prefix.
    fn meta(&self, id: &str) -> String {
        meta_key(&self.options, id)
    }

    /// This host holds `lease` of pool `id` until its release: the ticker renews it.
    fn renewing(&self, id: &str, lease: &Lease) {
        self.held.hold(id, &lease.session_id, lease.token, || {
            let options = self.options.clone();
            renewals::Ticker {
                conn: self.conn.clone(),
                script: self.scripts.renew.clone(),
                ttl: self.options.lease_ttl,
                timeout: self.options.timeout,
                meta: Box::new(move |id| meta_key(&options, id)),
            }
        });
    }

    /// A task sending pool `id`'s queue alone.
    fn sender(&self, id: &str) -> settle::Sender {
        settle::Sender {
            queues: Arc::downgrade(&self.queues),
            pool: id.to_owned(),
            meta: self.meta(id),
            conn: self.conn.clone(),
            script: self.scripts.release.clone(),
            timeout: self.options.timeout,
            max: self.max(),
            ttl: self.options.lease_ttl,
            fairness: self.fairness(),
        }
    }

    /// Queues what `fill` adds for pool `id`, and makes sure it is sent (`settle.rs`).
    fn queue(&self, id: &str, fill: impl FnOnce(&mut Settle)) {
        let (start, full) = {
            let mut queues = self.queues.lock();
            let queue = match queues.get_mut(id) {
                Some(queue) => queue,
                None => queues.entry(id.to_owned()).or_default(),
            };
            fill(queue);
            match settle::full(queue) {
                true => (false, Some(queue.take())),
                false => (settle::claim(queue), None),
            }
        };
        if let Some(batch) = full {
            spawn(self.sender(id).once(batch));
        }
        if start {
            spawn(self.sender(id).run());
        }
    }

    /// Sends pool `id`'s queue now (tests: the store sends it within [`LINGER`]).
    #[cfg(test)]
    async fn settle_now(&self, id: &str) {
        let batch = self.carried(id);
        self.sender(id).once(batch).await;
    }

    /// What a step on pool `id` carries: its whole queue.
    fn carried(&self, id: &str) -> Settle {
        let mut queues = self.queues.lock();
        queues.get_mut(id).map(Settle::take).unwrap_or_default()
    }

    /// Puts back what a failed step carried.
    fn put_back(&self, id: &str, carried: Settle) {
        if carried.is_empty() {
            return;
        }
        let start = {
            let mut queues = self.queues.lock();
            let queue = queues.entry(id.to_owned()).or_default();
            queue.put_back(carried, self.options.lease_ttl);
            settle::claim(queue)
        };
        if start {
            spawn(self.sender(id).run());
        }
    }

    /// What the views' background task fetches: every pool this host registered.
    fn view_source(&self) -> views::Source {
        let (local, options) = (self.local.clone(), self.options.clone());
        let pools = move || {
            let ids: Vec<String> = local.lock().keys().cloned().collect();
            ids.into_iter()
                .map(|id| {
                    let meta = meta_key(&options, &id);
                    (id, meta)
                })
                .collect()
        };
        views::Source {
            conn: self.conn.clone(),
            script: self.scripts.view.clone(),
            timeout: self.options.timeout,
            pools: Box::new(pools),
        }
    }

    /// Fetches the views' figures now, in one round trip (the background task does it every
    /// [`VIEW_EVERY`] while they are read), after sending what this host has queued
    /// (`settle.rs`: its requests' releases and counters), so that the figures include them.
    pub async fn refresh_views(&self) {
        self.reopened().await;
        self.flush().await;
        self.views.refresh(&self.view_source()).await;
    }

    /// Sends every pool's queue now, one script per pool with something queued; a queue Redis
    /// does not take is put back (and sent again later, as any failed step's).
    async fn flush(&self) {
        let ids: Vec<String> = {
            let queues = self.queues.lock();
            let queued = queues.iter().filter(|(_, queue)| !queue.is_empty());
            queued.map(|(id, _)| id.clone()).collect()
        };
        for id in ids {
            let batch = self.carried(&id);
            if !batch.is_empty() && self.sender(&id).send(&batch).await.is_err() {
                self.put_back(&id, batch);
            }
        }
    }

    /// Pool `id`'s global figures, as last fetched ([`views`]): this host's options and no
    /// session until fetched.
    pub fn remote(&self, id: &str) -> Option<Remote> {
        self.views.wanted(|| self.view_source());
        let options = self.local.lock().get(id).map(|c| c.options.clone())?;
        Some(self.views.get(id).unwrap_or_else(|| Remote {
            counts: PoolCounts {
                id: id.to_owned(),
                size: options.size,
                ..PoolCounts::default()
            },
            ..Remote::default()
        }))
    }

    /// Waits for the last [`PoolStore::reopen_all`] to be done (at once when it is).
    async fn reopened(&self) {
        let pending = self.reopening.lock().clone();
        if let Some(pending) = pending.filter(|p| p.peek().is_none()) {
            pending.await;
        }
    }

    /// What `lease.lua` and `release.lua` read after their first arguments: this host's id,
    /// the offer horizon (ms), the channel ([`wake`]).
    fn fairness(&self) -> [String; 3] {
        [
            self.host.clone(),
            millis(wake::horizon(&self.options)),
            self.channel.clone(),
        ]
    }

    fn max(&self) -> u32 {
        (*self.max_concurrency.lock()).min(i32::MAX as u32)
    }

    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.options.lease_ttl.as_millis()).unwrap_or(u64::MAX)
    }

    /// True while Redis does not answer: the last call failed and none succeeded since.
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    /// One `PING`, bounded by the timeout: true when Redis answered (and the store is up again).
    pub async fn ping(&self) -> bool {
        let mut conn = self.conn.clone();
        let ping = ::redis::cmd("PING");
        let call = ping.query_async::<String>(&mut conn);
        let up = matches!(
            tokio::time::timeout(self.options.timeout, call).await,
            Ok(Ok(_))
        );
        self.down.store(!up, Ordering::Relaxed);
        up
    }

    /// Runs `script` on pool `id` with `args`, bounded by the timeout; `None` on failure
    /// (logged without the URL) or when the script answers nil.
    async fn run<T: FromRedisValue>(
        &self,
        script: &Script,
        id: &str,
        args: &[String],
    ) -> Option<T> {
        self.try_run(script, id, args).await.ok().flatten()
    }

    /// [`RedisStore::run`], telling a failure (`Err`) from a nil answer (`Ok(None)`).
    async fn try_run<T: FromRedisValue>(
        &self,
        script: &Script,
        id: &str,
        args: &[String],
    ) -> Result<Option<T>, ()> {
        let mut invocation = script.key(self.meta(id));
        for arg in args {
            invocation.arg(arg);
        }
        let mut conn = self.conn.clone();
        let call = invocation.invoke_async::<Option<T>>(&mut conn);
        let out = match tokio::time::timeout(self.options.timeout, call).await {
            Ok(Ok(out)) => Ok(out),
            Ok(Err(e)) => {
                tracing::warn!(pool = %crate::wire::truncated(id), "Redis store step failed: {}", e.kind_str());
                Err(())
            }
            Err(_) => {
                tracing::warn!(pool = %crate::wire::truncated(id), "Redis store step timed out");
                Err(())
            }
        };
        self.down.store(out.is_err(), Ordering::Relaxed);
        out
    }

    /// Keeps `data` (JSON `json`) of session `sid` of pool `id`, held by one more lease.
    fn hold(&self, id: &str, sid: &str, data: SessionData, json: String) {
        let mut leased = self.leased.lock();
        if leased.len() >= LEASED_CAP {
            let ttl = self.options.lease_ttl;
            leased.retain(|_, l| l.at.elapsed() < ttl);
        }
        let key = (id.to_owned(), sid.to_owned());
        let entry = leased.entry(key).or_insert_with(|| Leased {
            data,
            json,
            holders: 0,
            at: Instant::now(),
        });
        entry.holders += 1;
    }

    /// One lease of session `sid` ends: its data as JSON when this was the last one on this
    /// host and the request changed it, else empty.
    fn unhold(&self, id: &str, sid: &str) -> String {
        let mut leased = self.leased.lock();
        let key = (id.to_owned(), sid.to_owned());
        let Some(entry) = leased.get_mut(&key) else {
            return String::new();
        };
        entry.holders = entry.holders.saturating_sub(1);
        if entry.holders > 0 {
            return String::new();
        }
        let entry = leased.remove(&key).expect("present");
        let now = data_json(&entry.data);
        if now == entry.json {
            String::new()
        } else {
            now
        }
    }

    /// Registers pool `id` with `config` in Redis (the first registration's options win), and
    /// keeps the options in force, which the same round trip answers.
    async fn register_remote(&self, id: &str, config: &PoolConfig) {
        let o = &config.options;
        let args = [
            "register".to_owned(),
            o.size.to_string(),
            millis(crate::zyte::retry::secs(o.delay)),
            u8::from(o.randomize_delay).to_string(),
            config.max_bad_inits.to_string(),
        ];
        let reply: Option<Vec<String>> = self.run(&self.scripts.pool, id, &args).await;
        if let Some(options) = reply.as_deref().and_then(options_of) {
            self.frozen.lock().insert(id.to_owned(), options);
        }
    }

    async fn pool_op<T: FromRedisValue>(&self, id: &str, op: &str, args: &[&str]) -> Option<T> {
        let mut all = vec![op.to_owned()];
        all.extend(args.iter().map(|a| (*a).to_owned()));
        self.run(&self.scripts.pool, id, &all).await
    }

    async fn session_op<T: FromRedisValue>(
        &self,
        id: &str,
        sid: &str,
        op: &str,
        args: &[String],
    ) -> Option<T> {
        let mut all = vec![op.to_owned(), sid.to_owned()];
        all.extend(args.iter().cloned());
        self.run(&self.scripts.session, id, &all).await
    }
}

/// What a short error says, without anything from the URL.
trait KindStr {
    fn kind_str(&self) -> String;
}

impl KindStr for ::redis::RedisError {
    fn kind_str(&self) -> String {
        format!("{:?}", self.kind())
    }
}

/// The options `pool.lua` answers (`{size, delay_ms, rnd}`).
fn options_of(reply: &[String]) -> Option<PoolOptions> {
    let num = |i: usize| reply.get(i).and_then(|v| v.parse::<f64>().ok());
    Some(PoolOptions {
        size: num(0)? as u32,
        delay: num(1)? / 1000.0,
        randomize_delay: reply.get(2).is_some_and(|v| v == "1"),
    })
}

/// The meta key of pool `id` under `options`' prefix and namespace.
fn meta_key(options: &RedisOptions, id: &str) -> String {
    let RedisOptions {
        prefix, namespace, ..
    } = options;
    format!("{prefix}{{{namespace}/{id}}}:meta")
}

fn data_json(data: &SessionData) -> String {
    let map: serde_json::Map<String, Value> = data
        .snapshot()
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    Value::Object(map).to_string()
}

fn data_from_json(json: &str) -> SessionData {
    let data = SessionData::new();
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(json) {
        for (k, v) in map {
            if let Value::String(v) = v {
                let _ = data.set(&k, &v);
            }
        }
    }
    data
}

/// Runs `step` in the background (off the request's path); outside a runtime it is dropped.
fn spawn(step: impl std::future::Future<Output = ()> + Send + 'static) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        drop(runtime.spawn(step));
    }
}

fn millis(d: Duration) -> String {
    d.as_millis().to_string()
}

/// The step `lease.lua` answered, and the leased session's data (JSON).
fn step_of(reply: Vec<String>, token: u64) -> (Step, Option<String>) {
    let mut step = Step {
        choice: Choice::Empty,
        create: false,
        retired: Vec::new(),
        closed: None,
    };
    let mut parts = reply.into_iter();
    let mut data = None;
    match (parts.next().as_deref(), parts.next(), parts.next()) {
        (Some("closed"), reason, _) => step.closed = Some(reason.unwrap_or_default()),
        (Some("create"), _, _) => step.create = true,
        (Some("busy"), _, _) => step.choice = Choice::Busy,
        (Some("wait"), Some(ms), _) => {
            let ms = ms.parse().unwrap_or(0);
            step.choice = Choice::Wait(Duration::from_millis(ms));
        }
        (Some("ready"), Some(sid), cookies) => {
            let cookies = cookies.and_then(|c| serde_json::from_str(&c).ok());
            step.choice = Choice::Ready(Lease {
                session_id: sid,
                cookies: cookies.unwrap_or_default(),
                token,
            });
            data = parts.next();
        }
        _ => {}
    }
    (step, data)
}

#[async_trait]
impl PoolStore for RedisStore {
    async fn register(
        &self,
        id: &str,
        config: PoolConfig,
        _how: Registration,
        _now: Instant,
    ) -> Result<Registered, EngineError> {
        // Once per pool and config: Redis keeps the first registration's options, and a Redis
        // that lost the pool gets it again at its next lease.
        // The pool is this host's from now on (its views show it at once, with this host's
        // options until fetched); a lease racing with the registration finds no pool in Redis
        // and registers it itself.
        let known = self.local.lock().insert(id.to_owned(), config.clone());
        if known.as_ref() == Some(&config) {
            return Ok(Registered {
                pin: PoolPin::default(),
                evicted: Vec::new(),
            });
        }
        self.register_remote(id, &config).await;
        Ok(Registered {
            pin: PoolPin::default(),
            evicted: Vec::new(),
        })
    }

    fn ids(&self) -> Vec<String> {
        self.local.lock().keys().cloned().collect()
    }

    /// From the views' copy: at most [`VIEW_SESSIONS`] live sessions (see [`views`]).
    fn pool(&self, id: &str, now: Instant) -> Option<PoolSnapshot> {
        self.pool_bounded(id, now, usize::MAX).map(|(_, pool)| pool)
    }

    async fn refresh_views(&self) {
        RedisStore::refresh_views(self).await;
    }

    /// From the copy registration brought (no round trip), else from Redis.
    async fn options(&self, id: &str) -> Option<PoolOptions> {
        let cached = self.frozen.lock().get(id).cloned();
        if cached.is_some() {
            return cached;
        }
        let reply: Vec<String> = self.pool_op(id, "options", &[]).await?;
        let options = options_of(&reply)?;
        self.frozen.lock().insert(id.to_owned(), options.clone());
        Some(options)
    }

    fn waiter(&self, _id: &str) -> Option<Arc<Notify>> {
        Some(self.notify.clone())
    }

    async fn closed(&self, id: &str) -> Option<String> {
        self.pool_op(id, "closed", &[]).await
    }

    async fn close(&self, id: &str, reason: &str) -> Option<String> {
        let closed = self.pool_op(id, "close", &[reason]).await;
        self.notify.notify_waiters();
        closed
    }

    async fn reopen(&self, id: &str) -> bool {
        let reopened = self.pool_op::<i64>(id, "reopen", &[]).await == Some(1);
        self.notify.notify_waiters();
        reopened
    }

    /// In the background (one script per pool, each bounded by the timeout); the steps after
    /// it wait for it ([`RedisStore::reopened`]).
    fn reopen_all(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let ids = self.ids();
        let (scripts, conn) = (self.scripts.clone(), self.conn.clone());
        let metas: Vec<String> = ids.iter().map(|id| self.meta(id)).collect();
        let timeout = self.options.timeout;
        let notify = self.notify.clone();
        let task = runtime.spawn(async move {
            for meta in metas {
                let mut conn = conn.clone();
                let mut invocation = scripts.pool.key(meta);
                invocation.arg("reopen");
                let call = invocation.invoke_async::<Option<i64>>(&mut conn);
                let _ = tokio::time::timeout(timeout, call).await;
            }
            notify.notify_waiters();
        });
        let done = async move {
            let _ = task.await;
        };
        *self.reopening.lock() = Some(done.boxed().shared());
    }

    async fn lease(
        &self,
        id: &str,
        _now: Instant,
        rotation: &Rotation,
        _retire: bool,
        u: f64,
    ) -> Option<Step> {
        self.reopened().await;
        *self.max_concurrency.lock() = rotation.max_concurrency;
        let token: u64 = rand::random();
        let mut args = vec![
            self.max().to_string(),
            u.to_string(),
            self.ttl_ms().to_string(),
            token.to_string(),
        ];
        args.extend(self.fairness());
        let alone = args.len();
        let carried = self.carried(id);
        carried.args(&mut args);
        let mut reply = self.try_run(&self.scripts.lease, id, &args).await;
        if reply.is_err() {
            self.put_back(id, carried);
        } else if let Ok(None) = reply {
            // Redis lost the pool (restarted without persistence): register it again, once;
            // what this step carried is settled already.
            let config = self.local.lock().get(id).cloned();
            if let Some(config) = config {
                self.register_remote(id, &config).await;
                args.truncate(alone);
                args.extend(["0".to_owned(), "0".to_owned()]);
                reply = self.try_run(&self.scripts.lease, id, &args).await;
            }
        }
        match reply {
            Ok(Some(reply)) => {
                let (step, data) = step_of(reply, token);
                if let (Choice::Ready(lease), Some(json)) = (&step.choice, data) {
                    self.hold(id, &lease.session_id, data_from_json(&json), json);
                    self.renewing(id, lease);
                }
                Some(step)
            }
            Ok(None) => None,
            Err(()) => Some(Step {
                choice: Choice::Empty,
                create: false,
                retired: Vec::new(),
                closed: Some(super::UNAVAILABLE.into()),
            }),
        }
    }

    async fn add(
        &self,
        id: &str,
        session: Session,
        first_delay: Duration,
        for_use: bool,
    ) -> Option<Lease> {
        let token: u64 = rand::random();
        let cookies = Value::Array(session.cookies.clone()).to_string();
        let args = [
            session.id.clone(),
            millis(first_delay),
            u8::from(for_use).to_string(),
            self.max().to_string(),
            self.ttl_ms().to_string(),
            token.to_string(),
            cookies,
            data_json(&session.data),
            settle::keyed(&session.cookies),
        ];
        let added: Option<i64> = self.run(&self.scripts.add, id, &args).await;
        self.notify.notify_waiters();
        if added.is_some() && for_use {
            let json = args[7].clone();
            self.hold(id, &session.id, session.data.clone(), json);
        }
        let lease = added.map(|_| Lease {
            session_id: session.id,
            cookies: session.cookies,
            token,
        });
        if let (Some(lease), true) = (&lease, for_use) {
            self.renewing(id, lease);
        }
        lease
    }

    /// Queued (`settle.rs`): the pool's next lease carries it, or it goes within
    /// [`LINGER`]; this host's waiting requests are woken now (their lease carries it).
    async fn release(&self, id: &str, lease: &Lease) {
        let data = self.unhold(id, &lease.session_id);
        self.held.release(id, &lease.session_id, lease.token);
        self.queue(id, |q| q.release(&lease.session_id, lease.token, data));
        self.notify.notify_waiters();
    }

    /// One lease now (the ticker renews every held lease without this: [`renewals`]).
    async fn renew(&self, id: &str, lease: &Lease) -> bool {
        let args = [
            self.ttl_ms().to_string(),
            renewals::member(&lease.session_id, lease.token),
        ];
        let gone: Option<Vec<String>> = self.run(&self.scripts.renew, id, &args).await;
        gone.is_some_and(|gone| gone.is_empty())
    }

    /// `None`: the engine spawns no renewal per request; the store renews every lease it
    /// holds with one ticker per host ([`renewals`]).
    fn lease_ttl(&self) -> Option<Duration> {
        None
    }

    fn poll_interval(&self) -> Option<Duration> {
        Some(self.options.poll)
    }

    /// Queued (`settle.rs`): no round trip of its own.
    fn count(&self, id: &str, stat: SessionStat) {
        self.queue(id, |q| q.count(stat.as_str()));
    }

    async fn give_back(&self, id: &str) {
        let _: Option<i64> = self.pool_op(id, "give_back", &[]).await;
        self.notify.notify_waiters();
    }

    async fn session_data(&self, id: &str, session_id: &str) -> Option<SessionData> {
        let key = (id.to_owned(), session_id.to_owned());
        if let Some(held) = self.leased.lock().get(&key) {
            return Some(held.data.clone());
        }
        let json: String = self.session_op(id, session_id, "data", &[]).await?;
        Some(data_from_json(&json))
    }

    /// Queued (`settle.rs`) and merged in Redis, as the in-memory store merges
    /// ([`crate::engine::cookies`]): hosts using one session add to its jar, none replaces it.
    async fn merge_cookies(&self, id: &str, session_id: &str, cookies: Vec<Value>) {
        if cookies.is_empty() {
            return;
        }
        self.queue(id, |q| q.cookies(session_id, cookies));
    }

    async fn count_failure(
        &self,
        id: &str,
        session_id: &str,
        failure: Failure,
        max: u32,
        _now: Instant,
    ) -> bool {
        let field = match failure {
            Failure::Check => "cf",
            Failure::Error(_) => "errors",
        };
        let args = [field.to_owned(), max.to_string()];
        self.session_op::<i64>(id, session_id, "fail", &args).await == Some(1)
    }

    async fn retire(&self, id: &str, session_id: &str, reason: &str, _now: Instant) -> bool {
        let reason = crate::wire::truncated(reason);
        let args = [reason, HISTORY.to_string()];
        self.session_op::<i64>(id, session_id, "retire", &args)
            .await
            == Some(1)
    }

    async fn bad_init(&self, id: &str) -> Option<(u32, bool)> {
        let reply: Vec<u32> = self.pool_op(id, "bad_init", &[]).await?;
        Some((reply.first().copied()?, reply.get(1) == Some(&1)))
    }

    async fn bad_inits(&self, id: &str) -> Option<u32> {
        self.pool_op(id, "bad_inits", &[]).await
    }

    fn pools(&self, now: Instant) -> Vec<PoolSnapshot> {
        let ids: BTreeSet<String> = self.ids().into_iter().collect();
        ids.iter().filter_map(|id| self.pool(id, now)).collect()
    }

    /// The global figures, from the views' copy, with at most `max_sessions` of the live
    /// sessions it lists ([`VIEW_SESSIONS`]; see [`views`]).
    fn pool_bounded(
        &self,
        id: &str,
        _now: Instant,
        max_sessions: usize,
    ) -> Option<(PoolCounts, PoolSnapshot)> {
        let options = self.local.lock().get(id).map(|c| c.options.clone())?;
        let mut remote = self.remote(id)?;
        remote.sessions.truncate(max_sessions);
        let pool = PoolSnapshot {
            id: id.to_owned(),
            closed: remote.counts.closed.clone(),
            size: remote.counts.size,
            delay: options.delay,
            randomize_delay: options.randomize_delay,
            bad_inits: remote.counts.bad_inits,
            pending_initial: remote.pending_initial,
            sessions: remote.sessions,
            retired: remote.retired,
        };
        Some((remote.counts, pool))
    }

    /// Every served pool's global figures, from the views' copy (see [`views`]).
    fn counts(&self, _now: Instant) -> Vec<PoolCounts> {
        self.ids()
            .iter()
            .filter_map(|id| self.remote(id))
            .map(|r| r.counts)
            .collect()
    }
}

mod fallback;
pub mod renewals;
mod settle;
#[cfg(test)]
mod tests;
pub mod views;
pub mod wake;

pub use fallback::{LocalFallback, PROBE};
pub use settle::{FLUSH_AT, LINGER, QUEUE_CAP};
pub use views::{Remote, VIEW_EVERY, VIEW_SESSIONS};
