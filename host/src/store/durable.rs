//! The durable store: the [`MemoryStore`] on the hot path, written behind to a state file
//! ([`super::state`]) so that sessions survive a restart, `kill -9` included (issue 15).
//!
//! # Policy
//!
//! - **Write-behind.** Each store step marks what it changed (a pool, a session) in a set,
//!   which costs a hash insert; a writer thread takes the set every [`FLUSH_EVERY`] and writes
//!   the changed records, read from memory at that moment, in one transaction. So a request
//!   never waits for the disk, and a session used a thousand times in one interval is written
//!   once. A crash loses the changes of the last interval at most: a session created in it is
//!   created again after the restart.
//! - **What is kept.** Pools with their frozen options, bad-init count, close reason and
//!   retired sessions (with why); live sessions with their times (as wall-clock unix ms), uses,
//!   failure counts, cookies, session data and history; the engine's counters (the stats of
//!   `/status` and `/metrics`, [`crate::engine::stats`]). Not kept: in-flight counts (their
//!   requests died with the process), leases.
//! - **Counters, off the request path.** The engine hands its counters over at start
//!   ([`PoolStore::keep_stats`]); at each interval the writer reads them (an atomic load per
//!   counter of each pool) and writes the pools whose counters changed since its last write,
//!   so a request pays nothing for them. An engine started on the state carries on from them
//!   ([`PoolStore::saved_stats`]); a crash loses the counts of the last interval at most.
//! - **Restore.** At start every pool is registered again within the pool bounds, and its
//!   sessions are put back unless Zyte API has expired them or the engine would retire them at
//!   once: older than the rotation's age limit (`retire_before_lifetime` before Zyte API's 15
//!   minutes), or unused for longer than its idle limit (2 minutes). A restored session is used
//!   with no new init; only the sessions missing from a pool's size are created. A closed pool
//!   stays closed with its reason. Then the file is rewritten to hold exactly what was restored.
//! - **Failures.** A failed write is logged once (until a write succeeds again) and its changes
//!   are kept for the next interval; requests go on from memory.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::executor::block_on;
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::Notify;

use super::record::{SessionRecord, Wall};
use super::state::{Batch, ReadBounds, StateDb, StateError, StoredPool};
use super::{
    Failure, MemoryStore, PoolConfig, PoolKind, PoolStore, Registered, Registration, Step,
};
use crate::engine::pool::{
    Choice, Lease, PoolOptions, Rotation, Session, ZYTE_IDLE, ZYTE_LIFETIME,
};
use crate::engine::stats::{SavedStats, Stats};
use crate::engine::{EngineError, PoolCounts, PoolSnapshot};
use crate::session_data::SessionData;
use crate::settings::SessionSettings;

/// How often changes are written: at most this much is lost to a crash. 100 ms keeps the
/// writes (one transaction, one fsync each) to ten a second whatever the request rate.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// What changed since the last write.
#[derive(Debug, Default)]
struct Dirty {
    pools: HashSet<String>,
    sessions: HashSet<(String, String)>,
}

/// A [`MemoryStore`] whose changes are written behind to a state file.
pub struct DurableStore {
    memory: MemoryStore,
    dirty: Mutex<Dirty>,
    db: StateDb,
    failing: AtomicBool,
    /// The counters read back at open, until the engine takes them.
    saved: Mutex<Option<SavedStats>>,
    /// The engine's counters, and what was written of them.
    kept: Mutex<Option<(Arc<Stats>, SavedStats)>>,
}

impl std::fmt::Debug for DurableStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DurableStore")
            .field("db", &self.db)
            .finish()
    }
}

/// What [`DurableStore::open`] found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Restored {
    /// Pools restored.
    pub pools: usize,
    /// Sessions restored.
    pub sessions: usize,
    /// Sessions dropped as expired.
    pub expired: usize,
    /// Whether an unreadable file was moved aside.
    pub moved_aside: bool,
}

