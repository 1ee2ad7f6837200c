//! The Redis store's status views: the pools this host serves, each with its global figures
//! (issue 16: "`/metrics` on each host shows the global figures for the pools it serves").
//!
//! # Policy
//!
//! - **A copy, refreshed in the background while it is read.** The views
//!   ([`PoolStore::counts`](crate::store::PoolStore::counts), `pool`, `pool_bounded`) are
//!   synchronous: `/metrics`, `/status` and the dashboard read them outside any request. They
//!   return a copy; the first read starts a task that fetches every served pool's figures
//!   every [`VIEW_EVERY`] and stops once nothing read them for [`VIEW_IDLE`]: a host nobody
//!   scrapes sends nothing, and the EVALSHA count of a request is untouched.
//! - **One round trip for all the pools**, per [`VIEW_BATCH`] pools: one `view.lua` script per
//!   pool (each pool's keys are in their own Redis Cluster slot), pipelined; its cost is
//!   `O(requests in flight + VIEW_SESSIONS + HISTORY)` per pool, whatever the pool's size.
//!   Each fetch is bounded by the
//!   store's timeout; a failed fetch keeps the last copy.
//! - **What the figures are.** Size, live, busy, requests in flight, bad inits, closed state,
//!   the retired sessions kept (with why), up to [`VIEW_SESSIONS`] live sessions, and the
//!   pool's counters in Redis (every host's): global. A pool not fetched yet (or gone from
//!   Redis) shows this host's options and no session. Redis keeps no event history: a
//!   session's history shows its init and, once retired, its retirement (server times).
//! - **Fresh on demand.** [`crate::engine::Engine::refresh_views`] fetches the copy now (one
//!   round trip, off any request's path), for a reader that needs the state as it is: the
//!   acceptance scenarios read a pool right after their requests.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use ::redis::aio::ConnectionManager;
use ::redis::{FromRedisValue, Script, Value};
use parking_lot::Mutex;

use crate::engine::{PoolCounts, SessionSnapshot};

/// How often the copy is fetched while read: a second keeps `/metrics` and the dashboard
/// (which polls each second) current, for one round trip per second per host.
pub const VIEW_EVERY: Duration = Duration::from_secs(1);

/// The fetching stops this long after the last read: longer than any usual Prometheus scrape
/// interval (15 s to 1 min), so a scraped host's figures stay at most [`VIEW_EVERY`] old.
pub const VIEW_IDLE: Duration = Duration::from_secs(300);

/// Pools fetched in one pipelined round trip: bounds a reply's size (about 1 KB per pool);
/// a host serving more pools sends one round trip per batch.
pub const VIEW_BATCH: usize = 256;

/// Live sessions listed per pool: as many as a `/status` page shows
/// (`STATUS_SESSIONS_PER_POOL`); the counts give the totals.
pub const VIEW_SESSIONS: usize = 20;

/// One pool's global figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Remote {
    /// Its aggregates across every host.
    pub counts: PoolCounts,
    /// Initial creations not started yet.
    pub pending_initial: u32,
    /// Its counters in Redis (every host's), by stat key.
    pub stats: BTreeMap<String, u64>,
    /// Up to [`VIEW_SESSIONS`] live sessions, oldest first.
    pub sessions: Vec<SessionSnapshot>,
    /// The retired sessions kept (at most [`crate::engine::pool::HISTORY`]), oldest first.
    pub retired: Vec<SessionSnapshot>,
}

/// What `view.lua` answers.
type Raw = (
    String,
    u32,
    usize,
    usize,
    u64,
    u32,
    u32,
    usize,
    HashMap<String, u64>,
    u64,
    Vec<String>,
    Vec<String>,
);

/// A session as `view.lua` lists it, or as `session.lua` kept it when retired (numbers may come
/// as strings: `HMGET` answers strings).
#[derive(Debug, serde::Deserialize)]
struct RawSession {
    id: String,
    #[serde(default, deserialize_with = "number")]
    created: u64,
    #[serde(default, deserialize_with = "number")]
    uses: u64,
    #[serde(default, deserialize_with = "number")]
    in_flight: u64,
    #[serde(default, deserialize_with = "number")]
    cf: u64,
    #[serde(default, deserialize_with = "number")]
    errors: u64,
    /// Why it was retired (retired sessions only).
    reason: Option<String>,
    /// When it was retired (retired sessions only).
    #[serde(default, deserialize_with = "number")]
    at: u64,
}

/// A count or a time in ms, as a JSON number or a string (absent or unparsable: 0).
fn number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let value = <serde_json::Value as serde::Deserialize>::deserialize(d)?;
    Ok(match value {
        serde_json::Value::Number(n) => n.as_f64().unwrap_or(0.0).max(0.0) as u64,
        serde_json::Value::String(s) => s.parse::<f64>().unwrap_or(0.0).max(0.0) as u64,
        _ => 0,
    })
}

impl RawSession {
    /// The snapshot at the server's time `now` (ms).
    fn snapshot(self, now: u64) -> SessionSnapshot {
        let ago = |at: u64| now.saturating_sub(at) as f64 / 1000.0;
        let mut history = vec![format!("-{:.1}s: init passed", ago(self.created))];
        if let Some(reason) = &self.reason {
            history.push(format!("-{:.1}s: retired: {reason}", ago(self.at)));
        }
        let small = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        SessionSnapshot {
            id: self.id,
            age_secs: ago(self.created),
            uses: self.uses,
            in_flight: small(self.in_flight),
            check_failures: small(self.cf),
            errors: small(self.errors),
            retired_because: self.reason,
            history,
        }
    }
}

