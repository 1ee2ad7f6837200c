//! Server-wide rules: session lifetimes, limits, and every \[UNVERIFIED\] choice, in one table.
//!
//! The `[policy]` table of a scenario file sets these; each field defaults to the value below.
//! Defaults follow `zyte-api.md`: documented facts where there are some, and the reference's own
//! choice where it marks the behaviour \[UNVERIFIED\].
//!
//! | Field | Default | Source |
//! |---|---|---|
//! | `user_session_lifetime_secs` | 900 | documented (15 min since creation) |
//! | `user_session_idle_secs` | 120 | documented (2 min since last use) |
//! | `user_session_max_consecutive_bans` | 3 | documented (3 bans in a row) |
//! | `tombstone_min_secs`, `tombstone_max_secs` | 300, 600 | documented (5–10 min), drawn uniformly |
//! | `context_session_lifetime_secs` | 14400 | documented (4 h) |
//! | `context_session_max_bans` | 3 | documented (3 ban responses, not necessarily in a row) |
//! | `max_active_sessions` | 1000 per API key | \[UNVERIFIED\] the real cap is undocumented |
//! | `session_expired_status` | 422 | \[UNVERIFIED\] scrapy-zyte-api tests |
//! | `over_session_limit_status` | 422 | \[UNVERIFIED\] scrapy-zyte-api tests |
//! | `session_creation_error_status` | 503 | \[UNVERIFIED\] scrapy-zyte-api tests |
//! | `session_creation_error_rate` | 0.0 | injected fault, off by default |
//! | `invalid_session_id_status` | 400 | \[UNVERIFIED\] non-UUIDv4 `session.id` → `/request/invalid` |
//! | `session_with_context_status` | 422 | \[UNVERIFIED\] `session` + `sessionContext` → `/request/unprocessable` |
//! | `body_too_large_status` | 400 | \[UNVERIFIED\] the reference says "400/413"; body over 5 MiB → `/request/invalid` |
//! | `echo_session_for_context` | false | \[UNVERIFIED\] whether `sessionContext` 200s carry `session` |
//! | `retry_after_secs` | 60 | observed on real 520s; also used for 429 and 503 |
//! | `set_location_unsupported_error` | `Action setLocation not supported on {domain}` | only the prefix is verified |
//! | `slow_body_chunks`, `slow_body_chunk_delay_ms` | 8, 250 | shape of the "slow body" fault (real time) |

use std::time::Duration;

use serde::Deserialize;

/// Server-wide rules; see the module docs for each default and its source.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// Seconds from creation until a user-managed session expires.
    pub user_session_lifetime_secs: u64,
    /// Seconds of inactivity after which a user-managed session expires.
    pub user_session_idle_secs: u64,
    /// Bans in a row that expire a user-managed session.
    pub user_session_max_consecutive_bans: u32,
    /// Shortest tombstone after expiry, in seconds.
    pub tombstone_min_secs: u64,
    /// Longest tombstone after expiry, in seconds.
    pub tombstone_max_secs: u64,
    /// Seconds from creation until a Zyte-managed (`sessionContext`) session expires.
    pub context_session_lifetime_secs: u64,
    /// Total bans that expire a Zyte-managed session.
    pub context_session_max_bans: u32,
    /// Active user-managed sessions allowed per API key.
    pub max_active_sessions: usize,
    /// HTTP status of `/problem/session-expired`.
    pub session_expired_status: u16,
    /// HTTP status of `/problem/over-session-limit`.
    pub over_session_limit_status: u16,
    /// HTTP status of `/problem/session-creation-error`.
    pub session_creation_error_status: u16,
    /// Probability that creating a session fails with `/problem/session-creation-error`.
    pub session_creation_error_rate: f64,
    /// HTTP status for a `session.id` that is not a UUID v4.
    pub invalid_session_id_status: u16,
    /// HTTP status for `session` together with `sessionContext`.
    pub session_with_context_status: u16,
    /// HTTP status for a request body above 5 MiB.
    pub body_too_large_status: u16,
    /// Whether 200s for `sessionContext` requests carry `session: {id}`.
    pub echo_session_for_context: bool,
    /// `Retry-After` seconds on 429, 503 and 520.
    pub retry_after_secs: u32,
    /// The action error for setLocation on a site that does not support it (`{domain}` is
    /// replaced by the host name). Must start with `Action setLocation not supported `.
    pub set_location_unsupported_error: String,
    /// Chunks a "slow body" response is split into.
    pub slow_body_chunks: u32,
    /// Real milliseconds between two chunks of a "slow body" response.
    pub slow_body_chunk_delay_ms: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            user_session_lifetime_secs: 900,
            user_session_idle_secs: 120,
            user_session_max_consecutive_bans: 3,
            tombstone_min_secs: 300,
            tombstone_max_secs: 600,
            context_session_lifetime_secs: 4 * 3600,
            context_session_max_bans: 3,
            max_active_sessions: 1000,
            session_expired_status: 422,
            over_session_limit_status: 422,
            session_creation_error_status: 503,
            session_creation_error_rate: 0.0,
            invalid_session_id_status: 400,
            session_with_context_status: 422,
            body_too_large_status: 400,
            echo_session_for_context: false,
            retry_after_secs: 60,
            set_location_unsupported_error: "Action setLocation not supported on {domain}".into(),
            slow_body_chunks: 8,
            slow_body_chunk_delay_ms: 250,
        }
    }
}

