//! Lease renewal: one ticker per host for every lease it holds (issue 16, item 3 of its
//! latency work), instead of a task spawned per request.
//!
//! # Policy
//!
//! - **What is held.** Each lease this host took (a lease step, or an `add` for use) is in the
//!   set from the step's answer until the request releases it (its release is queued:
//!   `settle.rs`). The set holds one entry per request in flight on this host, so it is
//!   bounded by the host's own request bounds; nothing else enters it.
//! - **One ticker.** A task started at the first lease renews every held lease every third of
//!   the lease TTL, in one pipelined round trip: one `renew.lua` per pool with leases held
//!   (at most [`RENEW_BATCH`] leases per script). A request costs no task and no round trip
//!   of its own; a lease taken just before a tick is renewed early, which is harmless.
//! - **A lease gone** (reaped after a stall longer than the TTL, or its session retired) is
//!   dropped from the set with a warning; its request goes on without holding it, as before.
//! - **Failure.** A tick Redis does not answer is logged and retried at the next tick: a lease
//!   survives two missed ticks. The task ends with the store.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use ::redis::aio::ConnectionManager;
use ::redis::{Script, Value};
use parking_lot::Mutex;

/// Leases renewed by one script: bounds a script's arguments on a host holding many leases of
/// one pool (more go in further scripts of the same round trip).
pub const RENEW_BATCH: usize = 512;

/// The leases this host holds, by pool: `sid|token`, as `lease.lua` names them.
#[derive(Debug, Default)]
pub struct Held {
    leases: Mutex<HashMap<String, HashSet<String>>>,
    running: AtomicBool,
}

/// What the ticker needs besides the set.
pub struct Ticker {
    /// The store's connection.
    pub conn: ConnectionManager,
    /// `renew.lua`.
    pub script: Arc<Script>,
    /// The lease TTL: the ticker renews every third of it.
    pub ttl: Duration,
    /// Bound of each round trip.
    pub timeout: Duration,
    /// The meta key of a pool, by id.
    pub meta: Box<dyn Fn(&str) -> String + Send + Sync>,
}

/// The set's name for the lease of `token` on session `sid`.
pub fn member(sid: &str, token: u64) -> String {
    format!("{sid}|{token}")
}

impl Held {
    /// This host holds the lease `token` on session `sid` of pool `pool`; starts the ticker
    /// from `ticker` unless it runs.
    pub fn hold(
        self: &Arc<Self>,
        pool: &str,
        sid: &str,
        token: u64,
        ticker: impl FnOnce() -> Ticker,
    ) {
        {
            let mut leases = self.leases.lock();
            let set = match leases.get_mut(pool) {
                Some(set) => set,
                None => leases.entry(pool.to_owned()).or_default(),
            };
            set.insert(member(sid, token));
        }
        if !self.running.swap(true, Ordering::AcqRel) {
            super::spawn(tick(Arc::downgrade(self), ticker()));
        }
    }

    /// The lease `token` on `sid` of `pool` is released (or given up).
    pub fn release(&self, pool: &str, sid: &str, token: u64) {
        let mut leases = self.leases.lock();
        if let Some(set) = leases.get_mut(pool) {
            set.remove(&member(sid, token));
            if set.is_empty() {
                leases.remove(pool);
            }
        }
    }

    /// Leases held now, by pool.
    fn snapshot(&self) -> Vec<(String, Vec<String>)> {
        let leases = self.leases.lock();
        leases
            .iter()
            .map(|(pool, set)| (pool.clone(), set.iter().cloned().collect()))
            .collect()
    }

    /// Drops `gone` leases of `pool` still held (a release that landed meanwhile is no loss).
    fn forget(&self, pool: &str, gone: &[String]) {
        let mut leases = self.leases.lock();
        let Some(set) = leases.get_mut(pool) else {
            return;
        };
        for member in gone {
            if set.remove(member) {
                tracing::warn!(pool = %crate::wire::truncated(pool), "a session lease expired while its request ran");
            }
        }
        if set.is_empty() {
            leases.remove(pool);
        }
    }

    /// Renews every held lease now, in one round trip (what the ticker does each tick).
    pub async fn renew_all(&self, ticker: &Ticker) {
        let held = self.snapshot();
        if held.is_empty() {
            return;
        }
        let mut calls = Vec::new();
        for (pool, members) in &held {
            for chunk in members.chunks(RENEW_BATCH) {
                let mut invocation = ticker.script.prepare_invoke();
                invocation
                    .key((ticker.meta)(pool))
                    .arg(ticker.ttl.as_millis() as u64);
                for member in chunk {
                    invocation.arg(member);
                }
                calls.push((pool, invocation));
            }
        }
        let mut pipe = ::redis::pipe();
        pipe.load_script(&ticker.script).ignore();
        for (_, invocation) in &calls {
            pipe.invoke_script(invocation);
        }
        let mut conn = ticker.conn.clone();
        let call = pipe.query_async::<Vec<Value>>(&mut conn);
        let replies = match tokio::time::timeout(ticker.timeout, call).await {
            Ok(Ok(replies)) => replies,
            _ => {
                tracing::warn!("Redis store: leases not renewed this time, again at the next tick");
                return;
            }
        };
        for ((pool, _), reply) in calls.iter().zip(replies) {
            let gone: Vec<String> = ::redis::from_redis_value(reply).unwrap_or_default();
            if !gone.is_empty() {
                self.forget(pool, &gone);
            }
        }
    }
}

/// Renews the held leases every third of the TTL until the store (and the set) is dropped.
async fn tick(held: Weak<Held>, ticker: Ticker) {
    loop {
        tokio::time::sleep(ticker.ttl / 3).await;
        let Some(held) = held.upgrade() else {
            return;
        };
        held.renew_all(&ticker).await;
    }
}
