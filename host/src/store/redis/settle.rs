//! What a request has to tell Redis once it has its answer, off the request's path (issue 16:
//! a request waits on one round trip): the release of its lease, the session's guest data as it
//! left it, the cookies its answer brought (cookie mode), and the pool's counters.
//!
//! # Policy
//!
//! - **Queued, then carried.** Each goes to its pool's queue on this host ([`Settle`]), not to
//!   a round trip of its own. The pool's next lease from this host carries the whole queue in
//!   its script and settles it first (`settle` in `common.lua`): a host serving requests one
//!   after another sends one script per request, and the session a request released is
//!   available to the next.
//! - **Never left waiting.** A queue that no lease carried within [`LINGER`] is sent on its own
//!   (one `release.lua` for all of it); one that holds [`FLUSH_AT`] releases is sent at once.
//!   Other hosts thus see a session released at most [`LINGER`] late (their waiting requests
//!   look again every `poll`, 50 ms by default); this host's waiting requests are woken at once
//!   and their lease carries the release. One task is in charge of a queue at a time, the one
//!   that claimed it ([`claim`]); a queue a lease carried is gone, and the task that waited for
//!   it ends without sending the next queue, which has a task of its own (a task that woke
//!   after a queue was carried used to send the next one alone: a second script per request
//!   under a steady load).
//! - **Never lost.** A step carrying a queue that fails (Redis down, a timeout) puts it back,
//!   sent again every [`super::PROBE`] until Redis answers, while the store lives. Releases
//!   older than the lease TTL are dropped then (Redis has freed them, and a late release of a
//!   reaped lease is a no-op), and a queue keeps at most [`QUEUE_CAP`] releases (the oldest
//!   dropped first: their leases free themselves within the TTL). A step that timed out after
//!   Redis ran it may count its counters twice: counters are counted at least once.
//! - **Order.** A queue goes whole, in the order it was filled. Two queues of one pool may land
//!   out of order (one sent alone while a lease carries the next); with `max_concurrency` 1
//!   no request can tell, since a session's data and cookies travel with its release, and no
//!   host leases the session again before that release lands. With a higher `max_concurrency`
//!   requests share a session at once, and a cookie merged late may replace a newer value of
//!   the same cookie.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use ::redis::Script;
use ::redis::aio::ConnectionManager;
use parking_lot::Mutex;
use serde_json::Value;

use crate::engine::cookies;

/// How long a queue waits for a lease to carry it before it is sent alone: 10 ms is longer
/// than a client's gap between two requests on loopback, and far shorter than the 50 ms other
/// hosts' waiting requests take to look again.
pub const LINGER: Duration = Duration::from_millis(10);

/// Releases that make a queue go at once: a busy host sends one script per 64 requests done,
/// and a script's size stays small (three short arguments a release, plus changed data).
pub const FLUSH_AT: usize = 64;

/// Releases a queue keeps while Redis does not answer; older ones are dropped (their leases
/// free themselves within the TTL). Bounds the memory a long outage takes per pool.
pub const QUEUE_CAP: usize = 4096;

/// One pool's queue.
#[derive(Debug, Default)]
pub struct Settle {
    releases: Vec<Release>,
    /// Cookies to merge, by session (merged here first, as the jar will merge them).
    cookies: HashMap<String, Vec<Value>>,
    counts: HashMap<&'static str, u64>,
    /// The task that will send this queue unless a lease carries it first (0: none).
    owner: u64,
}

#[derive(Debug)]
struct Release {
    sid: String,
    token: u64,
    /// The session's data as JSON, or empty when unchanged.
    data: String,
    at: Instant,
}

/// Every pool's queue; the store owns it, tasks sending a queue hold it weakly.
pub type Queues = Arc<Mutex<HashMap<String, Settle>>>;