impl DurableStore {
    /// Opens the state in `dir` (see [`super::state`]), restores it (see the module policy)
    /// and starts the writer thread.
    ///
    /// # Errors
    /// The dir cannot be created, or another process holds it.
    pub fn open(
        dir: &Path,
        settings: &SessionSettings,
    ) -> Result<(Arc<Self>, Restored), StateError> {
        let settings = settings.clone().with_deprecated_merged();
        let bounds = ReadBounds {
            max_pools: settings.max_pools,
            max_sessions: usize::try_from(settings.max_pool_size).unwrap_or(usize::MAX),
        };
        let (db, pools, aside) = StateDb::open_host(dir, bounds)?;
        let saved = db.read_stats(settings.max_pools).unwrap_or_else(|e| {
            tracing::warn!(file = %db.file().display(), "the counters are not restored: {e}");
            SavedStats::default()
        });
        let store = Self {
            memory: MemoryStore::new(&settings),
            dirty: Mutex::new(Dirty::default()),
            db,
            failing: AtomicBool::new(false),
            saved: Mutex::new(Some(saved)),
            kept: Mutex::new(None),
        };
        let mut restored = store.restore(pools, &settings);
        restored.moved_aside = aside.is_some();
        store.rewrite();
        let store = Arc::new(store);
        let weak = Arc::downgrade(&store);
        std::thread::Builder::new()
            .name("state-writer".into())
            .spawn(move || write_behind(&weak))
            .map_err(|source| StateError::Dir {
                dir: dir.to_owned(),
                source,
            })?;
        Ok((store, restored))
    }

    /// Writes the changes not written yet, now.
    pub fn flush(&self) {
        let dirty = std::mem::take(&mut *self.dirty.lock());
        let mut batch = self.batch(&dirty);
        let mut kept = self.kept.lock();
        let counted = kept.as_ref().map(|(stats, written)| {
            let now = stats.saved();
            stats_changes(written, &now, &mut batch);
            now
        });
        if batch.is_empty() {
            return;
        }
        match self.db.write(&batch) {
            Ok(()) => {
                if let (Some((_, written)), Some(now)) = (kept.as_mut(), counted) {
                    *written = now;
                }
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!(file = %self.db.file().display(), "the state file is written again");
                }
            }
            Err(e) => {
                if !self.failing.swap(true, Ordering::Relaxed) {
                    tracing::error!(file = %self.db.file().display(), "cannot write the state file ({e}); retrying");
                }
                let mut again = self.dirty.lock();
                again.pools.extend(dirty.pools);
                again.sessions.extend(dirty.sessions);
            }
        }
    }

    /// The records of what `dirty` names, read from memory now.
    fn batch(&self, dirty: &Dirty) -> Batch {
        let wall = Wall::now();
        let mut batch = Batch::default();
        for id in &dirty.pools {
            batch
                .pools
                .push((id.clone(), self.memory.export_pool(id, &wall)));
        }
        for (id, sid) in &dirty.sessions {
            let Some(session) = self.memory.export_session(id, sid) else {
                // The pool is gone: it is marked too, and its deletion takes the session.
                continue;
            };
            let record = session.map(|s| SessionRecord::of(&s, &wall));
            batch.sessions.push((id.clone(), sid.clone(), record));
        }
        batch
    }

    /// Puts `pools` back in memory (see the module policy).
    fn restore(&self, pools: Vec<StoredPool>, settings: &SessionSettings) -> Restored {
        let wall = Wall::now();
        let rotation = Rotation::from_settings(settings);
        let mut restored = Restored::default();
        for stored in pools {
            let config = PoolConfig {
                options: stored.pool.options(),
                max_bad_inits: stored.pool.max_bad_inits,
                kind: PoolKind::of(&stored.id, &settings.client_pool_prefix),
            };
            let preset = settings
                .pools
                .get(&stored.id)
                .is_some_and(|p| p.size.is_some());
            let how = if preset {
                Registration::Preset
            } else {
                Registration::Request
            };
            let size = usize::try_from(config.options.size).unwrap_or(usize::MAX);
            let registered = self.memory.register(&stored.id, config, how, wall.moment());
            if let Err(e) = block_on(registered) {
                tracing::warn!(pool = %crate::wire::truncated(&stored.id), "not restored: {e}");
                continue;
            }
            let all = stored.sessions.len();
            let live: Vec<Session> = stored
                .sessions
                .iter()
                .filter_map(|r| r.session(&wall))
                .filter(|s| !expired(s, wall.moment(), &rotation))
                .take(size)
                .collect();
            restored.pools += 1;
            restored.sessions += live.len();
            restored.expired += all - live.len();
            self.memory
                .restore_pool(&stored.id, live, &stored.pool, &wall);
        }
        restored
    }

    /// Replaces the file's content with what memory holds, in one transaction.
    fn rewrite(&self) {
        let file = self.db.file().display();
        let mut batch = Batch::default();
        match self.db.pool_ids() {
            Ok(ids) => batch.pools.extend(ids.into_iter().map(|id| (id, None))),
            Err(e) => tracing::error!(file = %file, "cannot read the state file back: {e}"),
        }
        let mut dirty = Dirty::default();
        for id in self.memory.ids() {
            for sid in self.memory.session_ids(&id) {
                dirty.sessions.insert((id.clone(), sid));
            }
            dirty.pools.insert(id);
        }
        let fresh = self.batch(&dirty);
        batch.pools.extend(fresh.pools);
        batch.sessions = fresh.sessions;
        if let Err(e) = self.db.write(&batch) {
            tracing::error!(file = %file, "cannot rewrite the state file: {e}");
        }
    }

    fn mark_pool(&self, id: &str) {
        let mut dirty = self.dirty.lock();
        if !dirty.pools.contains(id) {
            dirty.pools.insert(id.to_owned());
        }
    }

    fn mark_session(&self, id: &str, session_id: &str) {
        let key = (id.to_owned(), session_id.to_owned());
        self.dirty.lock().sessions.insert(key);
    }
}

