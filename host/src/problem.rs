//! Problem details (RFC 9457, the `application/problem+json` that Zyte API answers errors with)
//! for every way a request can fail in the host: one vocabulary, which the gateway answers with
//! and batch runs write in their error lines.
//!
//! # Policy
//!
//! - **Zyte API's own errors pass through.** An upstream error whose body is a problem object is
//!   reported with that body's `type`, `title`, `status`, `detail` and any other member,
//!   unchanged; a body that is not one is an [`UpstreamError`](ProblemKind::UpstreamError) with
//!   the upstream status ([`Problem::from_upstream_body`]).
//! - **The host's errors have their own `type`s**, `/session-host/problem/<slug>` ([`TYPE_PREFIX`]),
//!   never Zyte API's, so a client can tell who refused a request. [`ProblemKind`] lists them,
//!   each with its one status and title.
//! - **One mapping from the engine's errors** ([`Problem::from_engine_error`]): bad input is a
//!   400, a config error a 500, retries run out or Zyte API unreachable a 502, no session in time
//!   a 503. A closed pool is a 409, deliberately not a 503: Zyte API clients retry 503 forever,
//!   and a closed pool must fail fast until an operator reopens it.
//! - **The pool is named** (extension member `pool`) whenever the error belongs to one, and a
//!   closed pool's `reason` is given too.
//!
//! ```
//! use session_host::engine::EngineError;
//! use session_host::problem::{Problem, ProblemKind};
//! let error = EngineError::PoolClosed { pool: "shop".into(), reason: "bad_session_inits".into() };
//! let problem = Problem::from_engine_error(&error);
//! assert_eq!(problem.type_uri, "/session-host/problem/pool-closed");
//! assert_eq!((problem.kind(), problem.status), (Some(ProblemKind::PoolClosed), 409));
//! assert_eq!(problem.reason(), Some("bad_session_inits"));
//! ```

use serde_json::{Map, Value};

use crate::engine::EngineError;
use crate::zyte::ZyteError;

/// The prefix of the `type` of every problem of the host's own.
pub const TYPE_PREFIX: &str = "/session-host/problem/";

/// A kind of problem of the host's own: its `type`, `title` and HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// 400 `bad-request`: the body is not a Zyte API request the host can route (not an object,
    /// no `url`, a bad `sessionManagement`).
    BadRequest,
    /// 400 `invalid-json`: the body is not JSON.
    InvalidJson,
    /// 401 `unauthorized`: no or wrong gateway key.
    Unauthorized,
    /// 403 `forbidden`: a keyless (loopback) gateway refused a request whose `Host` is not a
    /// loopback name, as a browser sends after DNS rebinding.
    Forbidden,
    /// 404 `not-found`: no such gateway route.
    NotFound,
    /// 404 `pool-not-found`: no pool with that id.
    PoolNotFound,
    /// 405 `method-not-allowed`: a gateway route with another method.
    MethodNotAllowed,
    /// 409 `pool-closed`: the request's pool is closed (its `reason` says why) until reopened.
    PoolClosed,
    /// 409 `pool-not-closed`: reopening a pool that is open.
    PoolNotClosed,
    /// 413 `payload-too-large`: the body exceeds the gateway's limit.
    PayloadTooLarge,
    /// 429 `too-many-pools`: the request needs a new session pool, but a pool bound
    /// (`setting`, e.g. `max_client_pools`) is full and none of its pools is idle (issue 13).
    TooManyPools,
    /// 429 `too-many-streams`: the dashboard's live streams are all taken (issue 19).
    TooManyStreams,
    /// 415 `unsupported-media-type`: a keyless (loopback) gateway refused a `POST` that is not
    /// `Content-Type: application/json`, as a browser's cross-site "simple request" is.
    UnsupportedMediaType,
    /// 500 `config-error`: a session config hook failed where the request cannot go on.
    ConfigError,
    /// 500 `internal`: a bug; the detail says what.
    Internal,
    /// 502 `gave-up`: every retry with a new session failed its check.
    GaveUp,
    /// 502 `upstream-unreachable`: Zyte API could not be reached (connection, timeout,
    /// unreadable body).
    UpstreamUnreachable,
    /// 502 `upstream-error`: Zyte API answered something that is not a problem object (with its
    /// own status then), or a success that is not a JSON object.
    UpstreamError,
    /// 503 `no-session`: no session of the pool became available in time.
    NoSession,
    /// 503 `store-unavailable`: the shared pool store (Redis) could not be reached and its
    /// failure policy is to fail closed (issue 16); retry later.
    StoreUnavailable,
    /// 503 `shutting-down`: the gateway stopped before the request finished.
    ShuttingDown,
    /// 504 `timeout`: the request was not answered within its deadline (the gateway's
    /// `--request-timeout-secs`, or `run`'s).
    Timeout,
}