impl Settle {
    /// Nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.releases.is_empty() && self.cookies.is_empty() && self.counts.is_empty()
    }

    /// Queues the release of `token` on `sid`, with its data (`""`: unchanged).
    pub fn release(&mut self, sid: &str, token: u64, data: String) {
        self.releases.push(Release {
            sid: sid.to_owned(),
            token,
            data,
            at: Instant::now(),
        });
    }

    /// Queues `new` cookies for `sid`'s jar.
    pub fn cookies(&mut self, sid: &str, new: Vec<Value>) {
        let jar = self.cookies.entry(sid.to_owned()).or_default();
        cookies::merge(jar, new);
    }

    /// Counts one `stat`.
    pub fn count(&mut self, stat: &'static str) {
        *self.counts.entry(stat).or_default() += 1;
    }

    /// Takes what is queued, leaving the queue empty (and its task, if any, in charge).
    pub fn take(&mut self) -> Settle {
        Settle {
            releases: std::mem::take(&mut self.releases),
            cookies: std::mem::take(&mut self.cookies),
            counts: std::mem::take(&mut self.counts),
            owner: 0,
        }
    }

    /// Puts back `older`, which a failed step carried, before what was queued since; drops the
    /// releases older than `ttl`, then the oldest past [`QUEUE_CAP`].
    pub fn put_back(&mut self, older: Settle, ttl: Duration) {
        let Settle {
            mut releases,
            cookies: mut jars,
            counts,
            ..
        } = older;
        releases.append(&mut self.releases);
        releases.retain(|r| r.at.elapsed() < ttl);
        let excess = releases.len().saturating_sub(QUEUE_CAP);
        releases.drain(..excess);
        self.releases = releases;
        for (sid, new) in std::mem::take(&mut self.cookies) {
            cookies::merge(jars.entry(sid).or_default(), new);
        }
        self.cookies = jars;
        for (stat, n) in counts {
            *self.counts.entry(stat).or_default() += n;
        }
    }

    /// Its arguments, as `settle` in `common.lua` reads them.
    pub fn args(&self, out: &mut Vec<String>) {
        out.push(self.releases.len().to_string());
        for r in &self.releases {
            out.extend([r.sid.clone(), r.token.to_string(), r.data.clone()]);
        }
        out.push(self.cookies.len().to_string());
        for (sid, new) in &self.cookies {
            out.extend([sid.clone(), keyed(new)]);
        }
        for (stat, n) in &self.counts {
            out.extend([(*stat).to_owned(), n.to_string()]);
        }
    }
}

/// `cookies` as `merge_jar` reads them: a JSON list of `[key, cookie JSON]`.
pub fn keyed(cookies: &[Value]) -> String {
    let pairs: Vec<Value> = cookies
        .iter()
        .map(|c| {
            let (name, domain, path) = cookies::key(c);
            let key = format!("{name}\u{0}{domain}\u{0}{path}");
            Value::Array(vec![Value::String(key), Value::String(c.to_string())])
        })
        .collect();
    Value::Array(pairs).to_string()
}

/// What a task sending one pool's queue alone needs.
pub struct Sender {
    pub queues: Weak<Mutex<HashMap<String, Settle>>>,
    pub pool: String,
    pub meta: String,
    pub conn: ConnectionManager,
    pub script: Arc<Script>,
    pub timeout: Duration,
    pub max: u32,
    pub ttl: Duration,
    /// What `release.lua` reads after `max`: the retirement limits and the pools' TTL.
    pub head: [String; 3],
    /// This host's id, the offer horizon and the channel (`release.lua` offers what it
    /// releases to the other hosts' waiting requests: `wake.rs`).
    pub fairness: [String; 3],
    /// The queue this task is in charge of ([`claim`]; 0 until it claims one).
    pub owner: u64,
}

impl Sender {
    /// Sends the pool's queue after [`LINGER`], again while there is one (a lease may have
    /// carried it meanwhile), until it is empty, another task is in charge of it, or the store
    /// is gone. `owner`: what [`claim`] answered.
    pub async fn run(mut self, owner: u64) {
        self.owner = owner;
        let mut wait = LINGER;
        loop {
            tokio::time::sleep(wait).await;
            let Some(batch) = self.next() else { return };
            wait = match self.send(&batch).await {
                Ok(()) => LINGER,
                Err(()) if self.put_back(batch) => super::PROBE,
                Err(()) => return,
            };
        }
    }

