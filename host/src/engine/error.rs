//! The engine's errors: every request gets a response or exactly one of these.

use crate::plugin::HookError;
use crate::zyte::ZyteError;

/// Which session served a request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ServedBy {
    /// The pool id.
    pub pool: String,
    /// The session id (in cookie mode, the host's local id).
    pub session_id: String,
    /// The config that managed it (`default` for the built-in one).
    pub config: String,
}

/// Why a request got no response.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The request itself is invalid (no `url`, malformed controls).
    #[error("bad request: {0}")]
    BadInput(String),
    /// The pool is closed: its requests fail fast until it is reopened.
    #[error("session pool {pool:?} is closed: {reason}")]
    PoolClosed {
        /// The pool id.
        pool: String,
        /// The close reason (e.g. `bad_session_inits`, `unsupported_set_location`).
        reason: String,
    },
    /// No session became available in time (docs/reference.md §5.6).
    #[error("{message}")]
    NoSession {
        /// The pool id.
        pool: String,
        /// The full explanation.
        message: String,
    },
    /// A config hook failed where the request cannot go on.
    #[error("session config error: {0}")]
    Config(#[from] HookError),
    /// Zyte API answered with an error the session layer does not handle (or retries ran out).
    #[error("{error}")]
    Upstream {
        /// The error.
        error: Box<ZyteError>,
        /// The session used, if any.
        served_by: Option<ServedBy>,
    },
    /// The request's deadline passed before it could be answered (issue 12; the cancellation
    /// policy is in [`crate::engine`]).
    #[error("the request was not answered within its {}s deadline: {doing}", budget.as_secs_f64())]
    Timeout {
        /// The pool, once known.
        pool: Option<String>,
        /// The request's whole budget.
        budget: std::time::Duration,
        /// What it was doing when time ran out, e.g. `waiting for a session of pool "x"`.
        doing: String,
    },
    /// A new pool was needed but a pool bound is full and none of its pools is idle
    /// (issue 13, [`crate::engine::bounds`]).
    #[error(
        "too many session pools: the [sessions] {setting} setting ({limit}) is reached and no pool of it is idle"
    )]
    TooManyPools {
        /// The setting whose bound is full, e.g. `max_client_pools`.
        setting: &'static str,
        /// Its value.
        limit: usize,
    },
    /// The shared pool store (Redis, issue 16) could not be reached, and its failure policy is
    /// to fail closed (`[store] on_failure = "closed"`): the request is refused, not served
    /// outside the pool's global bounds.
    #[error("the session store is unavailable for pool {pool:?}: no session was used; retry later")]
    StoreUnavailable {
        /// The pool id.
        pool: String,
    },
    /// Retries with new sessions ran out after failed checks.
    #[error("gave up on pool {pool:?} after {attempts} attempts: {reason}")]
    GaveUp {
        /// The pool id.
        pool: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        reason: String,
    },
}
