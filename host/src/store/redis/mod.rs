//! The Redis store (issue 16): pools shared by every host pointed at one Redis.
//!
//! # Policy
//!
//! - **One round trip per step, one awaited per request** (and one per pool per touch period,
//!   see "Bounded state"). Each [`PoolStore`] step is one Lua
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
//!   clocks need not agree; the engine's `now` arguments are ignored (but for the
//!   retirement check's clock advance, below).
//! - **Leases expire** after [`RedisOptions::lease_ttl`] unless renewed (one ticker per host
//!   renews every lease it holds every third of it, in one round trip: [`renewals`]): a host
//!   killed with -9 frees its sessions within the TTL; a reaped lease is not released twice,
//!   so a session is neither lost nor used twice at once.
//! - **Keys.** `{prefix}{{{namespace}/{pool}}}:…`: the pool id, with the namespace, is the
//!   Redis Cluster hash tag, so a pool's keys share one slot and pools spread across slots;
//!   no script touches two slots (the registry is a step of its own).
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
//! - **Proactive retirement** (`retire_before_lifetime`, `retire_before_idle`) is global: each
//!   session's creation and last use are the server's times, and a due index (a sorted set by
//!   the time each session's next possible use passes its age or idle limit, as
//!   [`crate::engine::pool`]'s) is kept by every step that changes a session; the lease pops
//!   the sessions due, retires them into the capped why-retired list (`proactive: age limit`,
//!   `proactive: idle limit`) and answers them for replacement, whichever host used them last.
//!   Cookie-mode leases retire nothing. An engine clock moved forward (the suites' virtual
//!   clock) moves this check forward by as much; a real clock never does.
//! - **Bounded state** (the standard "state that clients can create is bounded"):
//!   - *Pool bounds, global.* A namespace's pools are registered in Redis: one sorted set per
//!     kind ([`PoolKind`]) by last use, under `{prefix}{{namespace/}}pools:` (its own Cluster
//!     slot). Registering a pool (`registry.lua`, one atomic script) applies
//!     [`super::bounds`]' rule across every host: past `max_client_pools` (…) or `max_pools`,
//!     the least recently used pool idle for `pool_idle_timeout` is evicted (its keys and
//!     sessions deleted, in the background), else the request gets
//!     [`EngineError::TooManyPools`] naming the setting (a 429); at most [`SWEEP`] more idle
//!     pools go at each new pool. A host tells the registry it still uses a pool at most every
//!     eighth of `pool_idle_timeout` (a minute at most): one extra round trip per pool and
//!     period, so a pool in use is not seen idle. Pools of `[sessions.pools]` with a `size` are
//!     not counted. Unlike the in-memory store, a pool whose last request started
//!     `pool_idle_timeout` ago is evictable even while another host's request still uses it
//!     (its lease then releases to nothing).
//!   - *Keys expire.* Every key of a pool, and each session's, lives
//!     [`RedisOptions::pool_ttl`] (`[store] pool_ttl`, default an hour) past its last use;
//!     registry entries likewise. A pool no host uses any more vanishes with its counters; a
//!     session unused that long is forgotten (answered for replacement like a retired one);
//!     a pool whose keys expired is registered again at its next lease. The why-retired list is
//!     capped at the engine's history length.
//!   - *Host maps.* The pools a host serves (their config, options in force, last touch) are at
//!     most `max_pools` besides the kept ones: past it, the least recently touched is forgotten
//!     and registered again at its next request. The views' copy holds the served pools only;
//!     the settle queues hold the pools with something to send (each capped: `settle.rs`); the
//!     held sessions' data, the sessions this host's requests hold.
//! - **Views.** The status views ([`PoolStore::counts`], [`PoolStore::pool`]) list the pools
//!   this host registered, with their global figures, retired sessions and some live sessions
//!   from a copy refreshed in the background while it is read, or at once by
//!   [`PoolStore::refresh_views`] ([`views`]), and every host's counters
//!   ([`PoolStore::shared_stats`]: `/metrics`' `session_host_pool_shared_events`, the `stats`
//!   of each `/status` pool).

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
use super::bounds::{PoolKind, PoolLimits, PoolPin, SWEEP};
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
    /// Every key of a pool, and of each of its sessions, lives this long past its last use
    /// (`[store] pool_ttl`, default 1 hour): an abandoned pool's keys vanish (see the module
    /// policy, "Bounded state").
    pub pool_ttl: Duration,
    /// The pool bounds (`max_pools`, `max_client_pools`…, `pool_idle_timeout`), held across
    /// every host of the namespace (see the module policy, "Bounded state").
    pub bounds: PoolLimits,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            prefix: "sh:".into(),
            namespace: String::new(),
            lease_ttl: Duration::from_secs(30),
            timeout: Duration::from_secs(2),
            poll: Duration::from_millis(50),
            pool_ttl: Duration::from_secs(3600),
            bounds: PoolLimits::default(),
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
    registry: Script,
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
        // The jar bounds of `merge_jar`, the engine's own (`engine/cookies.rs`), and the
        // why-retired list's length, the in-memory store's.
        let bounds = format!(
            "local MAX_COOKIES, MAX_JAR_BYTES, HISTORY = {}, {}, {HISTORY}",
            crate::engine::cookies::MAX_COOKIES,
            crate::engine::cookies::MAX_JAR_BYTES
        );
        let common = include_str!("common.lua");
        let with = |body: &str| Script::new(&format!("{bounds}\n{common}\n{body}"));
        Self {
            registry: Script::new(include_str!("registry.lua")),
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
    /// The pools this host serves (the views, and registering again a pool Redis lost),
    /// bounded as the module policy says ("Bounded state").
    local: Arc<Mutex<Served>>,
    /// The pools' global figures, for the views.
    views: Arc<Views>,
    /// The last call failed (Redis unreachable or past the timeout); the next success clears
    /// it.
    down: AtomicBool,
    notify: Arc<Notify>,
    /// The engine's rotation limits, as its last lease gave them (the releases sent alone
    /// need them).
    limits: Mutex<Limits>,
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

/// The rotation limits the scripts read: concurrency, and the proactive retirement limits in
/// milliseconds (`-1`: none).
#[derive(Debug, Clone, Copy)]
struct Limits {
    max: u32,
    age: i64,
    idle: i64,
    /// The engine clock's advance over real time, as the last lease saw it (0 but in tests,
    /// whose virtual clock is moved forward): sessions' times are stamped and checked that
    /// much ahead of the server's, as the in-memory store stamps them with the engine's clock.
    skew: u64,
}

impl Limits {
    fn of(rotation: &Rotation) -> Self {
        let ms = |d: Option<Duration>| {
            d.map_or(-1, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        };
        Self {
            max: rotation.max_concurrency.min(i32::MAX as u32),
            age: ms(rotation.max_age),
            idle: ms(rotation.max_idle),
            skew: 0,
        }
    }
}

/// One pool this host serves.
#[derive(Debug, Clone)]
struct Pool {
    /// The config this host asked for.
    config: PoolConfig,
    /// The options in force in Redis (the first registration's, perhaps another host's), as
    /// registering answered them: a session creation reads them with no round trip.
    frozen: Option<PoolOptions>,
    /// A `[sessions.pools]` pool: not in the registry, not counted, never dropped here.
    keep: bool,
    /// When this host last told the registry it uses the pool.
    touched: Instant,
}

/// The pools this host serves: at most `max_pools` besides the kept ones; past it, the one this
/// host touched least recently is forgotten (it is registered again at its next request).
#[derive(Debug, Default)]
struct Served {
    map: HashMap<String, Pool>,
    /// The pools not kept, by their last touch.
    recency: BTreeSet<(Instant, String)>,
}

impl Served {
    fn get(&self, id: &str) -> Option<&Pool> {
        self.map.get(id)
    }

    /// Puts `pool` in (replacing its entry), first forgetting the least recently touched pools
    /// past `max` pools not kept.
    fn put(&mut self, id: &str, pool: Pool, max: usize) {
        self.remove(id);
        if !pool.keep {
            while self.recency.len() >= max.max(1) {
                let Some((_, oldest)) = self.recency.pop_first() else {
                    break;
                };
                self.map.remove(&oldest);
            }
            self.recency.insert((pool.touched, id.to_owned()));
        }
        self.map.insert(id.to_owned(), pool);
    }

    fn remove(&mut self, id: &str) -> Option<Pool> {
        let pool = self.map.remove(id)?;
        if !pool.keep {
            self.recency.remove(&(pool.touched, id.to_owned()));
        }
        Some(pool)
    }

    fn ids(&self) -> Vec<String> {
        self.map.keys().cloned().collect()
    }
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
            views: Arc::default(),
            down: AtomicBool::new(false),
            notify,
            limits: Mutex::new(Limits {
                max: i32::MAX as u32,
                age: -1,
                idle: -1,
                skew: 0,
            }),
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
            head: self.head(),
            fairness: self.fairness(),
            owner: 0,
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
                true => (None, Some(queue.take())),
                false => (settle::claim(queue), None),
            }
        };
        if let Some(batch) = full {
            spawn(self.sender(id).once(batch));
        }
        if let Some(owner) = start {
            spawn(self.sender(id).run(owner));
        }
    }

    /// Sends pool `id`'s queue now (tests: the store sends it within [`LINGER`]).
    #[cfg(test)]
    async fn settle_now(&self, id: &str) {
        let batch = self.carried(id);
        self.sender(id).once(batch).await;
    }

    /// What a step on pool `id` carries: its whole queue, which leaves the map (a task in
    /// charge of it finds nothing and ends): the map holds the pools with something to send.
    fn carried(&self, id: &str) -> Settle {
        let mut queues = self.queues.lock();
        queues.remove(id).map(|mut q| q.take()).unwrap_or_default()
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
        if let Some(owner) = start {
            spawn(self.sender(id).run(owner));
        }
    }

    /// What the views' background task fetches: every pool this host registered.
    fn view_source(&self) -> views::Source {
        let (local, options) = (self.local.clone(), self.options.clone());
        let pools = move || {
            let ids = local.lock().ids();
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
        let options = self
            .local
            .lock()
            .get(id)
            .map(|p| p.config.options.clone())?;
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
        self.limits.lock().max
    }

    /// What `release.lua` reads after the concurrency limit: the retirement limits and the
    /// pools' TTL.
    fn head(&self) -> [String; 3] {
        let Limits { age, idle, .. } = *self.limits.lock();
        [age.to_string(), idle.to_string(), self.pool_ttl_ms()]
    }

    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.options.lease_ttl.as_millis()).unwrap_or(u64::MAX)
    }

    fn pool_ttl_ms(&self) -> String {
        millis(self.options.pool_ttl.max(Duration::from_millis(1)))
    }

    /// How often this host tells the registry it uses a pool: an eighth of
    /// `pool_idle_timeout` and of the pools' TTL, at most a minute, so that a pool in use is
    /// never seen idle nor expired.
    fn touch_every(&self) -> Duration {
        let idle = self.options.bounds.idle();
        (idle.min(self.options.pool_ttl) / 8).min(Duration::from_secs(60))
    }

    /// The registry's key prefix (`registry.lua`): the namespace is its hash tag.
    fn registry(&self) -> String {
        let RedisOptions {
            prefix, namespace, ..
        } = &self.options;
        format!("{prefix}{{{namespace}/}}pools:")
    }

    /// Admits pool `id` of `kind` in the namespace's registry, or touches it (one round trip):
    /// the bounds hold across hosts ("Bounded state" in the module policy). The pools evicted
    /// to make room are dropped from Redis in the background, and forgotten here.
    ///
    /// # Errors
    /// A bound is full of pools in use ([`EngineError::TooManyPools`]). A failed call admits:
    /// the lease that follows meets the same failure and answers by the failure policy.
    async fn admit(&self, id: &str, kind: PoolKind) -> Result<Vec<String>, EngineError> {
        let bounds = &self.options.bounds;
        let (cap, setting) = bounds.cap(kind);
        let args = [
            id.to_owned(),
            PoolLimits::kind_index(kind).to_string(),
            millis(bounds.idle()),
            self.pool_ttl_ms(),
            bounds.max_pools().to_string(),
            cap.to_string(),
            SWEEP.to_string(),
        ];
        let mut invocation = self.scripts.registry.key(self.registry());
        for arg in &args {
            invocation.arg(arg);
        }
        let mut conn = self.conn.clone();
        let call = invocation.invoke_async::<Vec<String>>(&mut conn);
        let reply = match tokio::time::timeout(self.options.timeout, call).await {
            Ok(Ok(reply)) => reply,
            _ => {
                tracing::warn!(pool = %crate::wire::truncated(id), "Redis store: pool registry step failed");
                return Ok(Vec::new());
            }
        };
        let mut reply = reply.into_iter();
        match reply.next().as_deref() {
            Some("1") => Err(EngineError::TooManyPools {
                setting,
                limit: cap,
            }),
            Some("2") => Err(EngineError::TooManyPools {
                setting: "max_pools",
                limit: bounds.max_pools(),
            }),
            _ => {
                let evicted: Vec<String> = reply.collect();
                for victim in &evicted {
                    self.local.lock().remove(victim);
                    self.drop_remote(victim);
                }
                Ok(evicted)
            }
        }
    }

    /// Deletes pool `id`'s keys and its sessions' in the background (it was evicted).
    fn drop_remote(&self, id: &str) {
        let (scripts, conn) = (self.scripts.clone(), self.conn.clone());
        let (meta, timeout) = (self.meta(id), self.options.timeout);
        spawn(async move {
            let mut conn = conn;
            let mut invocation = scripts.pool.key(meta);
            invocation.arg("drop");
            let call = invocation.invoke_async::<Option<i64>>(&mut conn);
            let _ = tokio::time::timeout(timeout, call).await;
        });
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
    async fn register_remote(&self, id: &str, config: &PoolConfig) -> Option<PoolOptions> {
        let o = &config.options;
        let args = [
            "register".to_owned(),
            o.size.to_string(),
            millis(crate::zyte::retry::secs(o.delay)),
            u8::from(o.randomize_delay).to_string(),
            config.max_bad_inits.to_string(),
            self.pool_ttl_ms(),
        ];
        let reply: Option<Vec<String>> = self.run(&self.scripts.pool, id, &args).await;
        reply.as_deref().and_then(options_of)
    }

    /// Keeps pool `id` as served by this host, within the local bound.
    fn serve(&self, id: &str, pool: Pool) {
        let max = self.options.bounds.max_pools();
        self.local.lock().put(id, pool, max);
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
    let mut parts = reply.into_iter();
    let retired = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let mut step = Step {
        choice: Choice::Empty,
        create: false,
        retired: parts.by_ref().take(retired).collect(),
        closed: None,
        data: None,
    };
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
        how: Registration,
        _now: Instant,
    ) -> Result<Registered, EngineError> {
        // Once per pool and config, and a touch of the registry every `touch_every`: Redis
        // keeps the first registration's options, and a Redis that lost the pool gets it again
        // at its next lease.
        let now = Instant::now();
        let known = self.local.lock().get(id).cloned();
        let keep = how == Registration::Preset || known.as_ref().is_some_and(|p| p.keep);
        let same = known.as_ref().filter(|p| p.config == config);
        let fresh = same.is_some_and(|p| now.duration_since(p.touched) < self.touch_every());
        if same.is_some() && (keep || fresh) {
            return Ok(Registered {
                pin: PoolPin::default(),
                evicted: Vec::new(),
            });
        }
        let evicted = match keep {
            true => Vec::new(),
            false => match self.admit(id, config.kind).await {
                Ok(evicted) => evicted,
                Err(e) => {
                    self.local.lock().remove(id);
                    return Err(e);
                }
            },
        };
        // The pool is this host's from now on: its views show it at once (a preset's
        // registration runs in the background), with this host's options until fetched; a
        // lease racing with the registration finds no pool in Redis and registers it itself.
        let remote = same.is_none().then(|| config.clone());
        let pool = Pool {
            config,
            frozen: same.and_then(|p| p.frozen.clone()),
            keep,
            touched: now,
        };
        self.serve(id, pool);
        if let Some(config) = remote {
            let frozen = self.register_remote(id, &config).await;
            if let Some(pool) = self.local.lock().map.get_mut(id) {
                pool.frozen = frozen;
            }
        }
        Ok(Registered {
            pin: PoolPin::default(),
            evicted,
        })
    }

    fn ids(&self) -> Vec<String> {
        self.local.lock().ids()
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
        let cached = self.local.lock().get(id).and_then(|p| p.frozen.clone());
        if cached.is_some() {
            return cached;
        }
        let reply: Vec<String> = self.pool_op(id, "options", &[]).await?;
        let options = options_of(&reply)?;
        if let Some(pool) = self.local.lock().map.get_mut(id) {
            pool.frozen = Some(options.clone());
        }
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
        now: Instant,
        rotation: &Rotation,
        retire: bool,
        u: f64,
    ) -> Option<Step> {
        self.reopened().await;
        // An engine clock moved forward (the tests' virtual clock) moves the sessions' times
        // forward by as much; a real clock is never ahead of `Instant::now()`. Rounded up to
        // the millisecond: `now` was read a moment before, and the server's times are whole
        // milliseconds, so a session due exactly at the engine's `now` is due here too.
        let skew = now.saturating_duration_since(Instant::now());
        let skew = u64::try_from(skew.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX);
        let limits = Limits {
            skew,
            ..Limits::of(rotation)
        };
        *self.limits.lock() = limits;
        let token: u64 = rand::random();
        let mut args = vec![
            limits.max.to_string(),
            u.to_string(),
            self.ttl_ms().to_string(),
            token.to_string(),
            limits.age.to_string(),
            limits.idle.to_string(),
            u8::from(retire).to_string(),
            skew.to_string(),
            self.pool_ttl_ms(),
        ];
        args.extend(self.fairness());
        let alone = args.len();
        let carried = self.carried(id);
        carried.args(&mut args);
        let mut reply = self.try_run(&self.scripts.lease, id, &args).await;
        if reply.is_err() {
            self.put_back(id, carried);
        } else if let Ok(None) = reply {
            // Redis lost the pool (restarted without persistence, or its keys expired, or
            // another host evicted it): register it again, once, within the bounds (refused,
            // the pool is forgotten here and the step answers "no pool"); what this step
            // carried is settled already.
            let known = self.local.lock().get(id).cloned();
            if let Some(mut pool) = known {
                if !pool.keep && self.admit(id, pool.config.kind).await.is_err() {
                    self.local.lock().remove(id);
                    return None;
                }
                pool.frozen = self.register_remote(id, &pool.config).await;
                pool.touched = Instant::now();
                self.serve(id, pool);
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
                data: None,
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
        let limits = *self.limits.lock();
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
            limits.age.to_string(),
            limits.idle.to_string(),
            self.pool_ttl_ms(),
            limits.skew.to_string(),
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
        let args = [crate::wire::truncated(reason), self.pool_ttl_ms()];
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
        let options = self
            .local
            .lock()
            .get(id)
            .map(|p| p.config.options.clone())?;
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

    /// Every host's counters of pool `id`, from the views' copy (see [`views`]): empty until
    /// fetched.
    fn shared_stats(&self, id: &str) -> Option<std::collections::BTreeMap<String, u64>> {
        self.remote(id).map(|r| r.stats)
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