    /// The queue to send; `None` when it is empty (and forgotten), or not this task's (a lease
    /// carried the one it claimed, and the queue filled since has a task of its own).
    fn next(&self) -> Option<Settle> {
        let queues = self.queues.upgrade()?;
        let mut queues = queues.lock();
        let queue = queues.get_mut(&self.pool)?;
        if queue.owner != self.owner {
            return None;
        }
        if queue.is_empty() {
            queues.remove(&self.pool);
            return None;
        }
        Some(queue.take())
    }

    /// Puts `batch` back in the queue; true when this task is in charge of it (it was, or no
    /// task was and this one takes it).
    fn put_back(&mut self, batch: Settle) -> bool {
        let Some(queues) = self.queues.upgrade() else {
            return false;
        };
        let mut queues = queues.lock();
        let queue = queues.entry(self.pool.clone()).or_default();
        queue.put_back(batch, self.ttl);
        if queue.owner != 0 && queue.owner != self.owner {
            return false;
        }
        self.owner = claim(queue).unwrap_or(queue.owner);
        true
    }

    /// Sends `batch` once now (a queue full at [`FLUSH_AT`]); on failure, puts it back and
    /// sends the queue until it is empty, unless another task does.
    pub async fn once(mut self, batch: Settle) {
        if self.send(&batch).await.is_err() && self.put_back(batch) {
            let owner = self.owner;
            self.run(owner).await;
        }
    }

    /// Sends `batch` once; `Err` when Redis did not take it (the caller keeps it).
    pub async fn send(&self, batch: &Settle) -> Result<(), ()> {
        let mut args = vec![self.max.to_string()];
        args.extend(self.head.iter().cloned());
        args.extend(self.fairness.iter().cloned());
        batch.args(&mut args);
        let mut invocation = self.script.key(&self.meta);
        for arg in &args {
            invocation.arg(arg);
        }
        let mut conn = self.conn.clone();
        let call = invocation.invoke_async::<Option<i64>>(&mut conn);
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(_)) => Ok(()),
            _ => {
                tracing::warn!(pool = %crate::wire::truncated(&self.pool), "Redis store: releases not sent, kept to send again");
                Err(())
            }
        }
    }
}

/// Marks `queue` as in a new task's charge when no task has it: `Some(owner)`, to give
/// [`Sender::run`] (start one), or `None` when a task has it already.
pub fn claim(queue: &mut Settle) -> Option<u64> {
    static OWNERS: AtomicU64 = AtomicU64::new(1);
    if queue.owner != 0 {
        return None;
    }
    queue.owner = OWNERS.fetch_add(1, Ordering::Relaxed);
    Some(queue.owner)
}

/// True when `queue` holds enough releases to go at once.
pub fn full(queue: &Settle) -> bool {
    queue.releases.len() >= FLUSH_AT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_16_a_queue_put_back_keeps_its_order_its_counts_and_its_bounds() {
        let mut queue = Settle::default();
        queue.release("s1", 1, String::new());
        queue.count("use/check-passed");
        let carried = queue.take();
        assert!(queue.is_empty());
        queue.release("s2", 2, "{}".into());
        queue.count("use/check-passed");
        queue.put_back(carried, Duration::from_secs(30));
        let mut args = Vec::new();
        queue.args(&mut args);
        let expected = [
            "2",
            "s1",
            "1",
            "",
            "s2",
            "2",
            "{}",
            "0",
            "use/check-passed",
            "2",
        ];
        assert_eq!(args, expected, "the failed step's first, counts summed");
        let old = queue.take();
        queue.put_back(old, Duration::ZERO);
        assert!(queue.releases.is_empty(), "past the TTL: Redis freed them");
        assert_eq!(
            queue.counts.get("use/check-passed"),
            Some(&2),
            "never dropped"
        );
        for token in 0..(QUEUE_CAP as u64 + 10) {
            queue.release("s", token, String::new());
        }
        let all = queue.take();
        queue.put_back(all, Duration::from_secs(30));
        assert_eq!(queue.releases.len(), QUEUE_CAP);
        assert_eq!(queue.releases[0].token, 10, "the oldest dropped first");
    }
}
