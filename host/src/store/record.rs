//! What the durable store writes: plain serde records of pools and sessions, their times as
//! wall-clock unix milliseconds (an `Instant` means nothing to another process).
//!
//! # Policy: a state file is untrusted input
//!
//! Anyone who can write the state dir can write these records, so reading one back is bounded
//! by the limits the store already keeps: a record of at most [`MAX_RECORD_BYTES`], ids of at
//! most [`wire::MAX_POOL_ID`] bytes, texts cut to [`wire::MAX_STORED_TEXT`], at most
//! [`HISTORY`] events and retired sessions, session data within the [`crate::session_data`]
//! limits. A record past a bound is skipped (and logged), never trusted.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engine::pool::{Event, HISTORY, PoolOptions, Retired, Session};
use crate::session_data::SessionData;
use crate::wire;

/// Largest record read back: a session with full session data (64 keys × 64 KiB) and its
/// cookies fits; a larger one was not written by this host.
pub const MAX_RECORD_BYTES: usize = 8 << 20;
/// Cookies kept per restored session (a jar larger than this was not written by this host).
pub const MAX_COOKIES: usize = 1024;

/// A pool, without its live sessions (each has a record of its own).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolRecord {
    /// Frozen size.
    pub size: u32,
    /// Frozen delay, seconds.
    pub delay: f64,
    /// Frozen randomisation.
    pub randomize_delay: bool,
    /// Consecutive failed inits that close it.
    pub max_bad_inits: u32,
    /// Consecutive failed inits.
    pub bad_inits: u32,
    /// The close reason, when closed.
    pub closed: Option<String>,
    /// Recently retired sessions (no data, no cookies), each with why.
    pub retired: Vec<RetiredRecord>,
}

/// A retired session, as kept for the status endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetiredRecord {
    /// The session.
    pub session: SessionRecord,
    /// Why it was retired.
    pub reason: String,
}

/// A live session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Session id.
    pub id: String,
    /// When its init passed, unix ms.
    pub created: i64,
    /// Its last use, unix ms.
    pub last_use: i64,
    /// Its earliest next use, unix ms.
    pub next_use: i64,
    /// Uses so far.
    pub uses: u64,
    /// Failed checks.
    pub check_failures: u32,
    /// 520/521 answers.
    pub errors: u32,
    /// Cookie jar (cookie mode).
    #[serde(default)]
    pub cookies: Vec<Value>,
    /// Guest data.
    #[serde(default)]
    pub data: Vec<(String, String)>,
    /// Its last events: (unix ms, what).
    #[serde(default)]
    pub history: Vec<(i64, String)>,
}

/// One moment read on both clocks, to convert between them.
#[derive(Debug, Clone, Copy)]
pub struct Wall {
    instant: Instant,
    unix_ms: i64,
}

impl Wall {
    /// Now.
    pub fn now() -> Self {
        let since = SystemTime::now().duration_since(UNIX_EPOCH);
        let unix_ms = since.map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Self {
            instant: Instant::now(),
            unix_ms,
        }
    }

    /// The instant read.
    pub fn moment(&self) -> Instant {
        self.instant
    }

    /// The unix time of `at`.
    pub fn unix(&self, at: Instant) -> i64 {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        match at.checked_duration_since(self.instant) {
            Some(later) => self.unix_ms.saturating_add(ms(later)),
            None => self.unix_ms.saturating_sub(ms(self.instant - at)),
        }
    }

    /// The instant of unix time `ms`; `None` when it is before this process's monotonic clock
    /// began. A time in the future (a clock set back) is taken as now.
    pub fn instant(&self, ms: i64) -> Option<Instant> {
        let ago = u64::try_from(self.unix_ms.saturating_sub(ms)).unwrap_or(0);
        self.instant.checked_sub(Duration::from_millis(ago))
    }

    /// Milliseconds since unix time `ms` (0 for a future time).
    pub fn age_ms(&self, ms: i64) -> u64 {
        u64::try_from(self.unix_ms.saturating_sub(ms)).unwrap_or(0)
    }
}

impl PoolRecord {
    /// The record of a pool's state.
    pub fn of(
        options: &PoolOptions,
        max_bad_inits: u32,
        bad_inits: u32,
        closed: Option<&str>,
        retired: &VecDeque<Retired>,
        wall: &Wall,
    ) -> Self {
        Self {
            size: options.size,
            delay: options.delay,
            randomize_delay: options.randomize_delay,
            max_bad_inits,
            bad_inits,
            closed: closed.map(str::to_owned),
            retired: retired
                .iter()
                .map(|r| RetiredRecord {
                    session: SessionRecord::of(&r.session, wall),
                    reason: r.reason.clone(),
                })
                .collect(),
        }
    }

