//! The state file: one [`redb`] database, `state.redb` in the state dir, holding a record per
//! pool and per live session ([`super::record`]).
//!
//! # Policy
//!
//! - **One process per state dir.** redb locks the file while a database is open; a second
//!   host (or `state show` while a host runs) is refused with [`StateError::Locked`], naming
//!   the dir and the ways out (another `--state-dir`, or `--no-state`).
//! - **Corrupt or foreign file.** A host that cannot read the file (not a redb file, a
//!   redb file of another program or format version, a damaged page) moves it aside as
//!   `state.redb.corrupt-<unix secs>`, says so in the log, and starts empty; it never stops
//!   for it. `state show` and `state clear` report it and leave it alone.
//! - **Bounded reads.** Records past the bounds of [`super::record`] are skipped, and at most
//!   `max_pools` pools of `max_pool_size` sessions are read; at most `max_pools` + 1 pools'
//!   counters (the `(evicted)` bucket), of the known keys only, and [`MAX_GLOBAL_STATS`]
//!   counters of no pool, named in at most [`MAX_STAT_NAME`] bytes.

use std::path::{Path, PathBuf};

use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition, TableHandle};

use std::collections::BTreeMap;

use super::record::{MAX_RECORD_BYTES, PoolRecord, SessionRecord};
use crate::engine::stats::{POOL_KEYS, SavedStats, SessionStat};
use crate::wire;

/// The state file's name in the state dir.
pub const STATE_FILE: &str = "state.redb";
/// What the `meta` table says under `format`: a file without it is not ours.
const FORMAT: &str = "session-host state 1";

const META: TableDefinition<&str, &str> = TableDefinition::new("meta");
/// Every table of a state file (files of an earlier version lack the last two).
const TABLES: [&str; 5] = ["meta", "pools", "sessions", "stats", "global_stats"];
const POOLS: TableDefinition<&str, &[u8]> = TableDefinition::new("pools");
const SESSIONS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("sessions");
/// Per pool: its counters, a JSON object by key (`use/check-passed`), issue 15.
const STATS: TableDefinition<&str, &[u8]> = TableDefinition::new("stats");
/// The counters of no pool, by full name.
const GLOBAL_STATS: TableDefinition<&str, u64> = TableDefinition::new("global_stats");

/// Counters of no pool read back: the host counts a handful (`use/disabled`, `retry/count`,
/// `retry/max_reached`, a `retry/reason_count/…` per retry reason); more were not written by it.
pub const MAX_GLOBAL_STATS: usize = 64;
/// The longest counter name read back.
pub const MAX_STAT_NAME: usize = 128;

/// What went wrong with the state dir.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// Another process holds the state file.
    #[error(
        "the state dir {} is in use by another session-host process; stop it, or give this one \
         another --state-dir, or --no-state",
        .dir.display()
    )]
    Locked {
        /// The state dir.
        dir: PathBuf,
    },
    /// The dir holds no state file.
    #[error("no state in {} (no {STATE_FILE} there)", .dir.display())]
    Missing {
        /// The state dir.
        dir: PathBuf,
    },
    /// The state dir cannot be created or the file moved.
    #[error("cannot use the state dir {}: {source}", .dir.display())]
    Dir {
        /// The state dir.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a state file of this host, or is damaged.
    #[error("the state file {} is unreadable: {reason}", .file.display())]
    Corrupt {
        /// The state file.
        file: PathBuf,
        /// Why.
        reason: String,
    },
}

/// The default state dir: `$XDG_STATE_HOME/session-host`, else
/// `$HOME/.local/state/session-host` (the XDG base directory spec); `None` without either.
pub fn default_dir() -> Option<PathBuf> {
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    let base = std::env::var_os("XDG_STATE_HOME")
        .and_then(absolute)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/state")))?;
    Some(base.join("session-host"))
}

/// A pool as read back, bounded.
#[derive(Debug, Clone)]
pub struct StoredPool {
    /// Its id.
    pub id: String,
    /// Its record.
    pub pool: PoolRecord,
    /// Its live sessions' records.
    pub sessions: Vec<SessionRecord>,
}