/// Adds to `batch` the counters of `now` that differ from `written`.
fn stats_changes(written: &SavedStats, now: &SavedStats, batch: &mut Batch) {
    for (id, values) in &now.pools {
        if written.pools.get(id) != Some(values) {
            batch.stats.push((id.clone(), Some(*values)));
        }
    }
    for id in written
        .pools
        .keys()
        .filter(|id| !now.pools.contains_key(*id))
    {
        batch.stats.push((id.clone(), None));
    }
    for (name, n) in &now.global {
        if written.global.get(name) != Some(n) {
            batch.global.push((name.clone(), *n));
        }
    }
}

impl Drop for DurableStore {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Whether restored session `s` is past the rotation's age or idle limit at `now` (Zyte API's
/// own limits when the rotation has none).
fn expired(s: &Session, now: Instant, rotation: &Rotation) -> bool {
    let age = rotation.max_age.unwrap_or(ZYTE_LIFETIME);
    let idle = rotation.max_idle.unwrap_or(ZYTE_IDLE);
    now >= s.created + age || now >= s.last_use + idle
}

/// The writer thread: flushes every [`FLUSH_EVERY`] until the store is dropped.
fn write_behind(store: &Weak<DurableStore>) {
    loop {
        std::thread::sleep(FLUSH_EVERY);
        match store.upgrade() {
            Some(store) => store.flush(),
            None => return,
        }
    }
}

#[async_trait]
impl PoolStore for DurableStore {
    async fn register(
        &self,
        id: &str,
        config: PoolConfig,
        how: Registration,
        now: Instant,
    ) -> Result<Registered, EngineError> {
        let registered = self.memory.register(id, config, how, now).await?;
        self.mark_pool(id);
        for gone in &registered.evicted {
            self.mark_pool(gone);
        }
        Ok(registered)
    }

    fn ids(&self) -> Vec<String> {
        self.memory.ids()
    }

    fn pool(&self, id: &str, now: Instant) -> Option<PoolSnapshot> {
        self.memory.pool(id, now)
    }

    async fn options(&self, id: &str) -> Option<PoolOptions> {
        self.memory.options(id).await
    }

    fn waiter(&self, id: &str) -> Option<Arc<Notify>> {
        self.memory.waiter(id)
    }

    async fn closed(&self, id: &str) -> Option<String> {
        self.memory.closed(id).await
    }

    async fn close(&self, id: &str, reason: &str) -> Option<String> {
        self.mark_pool(id);
        self.memory.close(id, reason).await
    }