/// The prefix scrapy-zyte-api matches to detect an unsupported setLocation.
pub const SET_LOCATION_UNSUPPORTED_PREFIX: &str = "Action setLocation not supported ";

impl Policy {
    /// Checks ranges; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        for (name, status) in [
            ("session_expired_status", self.session_expired_status),
            ("over_session_limit_status", self.over_session_limit_status),
            (
                "session_creation_error_status",
                self.session_creation_error_status,
            ),
            ("invalid_session_id_status", self.invalid_session_id_status),
            (
                "session_with_context_status",
                self.session_with_context_status,
            ),
            ("body_too_large_status", self.body_too_large_status),
        ] {
            if !(400..=599).contains(&status) {
                return Err(format!(
                    "policy.{name} must be an HTTP error status (400-599)"
                ));
            }
        }
        if self.tombstone_min_secs > self.tombstone_max_secs {
            return Err("policy.tombstone_min_secs must not exceed tombstone_max_secs".into());
        }
        if !(0.0..=1.0).contains(&self.session_creation_error_rate) {
            return Err("policy.session_creation_error_rate must be within 0..=1".into());
        }
        if !self
            .set_location_unsupported_error
            .starts_with(SET_LOCATION_UNSUPPORTED_PREFIX)
        {
            return Err(format!(
                "policy.set_location_unsupported_error must start with {SET_LOCATION_UNSUPPORTED_PREFIX:?}"
            ));
        }
        if self.slow_body_chunks == 0 {
            return Err("policy.slow_body_chunks must be at least 1".into());
        }
        Ok(())
    }

    /// How long after expiry a session stays a tombstone, drawn from `u` in `0.0..1.0`.
    pub fn tombstone_len(&self, u: f64) -> Duration {
        let span = self
            .tombstone_max_secs
            .saturating_sub(self.tombstone_min_secs) as f64;
        Duration::from_secs(self.tombstone_min_secs)
            .saturating_add(Duration::from_secs_f64(span * u))
    }

    /// The setLocation-unsupported action error for `domain`.
    pub fn unsupported_location_error(&self, domain: &str) -> String {
        self.set_location_unsupported_error
            .replace("{domain}", domain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_documented_values() {
        let policy = Policy::default();
        assert_eq!(policy.validate(), Ok(()));
        assert_eq!(
            policy.unsupported_location_error("a.example"),
            "Action setLocation not supported on a.example"
        );
        assert_eq!(policy.tombstone_len(0.0), Duration::from_secs(300));
        assert_eq!(policy.tombstone_len(0.5), Duration::from_secs(450));
    }

    #[test]
    fn out_of_range_values_are_rejected_by_name() {
        let policy = Policy {
            session_expired_status: 200,
            ..Policy::default()
        };
        assert!(
            policy
                .validate()
                .expect_err("rejected")
                .contains("session_expired_status")
        );
        let policy = Policy {
            set_location_unsupported_error: "nope".into(),
            ..Policy::default()
        };
        assert!(policy.validate().is_err());
    }
}