/// Changes to write in one transaction: `None` deletes (a pool with its sessions).
#[derive(Debug, Default)]
pub struct Batch {
    /// Pool records.
    pub pools: Vec<(String, Option<PoolRecord>)>,
    /// Session records, by pool and session id.
    pub sessions: Vec<(String, String, Option<SessionRecord>)>,
    /// Pools' counters (`None` deletes).
    pub stats: Vec<(String, Option<[u64; SessionStat::COUNT]>)>,
    /// Counters of no pool.
    pub global: Vec<(String, u64)>,
}

impl Batch {
    /// Nothing to write.
    pub fn is_empty(&self) -> bool {
        self.pools.is_empty()
            && self.sessions.is_empty()
            && self.stats.is_empty()
            && self.global.is_empty()
    }
}

/// How much is read back.
#[derive(Debug, Clone, Copy)]
pub struct ReadBounds {
    /// Pools.
    pub max_pools: usize,
    /// Sessions per pool.
    pub max_sessions: usize,
}

/// An open state file.
pub struct StateDb {
    db: Database,
    file: PathBuf,
}

impl std::fmt::Debug for StateDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateDb").field("file", &self.file).finish()
    }
}

/// Any redb error, as text.
fn text(e: impl Into<redb::Error>) -> String {
    e.into().to_string()
}

impl StateDb {
    /// Opens (creating it and its dir) the state of a host in `dir`, and reads it back. A
    /// corrupt or foreign file is moved aside (see the module policy); the second value says
    /// where, when it was.
    ///
    /// # Errors
    /// The dir cannot be created, or another process holds the file.
    pub fn open_host(
        dir: &Path,
        bounds: ReadBounds,
    ) -> Result<(Self, Vec<StoredPool>, Option<PathBuf>), StateError> {
        std::fs::create_dir_all(dir).map_err(|source| StateError::Dir {
            dir: dir.to_owned(),
            source,
        })?;
        let opened = Self::open(dir, true).and_then(|db| {
            let pools = db.read(bounds)?;
            Ok((db, pools))
        });
        match opened {
            Ok((db, pools)) => Ok((db, pools, None)),
            Err(StateError::Corrupt { file, reason }) => {
                let aside = set_aside(dir, &file)?;
                tracing::error!(
                    file = %file.display(),
                    moved_to = %aside.display(),
                    "the state file is unreadable ({reason}); moved aside, starting with no sessions"
                );
                Ok((Self::open(dir, true)?, Vec::new(), Some(aside)))
            }
            Err(e) => Err(e),
        }
    }

    /// Opens the state in `dir` as it is, for the state commands.
    ///
    /// # Errors
    /// No state there, another process holds it, or it is unreadable.
    pub fn open_existing(dir: &Path) -> Result<Self, StateError> {
        if !dir.join(STATE_FILE).is_file() {
            return Err(StateError::Missing {
                dir: dir.to_owned(),
            });
        }
        Self::open(dir, false)
    }