impl ProblemKind {
    /// Every kind.
    pub const ALL: [Self; 22] = [
        Self::BadRequest,
        Self::InvalidJson,
        Self::Unauthorized,
        Self::Forbidden,
        Self::NotFound,
        Self::PoolNotFound,
        Self::MethodNotAllowed,
        Self::PoolClosed,
        Self::PoolNotClosed,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::TooManyPools,
        Self::TooManyStreams,
        Self::ConfigError,
        Self::Internal,
        Self::GaveUp,
        Self::UpstreamUnreachable,
        Self::UpstreamError,
        Self::NoSession,
        Self::StoreUnavailable,
        Self::ShuttingDown,
        Self::Timeout,
    ];

    /// The last segment of the `type` URI.
    pub fn slug(self) -> &'static str {
        match self {
            Self::BadRequest => "bad-request",
            Self::InvalidJson => "invalid-json",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not-found",
            Self::PoolNotFound => "pool-not-found",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::PoolClosed => "pool-closed",
            Self::PoolNotClosed => "pool-not-closed",
            Self::PayloadTooLarge => "payload-too-large",
            Self::UnsupportedMediaType => "unsupported-media-type",
            Self::TooManyPools => "too-many-pools",
            Self::TooManyStreams => "too-many-streams",
            Self::ConfigError => "config-error",
            Self::Internal => "internal",
            Self::GaveUp => "gave-up",
            Self::UpstreamUnreachable => "upstream-unreachable",
            Self::UpstreamError => "upstream-error",
            Self::NoSession => "no-session",
            Self::StoreUnavailable => "store-unavailable",
            Self::ShuttingDown => "shutting-down",
            Self::Timeout => "timeout",
        }
    }

    /// The `type` URI, e.g. `/session-host/problem/pool-closed`.
    pub fn type_uri(self) -> String {
        format!("{TYPE_PREFIX}{}", self.slug())
    }

    /// The kind whose `type` URI is `uri`, if it is one of the host's.
    pub fn from_type_uri(uri: &str) -> Option<Self> {
        let slug = uri.strip_prefix(TYPE_PREFIX)?;
        Self::ALL.into_iter().find(|kind| kind.slug() == slug)
    }

    /// The HTTP status.
    pub fn status(self) -> u16 {
        match self {
            Self::BadRequest | Self::InvalidJson => 400,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound | Self::PoolNotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::PoolClosed | Self::PoolNotClosed => 409,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::TooManyPools | Self::TooManyStreams => 429,
            Self::ConfigError | Self::Internal => 500,
            Self::GaveUp | Self::UpstreamUnreachable | Self::UpstreamError => 502,
            Self::NoSession | Self::StoreUnavailable | Self::ShuttingDown => 503,
            Self::Timeout => 504,
        }
    }

    /// The `title`: a short summary, the same for every problem of the kind.
    pub fn title(self) -> &'static str {
        match self {
            Self::BadRequest => "Bad Request",
            Self::InvalidJson => "Invalid JSON",
            Self::Unauthorized => "Unauthorized",
            Self::Forbidden => "Forbidden",
            Self::NotFound => "Not Found",
            Self::PoolNotFound => "No Such Session Pool",
            Self::MethodNotAllowed => "Method Not Allowed",
            Self::PoolClosed => "Session Pool Closed",
            Self::PoolNotClosed => "Session Pool Not Closed",
            Self::PayloadTooLarge => "Payload Too Large",
            Self::UnsupportedMediaType => "Unsupported Media Type",
            Self::TooManyPools => "Too Many Session Pools",
            Self::TooManyStreams => "Too Many Dashboard Streams",
            Self::ConfigError => "Session Config Error",
            Self::Internal => "Internal Error",
            Self::GaveUp => "Session Retries Exhausted",
            Self::UpstreamUnreachable => "Zyte API Unreachable",
            Self::UpstreamError => "Unexpected Zyte API Answer",
            Self::NoSession => "No Session Available",
            Self::StoreUnavailable => "Session Store Unavailable",
            Self::ShuttingDown => "Shutting Down",
            Self::Timeout => "Request Timed Out",
        }
    }
}

