//! Introspection: what the emulator saw, for tests to assert server-side facts.
//!
//! `GET /__emulator/stats` returns a [`StatsSnapshot`] as JSON; [`crate::RunningEmulator::stats`]
//! returns the same value in-process. Counted:
//! - every request to `/v1/extract`, by HTTP status and by problem type, in total and per site
//!   (the request URL's host; requests rejected before the URL was known count only in total);
//! - per site: sessions created, session uses, bans (520s) and session expiries;
//! - every session the emulator still remembers (active, or expired within its tombstone).
//!
//! Connection resets are counted under status 0. `POST /__emulator/reset` clears everything.

use std::collections::{BTreeMap, HashMap};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::sessions::{ExpiryReason, SessionKind, SiteSessionCounters};

/// Request counts by outcome.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestCounts {
    /// All requests.
    pub total: u64,
    /// By HTTP status of the emulator's response (0 = connection reset).
    pub by_status: BTreeMap<u16, u64>,
    /// By problem `type`, for error responses.
    pub by_problem: BTreeMap<String, u64>,
}

impl RequestCounts {
    fn record(&mut self, status: u16, problem: Option<&str>) {
        self.total += 1;
        *self.by_status.entry(status).or_default() += 1;
        if let Some(kind) = problem {
            *self.by_problem.entry(kind.to_owned()).or_default() += 1;
        }
    }

    /// Requests answered with `status`.
    pub fn status(&self, status: u16) -> u64 {
        self.by_status.get(&status).copied().unwrap_or(0)
    }

    /// Requests answered with problem type `kind`.
    pub fn problem(&self, kind: &str) -> u64 {
        self.by_problem.get(kind).copied().unwrap_or(0)
    }
}

/// Everything counted for one site (host name).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteStats {
    /// Requests to the site.
    pub requests: RequestCounts,
    /// Sessions created by requests to the site.
    pub sessions_created: u64,
    /// Requests to the site that used a session.
    pub session_uses: u64,
    /// 520 ban responses for the site.
    pub bans: u64,
    /// Sessions created on the site that expired.
    pub expiries: u64,
}

/// A point-in-time view of the emulator's counters and sessions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// Emulated seconds since start.
    pub now_secs: f64,
    /// Every `/v1/extract` request.
    pub requests: RequestCounts,
    /// Per host name.
    pub sites: BTreeMap<String, SiteStats>,
    /// Sessions still remembered, oldest first.
    pub sessions: Vec<SessionStats>,
}

impl StatsSnapshot {
    /// The stats of `host`, or zeros if it was never requested.
    pub fn site(&self, host: &str) -> SiteStats {
        self.sites.get(host).cloned().unwrap_or_default()
    }
}

/// A session's state in a stats snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// Usable.
    Active,
    /// Expired, and within its tombstone period.
    Expired,
}

/// One session in a stats snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionStats {
    /// Session id (for Zyte-managed sessions, an id the emulator made up).
    pub id: String,
    /// User- or Zyte-managed.
    pub kind: SessionKind,
    /// Host name of the request that created it.
    pub site: String,
    /// Current state.
    pub state: SessionState,
    /// Requests that used it (including the creating one).
    pub uses: u64,
    /// Ban responses it got.
    pub bans: u64,
    /// Bans in a row, up to now.
    pub consecutive_bans: u32,
    /// Location fixed at creation.
    pub location: Option<String>,
    /// Emulated seconds at creation.
    pub created_at_secs: f64,
    /// Emulated seconds at last use.
    pub last_used_secs: f64,
    /// When it expired, or will expire if unused and unbanned.
    pub expires_at_secs: f64,
    /// Why it expired.
    pub expiry_reason: Option<ExpiryReason>,
    /// End of the tombstone period.
    pub tombstone_until_secs: Option<f64>,
}

/// What one request contributes to the counters.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    /// The request host, if the URL was valid.
    pub host: Option<&'a str>,
    /// The response status (0 = reset).
    pub status: u16,
    /// The problem type, for errors.
    pub problem: Option<&'a str>,
    /// Whether the request used a session.
    pub used_session: bool,
    /// Whether it was a ban.
    pub banned: bool,
}

#[derive(Debug, Default)]
struct Inner {
    total: RequestCounts,
    sites: HashMap<String, SiteStats>,
}

/// Request counters (session counters live in [`crate::sessions::SessionTable`]).
#[derive(Debug, Default)]
pub struct Stats {
    inner: Mutex<Inner>,
}

impl Stats {
    /// Counts one request.
    pub fn record(&self, record: &Record<'_>) {
        let mut inner = self.inner.lock();
        inner.total.record(record.status, record.problem);
        let Some(host) = record.host else { return };
        let site = match inner.sites.get_mut(host) {
            Some(site) => site,
            None => inner.sites.entry(host.to_owned()).or_default(),
        };
        site.requests.record(record.status, record.problem);
        site.session_uses += u64::from(record.used_session);
        site.bans += u64::from(record.banned);
    }

    /// Combines the request counters with the sessions' into a snapshot.
    pub fn snapshot(
        &self,
        now_secs: f64,
        sessions: Vec<SessionStats>,
        session_counters: &HashMap<String, SiteSessionCounters>,
    ) -> StatsSnapshot {
        let inner = self.inner.lock();
        let mut sites: BTreeMap<String, SiteStats> = inner
            .sites
            .iter()
            .map(|(host, site)| (host.clone(), site.clone()))
            .collect();
        for (host, counters) in session_counters {
            let site = sites.entry(host.clone()).or_default();
            site.sessions_created = counters.created;
            site.expiries = counters.expiries;
        }
        StatsSnapshot {
            now_secs,
            requests: inner.total.clone(),
            sites,
            sessions,
        }
    }

    /// Forgets everything.
    pub fn reset(&self) {
        *self.inner.lock() = Inner::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_per_site_and_in_total() {
        let stats = Stats::default();
        let ok = Record {
            host: Some("example.com"),
            status: 200,
            problem: None,
            used_session: true,
            banned: false,
        };
        let ban = Record {
            status: 520,
            problem: Some("/download/temporary-error"),
            banned: true,
            ..ok
        };
        let bad = Record {
            host: None,
            status: 400,
            problem: Some("/request/invalid"),
            used_session: false,
            banned: false,
        };
        for record in [ok, ok, ban, bad] {
            stats.record(&record);
        }
        let mut counters = HashMap::new();
        counters.insert(
            "example.com".to_owned(),
            SiteSessionCounters {
                created: 1,
                expiries: 0,
            },
        );
        let snapshot = stats.snapshot(0.0, Vec::new(), &counters);
        assert_eq!(snapshot.requests.total, 4);
        assert_eq!(snapshot.requests.status(400), 1);
        let site = snapshot.site("example.com");
        assert_eq!(
            (
                site.requests.total,
                site.session_uses,
                site.bans,
                site.sessions_created
            ),
            (3, 3, 1, 1)
        );
        assert_eq!(site.requests.problem("/download/temporary-error"), 1);
        let json = serde_json::to_string(&snapshot).expect("serialise");
        let back: StatsSnapshot = serde_json::from_str(&json).expect("round trip");
        assert_eq!(back, snapshot);
    }
}