    fn open(dir: &Path, create: bool) -> Result<Self, StateError> {
        let file = dir.join(STATE_FILE);
        let corrupt = |reason: String| StateError::Corrupt {
            file: file.clone(),
            reason,
        };
        let db = match Database::create(&file) {
            Ok(db) => db,
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                return Err(StateError::Locked {
                    dir: dir.to_owned(),
                });
            }
            Err(e) => return Err(corrupt(text(e))),
        };
        let db = Self {
            db,
            file: file.clone(),
        };
        db.check_format(create).map_err(corrupt)?;
        Ok(db)
    }

    /// Checks the format mark and the tables' types; marks a new, empty file as ours (when
    /// `create`).
    fn check_format(&self, create: bool) -> Result<(), String> {
        let tx = self.db.begin_write().map_err(text)?;
        {
            let foreign = tx
                .list_tables()
                .map_err(text)?
                .any(|t| !TABLES.contains(&t.name()));
            let mut meta = tx.open_table(META).map_err(text)?;
            let format = meta
                .get("format")
                .map_err(text)?
                .map(|v| v.value().to_owned());
            match format.as_deref() {
                Some(FORMAT) => {}
                None if create && !foreign && meta.is_empty().map_err(text)? => {
                    meta.insert("format", FORMAT).map_err(text)?;
                }
                Some(other) => return Err(format!("its format is {other:?}, not {FORMAT:?}")),
                None => return Err("it is not a session-host state file".into()),
            }
            tx.open_table(POOLS).map_err(text)?;
            tx.open_table(SESSIONS).map_err(text)?;
            tx.open_table(STATS).map_err(text)?;
            tx.open_table(GLOBAL_STATS).map_err(text)?;
        }
        tx.commit().map_err(text)
    }

    /// The file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Every pool, within `bounds` (see the module policy), sorted by id.
    ///
    /// # Errors
    /// The file is damaged.
    pub fn read(&self, bounds: ReadBounds) -> Result<Vec<StoredPool>, StateError> {
        self.read_inner(bounds)
            .map_err(|reason| StateError::Corrupt {
                file: self.file.clone(),
                reason,
            })
    }

    fn read_inner(&self, bounds: ReadBounds) -> Result<Vec<StoredPool>, String> {
        let tx = self.db.begin_read().map_err(text)?;
        let pools = tx.open_table(POOLS).map_err(text)?;
        let sessions = tx.open_table(SESSIONS).map_err(text)?;
        let mut out = Vec::new();
        for item in pools.iter().map_err(text)? {
            if out.len() >= bounds.max_pools {
                tracing::warn!(
                    max = bounds.max_pools,
                    "more pools in the state file than the pool bounds; the rest are not read"
                );
                break;
            }
            let (id, value) = item.map_err(text)?;
            let id = id.value();
            let Some(pool) = parse::<PoolRecord>(id, value.value()) else {
                continue;
            };
            if id.len() > wire::MAX_POOL_ID {
                continue;
            }
            let mut records = Vec::new();
            for item in sessions.range((id, "")..).map_err(text)? {
                let (key, value) = item.map_err(text)?;
                let (pool_id, _) = key.value();
                if pool_id != id || records.len() >= bounds.max_sessions {
                    break;
                }
                records.extend(parse::<SessionRecord>(id, value.value()));
            }
            out.push(StoredPool {
                id: id.to_owned(),
                pool,
                sessions: records,
            });
        }
        Ok(out)
    }

    /// Writes `batch` in one transaction.
    ///
    /// # Errors
    /// The write failed (the file is as it was before).
    pub fn write(&self, batch: &Batch) -> Result<(), String> {
        let tx = self.db.begin_write().map_err(text)?;
        {
            let mut pools = tx.open_table(POOLS).map_err(text)?;
            let mut sessions = tx.open_table(SESSIONS).map_err(text)?;
            for (id, record) in &batch.pools {
                match record {
                    Some(r) => drop(
                        pools
                            .insert(id.as_str(), bytes(r).as_slice())
                            .map_err(text)?,
                    ),
                    None => {
                        pools.remove(id.as_str()).map_err(text)?;
                        remove_sessions(&mut sessions, id)?;
                    }
                }
            }
            for (id, sid, record) in &batch.sessions {
                let key = (id.as_str(), sid.as_str());
                match record {
                    Some(r) => drop(sessions.insert(key, bytes(r).as_slice()).map_err(text)?),
                    None => drop(sessions.remove(key).map_err(text)?),
                }
            }
            write_stats(&tx, batch)?;
        }
        tx.commit().map_err(text)
    }

    /// The counters kept, within the bounds of the module policy (`max_pools` pools).
    ///
    /// # Errors
    /// The file is damaged.
    pub fn read_stats(&self, max_pools: usize) -> Result<SavedStats, String> {
        let tx = self.db.begin_read().map_err(text)?;
        let mut saved = SavedStats::default();
        for item in tx.open_table(STATS).map_err(text)?.iter().map_err(text)? {
            if saved.pools.len() > max_pools {
                break;
            }
            let (id, value) = item.map_err(text)?;
            let Some(keys) = parse::<BTreeMap<String, u64>>(id.value(), value.value()) else {
                continue;
            };
            if id.value().len() <= wire::MAX_POOL_ID {
                saved.pools.insert(id.value().to_owned(), indexed(&keys));
            }
        }
        let global = tx.open_table(GLOBAL_STATS).map_err(text)?;
        for item in global.iter().map_err(text)?.take(MAX_GLOBAL_STATS) {
            let (name, n) = item.map_err(text)?;
            if name.value().len() <= MAX_STAT_NAME {
                saved.global.insert(name.value().to_owned(), n.value());
            }
        }
        Ok(saved)
    }

    /// Every pool id in the file.
    ///
    /// # Errors
    /// The file is damaged.
    pub fn pool_ids(&self) -> Result<Vec<String>, String> {
        let tx = self.db.begin_read().map_err(text)?;
        let pools = tx.open_table(POOLS).map_err(text)?;
        let mut ids = Vec::new();
        for item in pools.iter().map_err(text)? {
            ids.push(item.map_err(text)?.0.value().to_owned());
        }
        Ok(ids)
    }

    /// Deletes pool `id` (with its sessions), or every pool; returns the pools deleted.
    ///
    /// # Errors
    /// The write failed.
    pub fn clear(&self, id: Option<&str>) -> Result<Vec<String>, String> {
        let ids: Vec<String> = self
            .pool_ids()?
            .into_iter()
            .filter(|p| id.is_none_or(|id| id == p))
            .collect();
        let batch = Batch {
            pools: ids.iter().map(|id| (id.clone(), None)).collect(),
            stats: ids.iter().map(|id| (id.clone(), None)).collect(),
            ..Batch::default()
        };
        self.write(&batch)?;
        if id.is_none() {
            self.clear_stats()?;
        }
        Ok(ids)
    }

    /// Deletes every counter (`state clear` of every pool).
    fn clear_stats(&self) -> Result<(), String> {
        let tx = self.db.begin_write().map_err(text)?;
        tx.delete_table(STATS).map_err(text)?;
        tx.delete_table(GLOBAL_STATS).map_err(text)?;
        tx.open_table(STATS).map_err(text)?;
        tx.open_table(GLOBAL_STATS).map_err(text)?;
        tx.commit().map_err(text)
    }
}