    /// Its frozen options.
    pub fn options(&self) -> PoolOptions {
        PoolOptions {
            size: self.size,
            delay: if self.delay.is_finite() {
                self.delay.max(0.0)
            } else {
                0.0
            },
            randomize_delay: self.randomize_delay,
        }
    }

    /// Its retired sessions, bounded, those too old for this clock dropped.
    pub fn retired(&self, wall: &Wall) -> VecDeque<Retired> {
        let from = self.retired.len().saturating_sub(HISTORY);
        self.retired[from..]
            .iter()
            .filter_map(|r| {
                Some(Retired {
                    session: r.session.session(wall)?,
                    reason: wire::truncated(&r.reason),
                })
            })
            .collect()
    }
}

impl SessionRecord {
    /// The record of `s` (its in-flight count is not kept: its holders die with the process).
    pub fn of(s: &Session, wall: &Wall) -> Self {
        Self {
            id: s.id.clone(),
            created: wall.unix(s.created),
            last_use: wall.unix(s.last_use),
            next_use: wall.unix(s.next_use),
            uses: s.uses,
            check_failures: s.check_failures,
            errors: s.errors,
            cookies: s.cookies.clone(),
            data: s.data.snapshot(),
            history: s
                .history
                .iter()
                .map(|e| (wall.unix(e.at), e.what.clone()))
                .collect(),
        }
    }

    /// The session back, bounded (see the module policy), with nothing in flight; `None` when
    /// its id is too long or its creation precedes this process's clock.
    pub fn session(&self, wall: &Wall) -> Option<Session> {
        if self.id.is_empty() || self.id.len() > wire::MAX_STORED_TEXT {
            return None;
        }
        let created = wall.instant(self.created)?;
        let at = |ms: i64| wall.instant(ms).unwrap_or(created).max(created);
        let data = SessionData::new();
        for (key, value) in self.data.iter().take(crate::session_data::MAX_KEYS) {
            // A key or value past the limits is refused by `set`, and so skipped.
            let _ = data.set(key, value);
        }
        let from = self.history.len().saturating_sub(HISTORY);
        let history = self.history[from..]
            .iter()
            .map(|(ms, what)| Event {
                at: at(*ms),
                what: wire::truncated(what),
            })
            .collect();
        Some(Session {
            id: self.id.clone(),
            created,
            last_use: at(self.last_use),
            next_use: at(self.next_use),
            in_flight: 0,
            uses: self.uses,
            check_failures: self.check_failures,
            errors: self.errors,
            cookies: self.cookies.iter().take(MAX_COOKIES).cloned().collect(),
            data,
            history,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_survives_the_round_trip_with_nothing_in_flight() {
        let wall = Wall::now();
        let data = SessionData::new();
        data.set("token", "abc").expect("set");
        let mut s = Session::new(
            "s1".into(),
            wall.instant - Duration::from_secs(5),
            data,
            vec![],
        );
        s.in_flight = 3;
        s.uses = 7;
        let back = SessionRecord::of(&s, &wall)
            .session(&wall)
            .expect("restored");
        assert_eq!((back.id.as_str(), back.in_flight, back.uses), ("s1", 0, 7));
        assert_eq!(back.data.get("token").as_deref(), Some("abc"));
        let drift = back.created.max(s.created) - back.created.min(s.created);
        assert!(drift <= Duration::from_millis(1), "{drift:?}");
        assert_eq!(back.history.len(), 1);
    }

    #[test]
    fn issue_15_an_oversized_record_is_bounded_on_read() {
        let wall = Wall::now();
        let mut record = SessionRecord::of(
            &Session::new("s".into(), wall.instant, SessionData::new(), vec![]),
            &wall,
        );
        record.history = (0..10_000)
            .map(|i| (wall.unix_ms, format!("e{i}")))
            .collect();
        record.data = (0..1000).map(|i| (format!("k{i}"), "v".into())).collect();
        record.cookies = vec![Value::Null; 5000];
        let back = record.session(&wall).expect("restored");
        assert_eq!(back.history.len(), HISTORY);
        assert_eq!(back.data.keys().len(), crate::session_data::MAX_KEYS);
        assert_eq!(back.cookies.len(), MAX_COOKIES);
        record.id = "x".repeat(wire::MAX_STORED_TEXT + 1);
        assert!(record.session(&wall).is_none());
    }
}
