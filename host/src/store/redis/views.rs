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
//!   `O(requests in flight)` per pool, whatever the pool's size. Each fetch is bounded by the
//!   store's timeout; a failed fetch keeps the last copy.
//! - **What the figures are.** Size, live, busy, requests in flight, bad inits, closed state,
//!   retired sessions kept, and the pool's counters in Redis (every host's): global. A pool
//!   not fetched yet (or gone from Redis) shows this host's options and no session. The
//!   session list of a status page stays empty: the counts give the totals.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use ::redis::aio::ConnectionManager;
use ::redis::{FromRedisValue, Script, Value};
use parking_lot::Mutex;

use crate::engine::PoolCounts;

/// How often the copy is fetched while read: a second keeps `/metrics` and the dashboard
/// (which polls each second) current, for one round trip per second per host.
pub const VIEW_EVERY: Duration = Duration::from_secs(1);

/// The fetching stops this long after the last read: longer than any usual Prometheus scrape
/// interval (15 s to 1 min), so a scraped host's figures stay at most [`VIEW_EVERY`] old.
pub const VIEW_IDLE: Duration = Duration::from_secs(300);

/// Pools fetched in one pipelined round trip: bounds a reply's size (about 1 KB per pool);
/// a host serving more pools sends one round trip per batch.
pub const VIEW_BATCH: usize = 256;

/// One pool's global figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Remote {
    /// Its aggregates across every host.
    pub counts: PoolCounts,
    /// Initial creations not started yet.
    pub pending_initial: u32,
    /// Its counters in Redis (every host's), by stat key.
    pub stats: BTreeMap<String, u64>,
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
);

impl Remote {
    fn of(id: &str, raw: Raw) -> Self {
        let (closed, size, live, busy, in_flight, bad_inits, pending_initial, retired, stats) = raw;
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
            invocation.key(meta);
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