/// Writes the counters of `batch` in `tx`.
fn write_stats(tx: &redb::WriteTransaction, batch: &Batch) -> Result<(), String> {
    let mut stats = tx.open_table(STATS).map_err(text)?;
    for (id, values) in &batch.stats {
        match values {
            Some(values) => drop(
                stats
                    .insert(id.as_str(), bytes(&keyed(values)).as_slice())
                    .map_err(text)?,
            ),
            None => drop(stats.remove(id.as_str()).map_err(text)?),
        }
    }
    let mut global = tx.open_table(GLOBAL_STATS).map_err(text)?;
    for (name, n) in &batch.global {
        global.insert(name.as_str(), n).map_err(text)?;
    }
    Ok(())
}

/// A pool's counters by key, the ones not zero.
fn keyed(values: &[u64; SessionStat::COUNT]) -> BTreeMap<&'static str, u64> {
    let pairs = POOL_KEYS.iter().zip(values).filter(|(_, n)| **n > 0);
    pairs.map(|(k, n)| (*k, *n)).collect()
}

/// A pool's counters by [`SessionStat`] index; unknown keys are ignored.
fn indexed(keys: &BTreeMap<String, u64>) -> [u64; SessionStat::COUNT] {
    std::array::from_fn(|i| keys.get(POOL_KEYS[i]).copied().unwrap_or(0))
}

fn bytes<T: serde::Serialize>(record: &T) -> Vec<u8> {
    serde_json::to_vec(record).unwrap_or_default()
}

/// A record read back, or `None` (logged) when it is too large or not one of ours.
fn parse<T: serde::de::DeserializeOwned>(pool: &str, value: &[u8]) -> Option<T> {
    let pool = wire::truncated(pool);
    if value.len() > MAX_RECORD_BYTES {
        tracing::warn!(%pool, bytes = value.len(), "a state record above {MAX_RECORD_BYTES} bytes skipped");
        return None;
    }
    serde_json::from_slice(value)
        .inspect_err(|e| tracing::warn!(%pool, "an unreadable state record skipped: {e}"))
        .ok()
}

fn remove_sessions(
    sessions: &mut redb::Table<(&str, &str), &[u8]>,
    id: &str,
) -> Result<(), String> {
    let mut keys = Vec::new();
    for item in sessions.range((id, "")..).map_err(text)? {
        let (key, _) = item.map_err(text)?;
        let (pool, sid) = key.value();
        if pool != id {
            break;
        }
        keys.push(sid.to_owned());
    }
    for sid in keys {
        sessions.remove((id, sid.as_str())).map_err(text)?;
    }
    Ok(())
}