    async fn reopen(&self, id: &str) -> bool {
        self.mark_pool(id);
        self.memory.reopen(id).await
    }

    fn reopen_all(&self) {
        for id in self.memory.ids() {
            self.mark_pool(&id);
        }
        self.memory.reopen_all();
    }

    async fn lease(
        &self,
        id: &str,
        now: Instant,
        rotation: &Rotation,
        retire: bool,
        u: f64,
    ) -> Option<Step> {
        let step = self.memory.lease(id, now, rotation, retire, u).await?;
        if let Choice::Ready(lease) = &step.choice {
            self.mark_session(id, &lease.session_id);
        }
        if !step.retired.is_empty() {
            self.mark_pool(id);
            for sid in &step.retired {
                self.mark_session(id, sid);
            }
        }
        Some(step)
    }

    async fn add(
        &self,
        id: &str,
        session: Session,
        first_delay: Duration,
        for_use: bool,
    ) -> Option<Lease> {
        let sid = session.id.clone();
        let lease = self.memory.add(id, session, first_delay, for_use).await?;
        self.mark_pool(id);
        self.mark_session(id, &sid);
        Some(lease)
    }

    async fn release(&self, id: &str, lease: &Lease) {
        self.memory.release(id, lease).await;
        // The request may have changed the session's data.
        self.mark_session(id, &lease.session_id);
    }

    async fn give_back(&self, id: &str) {
        self.memory.give_back(id).await;
    }

    fn saved_stats(&self) -> Option<SavedStats> {
        self.saved.lock().take()
    }

    fn keep_stats(&self, stats: Arc<Stats>) {
        // What the file holds now: the counters restored from it, unless they were not taken.
        let written = self.saved.lock().clone().unwrap_or_else(|| stats.saved());
        *self.kept.lock() = Some((stats, written));
    }

    async fn session_data(&self, id: &str, session_id: &str) -> Option<SessionData> {
        self.mark_session(id, session_id);
        self.memory.session_data(id, session_id).await
    }

    async fn merge_cookies(&self, id: &str, session_id: &str, cookies: Vec<Value>) {
        self.memory.merge_cookies(id, session_id, cookies).await;
        self.mark_session(id, session_id);
    }

    async fn count_failure(
        &self,
        id: &str,
        session_id: &str,
        failure: Failure,
        max: u32,
        now: Instant,
    ) -> bool {
        let replace = self
            .memory
            .count_failure(id, session_id, failure, max, now)
            .await;
        self.mark_session(id, session_id);
        replace
    }

    async fn retire(&self, id: &str, session_id: &str, reason: &str, now: Instant) -> bool {
        let retired = self.memory.retire(id, session_id, reason, now).await;
        self.mark_pool(id);
        self.mark_session(id, session_id);
        retired
    }

    async fn bad_init(&self, id: &str) -> Option<(u32, bool)> {
        self.mark_pool(id);
        self.memory.bad_init(id).await
    }

    async fn bad_inits(&self, id: &str) -> Option<u32> {
        self.memory.bad_inits(id).await
    }

    fn pools(&self, now: Instant) -> Vec<PoolSnapshot> {
        self.memory.pools(now)
    }

    fn pool_bounded(
        &self,
        id: &str,
        now: Instant,
        max_sessions: usize,
    ) -> Option<(PoolCounts, PoolSnapshot)> {
        self.memory.pool_bounded(id, now, max_sessions)
    }