/// The sessions of `raw` (JSON each; unparsable ones skipped), oldest first.
fn sessions(raw: Vec<String>, now: u64) -> Vec<SessionSnapshot> {
    let mut parsed: Vec<RawSession> = raw
        .iter()
        .filter_map(|json| serde_json::from_str(json).ok())
        .collect();
    parsed.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
    parsed.into_iter().map(|s| s.snapshot(now)).collect()
}

impl Remote {
    fn of(id: &str, raw: Raw) -> Self {
        let (closed, size, live, busy, in_flight, bad_inits, pending_initial, retired, stats) = (
            raw.0, raw.1, raw.2, raw.3, raw.4, raw.5, raw.6, raw.7, raw.8,
        );
        let (now, listed, mut kept) = (raw.9, raw.10, raw.11);
        // `RETIRED` is newest first.
        kept.reverse();
        let counts = PoolCounts {
            id: id.to_owned(),
            closed: Some(closed).filter(|c| !c.is_empty()),
            size,
            live,
            busy,
            in_flight,
            bad_inits,
            retired,
        };
        Self {
            counts,
            pending_initial,
            stats: stats.into_iter().collect(),
            sessions: sessions(listed, now),
            retired: kept
                .iter()
                .filter_map(|json| serde_json::from_str::<RawSession>(json).ok())
                .map(|s| s.snapshot(now))
                .collect(),
        }
    }
}

/// The copy, and whether a task keeps it fresh.
#[derive(Debug)]
pub struct Views {
    copy: Mutex<HashMap<String, Remote>>,
    read: Mutex<Instant>,
    running: AtomicBool,
}

impl Default for Views {
    fn default() -> Self {
        Self {
            copy: Mutex::default(),
            read: Mutex::new(Instant::now()),
            running: AtomicBool::new(false),
        }
    }
}

/// Where the fetching task reads from: the pools to fetch (id, meta key) are asked at each
/// round, so that pools registered since are fetched too.
pub struct Source {
    /// The store's connection.
    pub conn: ConnectionManager,
    /// `view.lua`.
    pub script: Arc<Script>,
    /// Bound of each round trip.
    pub timeout: Duration,
    /// The pools to fetch, as (id, meta key).
    pub pools: Box<dyn Fn() -> Vec<(String, String)> + Send + Sync>,
}

impl Views {
    /// Pool `id`'s last fetched figures.
    pub fn get(&self, id: &str) -> Option<Remote> {
        self.copy.lock().get(id).cloned()
    }

    /// Records a read; starts the fetching task from `source` unless one runs.
    pub fn wanted(self: &Arc<Self>, source: impl FnOnce() -> Source) {
        *self.read.lock() = Instant::now();
        if self.running.swap(true, Ordering::AcqRel) {
            return;
        }
        super::spawn(keep_fresh(Arc::downgrade(self), source()));
    }

    /// Fetches every pool of `source` now (what the task does each round).
    pub async fn refresh(&self, source: &Source) {
        let pools = (source.pools)();
        // Pools this host no longer serves leave the copy: it holds the served pools only.
        {
            let served: std::collections::HashSet<&str> =
                pools.iter().map(|(id, _)| id.as_str()).collect();
            self.copy
                .lock()
                .retain(|id, _| served.contains(id.as_str()));
        }
        for batch in pools.chunks(VIEW_BATCH) {
            let mut conn = source.conn.clone();
            let call = fetch(&mut conn, &source.script, batch);
            let Ok(Ok(fetched)) = tokio::time::timeout(source.timeout, call).await else {
                tracing::debug!("the Redis store's status views were not refreshed");
                return;
            };
            let mut copy = self.copy.lock();
            for ((id, _), remote) in batch.iter().zip(fetched) {
                match remote {
                    Some(remote) => {
                        copy.insert(id.clone(), remote);
                    }
                    None => {
                        copy.remove(id);
                    }
                }
            }
        }
    }

    /// True when the task must stop: nothing read the views for [`VIEW_IDLE`] (checked again
    /// after giving up the flag, so that a read racing with the stop is never left unserved).
    fn idle(&self) -> bool {
        if self.read.lock().elapsed() < VIEW_IDLE {
            return false;
        }
        self.running.store(false, Ordering::Release);
        self.read.lock().elapsed() >= VIEW_IDLE || self.running.swap(true, Ordering::AcqRel)
    }
}

/// Fetches the views every [`VIEW_EVERY`] until they are idle or dropped (the store with them).
async fn keep_fresh(views: Weak<Views>, source: Source) {
    loop {
        let Some(strong) = views.upgrade() else {
            return;
        };
        strong.refresh(&source).await;
        if strong.idle() {
            return;
        }
        drop(strong);
        tokio::time::sleep(VIEW_EVERY).await;
    }
}

/// One pipelined round trip: the script (loaded again, in case Redis restarted empty), then
/// one call per pool of `batch`.
async fn fetch(
    conn: &mut ConnectionManager,
    script: &Script,
    batch: &[(String, String)],
) -> Result<Vec<Option<Remote>>, ::redis::RedisError> {
    let invocations: Vec<_> = batch
        .iter()
        .map(|(_, meta)| {
            let mut invocation = script.prepare_invoke();
            invocation.key(meta).arg(VIEW_SESSIONS);
            invocation
        })
        .collect();
    let mut pipe = ::redis::pipe();
    pipe.load_script(script).ignore();
    for invocation in &invocations {
        pipe.invoke_script(invocation);
    }
    let replies: Vec<Value> = pipe.query_async(conn).await?;
    let parse = |((id, _), reply): (&(String, String), Value)| {
        let raw = Option::<Raw>::from_redis_value(reply).ok().flatten();
        raw.map(|raw| Remote::of(id, raw))
    };
    Ok(batch.iter().zip(replies).map(parse).collect())
}