/// Moves `file` to `file.corrupt-<unix secs>` (with a counter if that exists).
fn set_aside(dir: &Path, file: &Path) -> Result<PathBuf, StateError> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let name = |n: u32| match n {
        0 => format!("{STATE_FILE}.corrupt-{secs}"),
        n => format!("{STATE_FILE}.corrupt-{secs}-{n}"),
    };
    let mut n = 0;
    while dir.join(name(n)).exists() {
        n += 1;
    }
    let aside = dir.join(name(n));
    std::fs::rename(file, &aside).map_err(|source| StateError::Dir {
        dir: dir.to_owned(),
        source,
    })?;
    Ok(aside)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::record::{SessionRecord, Wall};

    const BOUNDS: ReadBounds = ReadBounds {
        max_pools: 10,
        max_sessions: 2,
    };

    fn pool() -> PoolRecord {
        PoolRecord {
            size: 2,
            delay: 1.0,
            randomize_delay: false,
            max_bad_inits: 8,
            bad_inits: 0,
            closed: Some("bad_session_inits".into()),
            retired: vec![],
        }
    }

    fn session(id: &str) -> SessionRecord {
        let wall = Wall::now();
        let s = crate::engine::pool::Session::new(
            id.into(),
            std::time::Instant::now(),
            crate::session_data::SessionData::new(),
            vec![],
        );
        SessionRecord::of(&s, &wall)
    }

    #[test]
    fn writes_read_back_bounded_and_clear() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (db, pools, aside) = StateDb::open_host(dir.path(), BOUNDS).expect("open");
        assert!(pools.is_empty() && aside.is_none());
        let batch = Batch {
            pools: vec![("a".into(), Some(pool())), ("b".into(), Some(pool()))],
            sessions: ["s1", "s2", "s3"]
                .iter()
                .map(|s| ("a".to_owned(), (*s).to_owned(), Some(session(s))))
                .collect(),
            ..Batch::default()
        };
        db.write(&batch).expect("write");
        let pools = db.read(BOUNDS).expect("read");
        assert_eq!(pools.len(), 2);
        assert_eq!(pools[0].sessions.len(), 2, "bounded by max_sessions");
        assert_eq!(pools[0].pool.closed.as_deref(), Some("bad_session_inits"));
        assert_eq!(db.clear(Some("a")).expect("clear"), vec!["a".to_owned()]);
        let pools = db.read(BOUNDS).expect("read");
        assert_eq!(
            pools.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
            ["b"]
        );
    }

    #[test]
    fn issue_15_a_second_open_of_one_state_dir_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let _first = StateDb::open_host(dir.path(), BOUNDS).expect("open");
        let second = StateDb::open_host(dir.path(), BOUNDS).expect_err("refused");
        assert!(matches!(second, StateError::Locked { .. }), "{second}");
        assert!(second.to_string().contains("--no-state"), "{second}");
        let show = StateDb::open_existing(dir.path()).expect_err("refused");
        assert!(matches!(show, StateError::Locked { .. }), "{show}");
    }

    #[test]
    fn issue_15_a_corrupt_state_file_is_moved_aside_and_the_host_starts_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join(STATE_FILE);
        std::fs::write(&file, vec![0x5a; 64 * 1024]).expect("write");
        let shown = StateDb::open_existing(dir.path()).expect_err("unreadable");
        assert!(matches!(shown, StateError::Corrupt { .. }), "{shown}");
        let (_db, pools, aside) = StateDb::open_host(dir.path(), BOUNDS).expect("starts");
        let aside = aside.expect("moved aside");
        assert!(pools.is_empty());
        assert!(aside.is_file() && file.is_file());
        let name = aside
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        assert!(name.starts_with("state.redb.corrupt-"), "{name}");
    }

    #[test]
    fn issue_15_a_foreign_redb_file_is_moved_aside() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let db = Database::create(dir.path().join(STATE_FILE)).expect("create");
            let tx = db.begin_write().expect("tx");
            let def: TableDefinition<u64, u64> = TableDefinition::new("pools");
            tx.open_table(def)
                .expect("table")
                .insert(1, 2)
                .expect("insert");
            tx.commit().expect("commit");
        }
        let (_db, _, aside) = StateDb::open_host(dir.path(), BOUNDS).expect("starts");
        assert!(aside.is_some());
    }
}