    fn counts(&self, now: Instant) -> Vec<PoolCounts> {
        self.memory.counts(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> PoolConfig {
        PoolConfig {
            options: PoolOptions {
                size: 2,
                delay: 0.0,
                randomize_delay: false,
            },
            max_bad_inits: 8,
            kind: PoolKind::Named,
        }
    }

    const ROTATION: Rotation = Rotation {
        max_concurrency: 1,
        max_age: None,
        max_idle: None,
    };

    fn session(id: &str, age: Duration) -> Session {
        let data = SessionData::new();
        data.set("token", id).expect("set");
        Session::new(id.into(), Instant::now() - age, data, vec![])
    }

    /// A store in `dir` with pool `site` of two sessions, `old` of them created `age` ago.
    fn fill(dir: &Path, age: Duration, old: usize) {
        let (store, _) = DurableStore::open(dir, &SessionSettings::default()).expect("open");
        let now = Instant::now();
        block_on(store.register("site", config(), Registration::Request, now)).expect("register");
        block_on(store.register("shut", config(), Registration::Request, now)).expect("register");
        for (i, id) in ["s1", "s2"].iter().enumerate() {
            let age = if i < old { age } else { Duration::ZERO };
            block_on(store.add("site", session(id, age), Duration::ZERO, false));
        }
        block_on(store.close("shut", "bad_session_inits"));
        block_on(store.lease("site", now, &ROTATION, true, 0.0));
    }

    #[test]
    fn issue_15_sessions_and_closed_pools_survive_a_restart_with_no_new_init() {
        let dir = tempfile::tempdir().expect("tempdir");
        fill(dir.path(), Duration::from_secs(1), 2);
        let (store, restored) =
            DurableStore::open(dir.path(), &SessionSettings::default()).expect("reopen");
        assert_eq!(
            (restored.pools, restored.sessions, restored.expired),
            (2, 2, 0)
        );
        let now = Instant::now();
        let step = block_on(store.lease("site", now, &ROTATION, true, 0.0)).expect("pool");
        assert!(!step.create, "a restored pool creates no session");
        let Choice::Ready(lease) = step.choice else {
            panic!("a restored session is used: {:?}", step.choice);
        };
        let data = block_on(store.session_data("site", &lease.session_id)).expect("data");
        assert_eq!(data.get("token"), Some(lease.session_id.clone()));
        let closed = block_on(store.closed("shut"));
        assert_eq!(closed.as_deref(), Some("bad_session_inits"));
        let pool = store.pool("site", now).expect("pool");
        assert!(pool.sessions.iter().all(|s| s.in_flight <= 1));
    }

    #[test]
    fn issue_15_expired_sessions_are_dropped_at_restore_and_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        fill(dir.path(), ZYTE_LIFETIME + Duration::from_secs(1), 1);
        let (store, restored) =
            DurableStore::open(dir.path(), &SessionSettings::default()).expect("reopen");
        assert_eq!((restored.sessions, restored.expired), (1, 1));
        let step =
            block_on(store.lease("site", Instant::now(), &ROTATION, true, 0.0)).expect("pool");
        assert!(step.create, "the expired session's place is created again");
        drop(store);
        let (_, again) =
            DurableStore::open(dir.path(), &SessionSettings::default()).expect("reopen");
        assert_eq!(
            (again.sessions, again.expired),
            (1, 0),
            "the file was rewritten"
        );
    }

    #[test]
    fn issue_15_counters_are_written_behind_and_restored() {
        use crate::engine::stats::SessionStat;
        let dir = tempfile::tempdir().expect("tempdir");
        let settings = SessionSettings::default();
        {
            let (store, _) = DurableStore::open(dir.path(), &settings).expect("open");
            let stats = Arc::new(Stats::default());
            assert_eq!(store.saved_stats(), Some(SavedStats::default()));
            store.keep_stats(stats.clone());
            stats.inc("a.com", SessionStat::UseCheckPassed);
            stats.inc("gone.com", SessionStat::UseFailed);
            stats.inc_global("retry/count");
            store.flush();
            stats.forget("gone.com");
            stats.inc("a.com", SessionStat::UseCheckPassed);
            store.flush();
        }
        let (store, _) = DurableStore::open(dir.path(), &settings).expect("reopen");
        let saved = store.saved_stats().expect("saved");
        assert_eq!(saved.pools.len(), 2, "{saved:?}");
        assert_eq!(
            saved.pools["a.com"][SessionStat::UseCheckPassed as usize],
            2
        );
        let evicted = &saved.pools[crate::engine::stats::EVICTED];
        assert_eq!(evicted[SessionStat::UseFailed as usize], 1);
        assert_eq!(saved.global["retry/count"], 1);
        assert_eq!(store.saved_stats(), None, "taken once");
    }
}