/// One problem-details object: one of the host's ([`Problem::new`]) or Zyte API's own.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, thiserror::Error)]
#[error("{title} ({status}): {detail}")]
pub struct Problem {
    /// `type`: a URI reference naming the kind of problem.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// `title`: a short summary of the kind.
    pub title: String,
    /// `status`: the HTTP status.
    pub status: u16,
    /// `detail`: what happened to this request, precisely.
    pub detail: String,
    /// Extension members (RFC 9457 section 3.2): `pool`, `reason`, or whatever Zyte API added.
    /// Boxed, so that the many `Result<_, Problem>`s stay small.
    #[serde(flatten)]
    pub extensions: Box<Map<String, Value>>,
}

impl Problem {
    /// A problem of the host's own, of `kind`, with `detail`.
    pub fn new(kind: ProblemKind, detail: impl Into<String>) -> Self {
        Self {
            type_uri: kind.type_uri(),
            title: kind.title().to_owned(),
            status: kind.status(),
            detail: detail.into(),
            extensions: Box::default(),
        }
    }

    /// A 400 [`BadRequest`](ProblemKind::BadRequest).
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(ProblemKind::BadRequest, detail)
    }

    /// Adds the extension member `name`.
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.extensions.insert(name.to_owned(), value.into());
        self
    }

    /// The host's kind of this problem; `None` for Zyte API's own.
    pub fn kind(&self) -> Option<ProblemKind> {
        ProblemKind::from_type_uri(&self.type_uri)
    }

    /// The extension member `pool`: the pool the error belongs to.
    pub fn pool(&self) -> Option<&str> {
        self.extensions.get("pool").and_then(Value::as_str)
    }

    /// The extension member `reason`: why a pool closed.
    pub fn reason(&self) -> Option<&str> {
        self.extensions.get("reason").and_then(Value::as_str)
    }

    /// The problem as a JSON object: `type`, `title`, `status`, `detail`, then the extensions.
    pub fn to_value(&self) -> Value {
        let mut object = Map::new();
        object.insert("type".into(), self.type_uri.as_str().into());
        object.insert("title".into(), self.title.as_str().into());
        object.insert("status".into(), self.status.into());
        object.insert("detail".into(), self.detail.as_str().into());
        for (name, value) in self.extensions.iter() {
            object.entry(name.as_str()).or_insert_with(|| value.clone());
        }
        Value::Object(object)
    }

    /// The problem that reports `error`.
    pub fn from_engine_error(error: &EngineError) -> Self {
        let detail = error.to_string();
        match error {
            EngineError::BadInput(message) => Self::bad_request(message.as_str()),
            EngineError::PoolClosed { pool, reason } => Self::new(ProblemKind::PoolClosed, detail)
                .with("pool", pool.as_str())
                .with("reason", reason.as_str()),
            EngineError::NoSession { pool, .. } => {
                Self::new(ProblemKind::NoSession, detail).with("pool", pool.as_str())
            }
            EngineError::Config(_) => Self::new(ProblemKind::ConfigError, detail),
            EngineError::Upstream { error, served_by } => {
                let problem = Self::from_zyte_error(error);
                match served_by {
                    Some(served) => problem.with("pool", served.pool.as_str()),
                    None => problem,
                }
            }
            EngineError::StoreUnavailable { pool } => {
                Self::new(ProblemKind::StoreUnavailable, detail).with("pool", pool.as_str())
            }
            EngineError::GaveUp { pool, .. } => {
                Self::new(ProblemKind::GaveUp, detail).with("pool", pool.as_str())
            }
            EngineError::TooManyPools { setting, limit } => {
                Self::new(ProblemKind::TooManyPools, detail)
                    .with("setting", *setting)
                    .with("limit", *limit)
            }
            EngineError::Timeout { pool, .. } => {
                let problem = Self::new(ProblemKind::Timeout, detail);
                match pool {
                    Some(pool) => problem.with("pool", pool.as_str()),
                    None => problem,
                }
            }
        }
    }

    /// The problem that reports a Zyte API client error: Zyte API's own problem when it sent one.
    pub fn from_zyte_error(error: &ZyteError) -> Self {
        let detail = error.to_string();
        match error {
            ZyteError::Api { status, body, .. } => Self::from_upstream_body(*status, body),
            ZyteError::Transport(_) => Self::new(ProblemKind::UpstreamUnreachable, detail),
            ZyteError::Invalid(_) => Self::bad_request(detail),
            ZyteError::Deadline { .. } => Self::new(ProblemKind::Timeout, detail),
        }
    }

    /// Zyte API's problem body as it is, or an [`UpstreamError`](ProblemKind::UpstreamError)
    /// with the upstream `status`, wrapping what it sent.
    pub fn from_upstream_body(status: u16, body: &str) -> Self {
        if let Ok(problem) = serde_json::from_str::<Problem>(body) {
            return problem;
        }
        let detail = format!("Zyte API answered {status} with: {}", excerpt(body));
        Self {
            status,
            ..Self::new(ProblemKind::UpstreamError, detail)
        }
    }
}

impl From<EngineError> for Problem {
    fn from(error: EngineError) -> Self {
        Self::from_engine_error(&error)
    }
}

/// The start of `text`, for error messages.
fn excerpt(text: &str) -> String {
    const MAX: usize = 300;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ServedBy;
    use serde_json::json;

    #[test]
    fn every_kind_has_its_own_type_and_is_found_by_it() {
        let uris: std::collections::BTreeSet<_> =
            ProblemKind::ALL.iter().map(|k| k.type_uri()).collect();
        assert_eq!(uris.len(), ProblemKind::ALL.len());
        for kind in ProblemKind::ALL {
            assert_eq!(ProblemKind::from_type_uri(&kind.type_uri()), Some(kind));
            assert_eq!(Problem::new(kind, "d").kind(), Some(kind));
        }
        assert_eq!(ProblemKind::from_type_uri("/problem/bad-request"), None);
    }

    #[test]
    fn zyte_problems_pass_through() {
        let body = r#"{"type": "/download/temporary-error", "title": "Temporary Downloading Error",
            "status": 520, "detail": "try again", "extra": 1}"#;
        let problem = Problem::from_upstream_body(520, body);
        assert_eq!(problem.kind(), None);
        assert_eq!(
            problem.to_value(),
            json!({"type": "/download/temporary-error", "title": "Temporary Downloading Error",
                "status": 520, "detail": "try again", "extra": 1})
        );
    }

    #[test]
    fn other_upstream_bodies_are_wrapped_with_their_status() {
        let problem = Problem::from_upstream_body(500, "<html>oops</html>");
        assert_eq!(
            (problem.kind(), problem.status),
            (Some(ProblemKind::UpstreamError), 500)
        );
        assert_eq!(
            problem.detail,
            "Zyte API answered 500 with: <html>oops</html>"
        );
        let long = "x".repeat(1000);
        assert!(
            Problem::from_upstream_body(500, &long)
                .detail
                .ends_with("x…")
        );
    }

    #[test]
    fn host_errors_have_host_types_and_name_the_pool() {
        let error = EngineError::NoSession {
            pool: "p".into(),
            message: "no session of pool p".into(),
        };
        assert_eq!(
            Problem::from_engine_error(&error).to_value(),
            json!({"type": "/session-host/problem/no-session", "title": "No Session Available",
                "status": 503, "detail": "no session of pool p", "pool": "p"})
        );
        let error = EngineError::Upstream {
            error: Box::new(ZyteError::Transport("reset".into())),
            served_by: Some(ServedBy {
                pool: "p".into(),
                session_id: "s".into(),
                config: "c".into(),
            }),
        };
        let problem = Problem::from(error);
        assert_eq!(
            (problem.kind(), problem.status, problem.pool()),
            (Some(ProblemKind::UpstreamUnreachable), 502, Some("p"))
        );
        assert_eq!(problem.detail, "Zyte API could not be reached: reset");
        let error = EngineError::Upstream {
            error: Box::new(ZyteError::Invalid("not serialisable".into())),
            served_by: None,
        };
        let problem = Problem::from(error);
        assert_eq!(problem.kind(), Some(ProblemKind::BadRequest));
        assert_eq!(problem.detail, "invalid Zyte API request: not serialisable");
    }
}
