//! Problem details (RFC 9457, the `application/problem+json` that Zyte API answers errors with)
//! for every way a request can fail in the host, so that the front ends report errors alike.
//!
//! # Policy
//!
//! - **Zyte API's own errors pass through.** An upstream error whose body is a problem object is
//!   reported with that body's `type`, `title`, `status`, `detail` and any other member,
//!   unchanged; a body that is not one is wrapped as [`UPSTREAM_ERROR`] with the upstream status.
//! - **The host's errors have their own `type`s** under `/session-host/`, never Zyte API's, so a
//!   client can tell who refused a request: [`BAD_INPUT`] (400), [`CONFIG_ERROR`] (500),
//!   [`POOL_CLOSED`] (503), [`NO_SESSION`] (503), [`GAVE_UP`] (502) and
//!   [`UPSTREAM_UNREACHABLE`] (502).
//! - **The pool is named** (extension member `pool`) whenever the error belongs to one, and a
//!   closed pool's `reason` is given too.
//!
//! ```
//! use session_host::engine::EngineError;
//! use session_host::problem::{POOL_CLOSED, Problem};
//! let error = EngineError::PoolClosed { pool: "shop".into(), reason: "bad_session_inits".into() };
//! let problem = Problem::from_engine_error(&error);
//! assert_eq!((problem.kind.as_str(), problem.status), (POOL_CLOSED, 503));
//! assert_eq!(problem.extra["reason"], "bad_session_inits");
//! ```

use serde_json::{Map, Value};

use crate::engine::EngineError;
use crate::zyte::ZyteError;

/// The request is invalid before it reaches Zyte API (JSON, `url`, `sessionManagement`).
pub const BAD_INPUT: &str = "/session-host/bad-input";
/// A session config hook failed where the request cannot go on.
pub const CONFIG_ERROR: &str = "/session-host/config-error";
/// The request's session pool is closed (see `reason`).
pub const POOL_CLOSED: &str = "/session-host/pool-closed";
/// No session of the pool became available in time.
pub const NO_SESSION: &str = "/session-host/no-session";
/// Retries with new sessions ran out after failed checks.
pub const GAVE_UP: &str = "/session-host/gave-up";
/// Zyte API could not be reached (connection, timeout, unreadable body).
pub const UPSTREAM_UNREACHABLE: &str = "/session-host/upstream-unreachable";
/// Zyte API answered something that is not a problem object, or a success that is not JSON.
pub const UPSTREAM_ERROR: &str = "/session-host/upstream-error";

/// One problem-details object.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct Problem {
    /// `type`: a URI reference naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// `title`: a short summary of the kind.
    pub title: String,
    /// `status`: the HTTP status.
    pub status: u16,
    /// `detail`: what happened to this request.
    pub detail: String,
    /// Extension members (`pool`, `reason`, or whatever Zyte API added).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Problem {
    /// A problem of the host's own.
    pub fn new(kind: &str, title: &str, status: u16, detail: impl Into<String>) -> Self {
        Self {
            kind: kind.to_owned(),
            title: title.to_owned(),
            status,
            detail: detail.into(),
            extra: Map::new(),
        }
    }

    /// A [`BAD_INPUT`] problem.
    pub fn bad_input(detail: impl Into<String>) -> Self {
        Self::new(BAD_INPUT, "Bad input", 400, detail)
    }

    /// Adds an extension member.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_owned(), value.into());
        self
    }

    /// The problem as a JSON object: `type`, `title`, `status`, `detail`, then the extensions.
    pub fn to_value(&self) -> Value {
        let mut object = Map::new();
        object.insert("type".into(), self.kind.as_str().into());
        object.insert("title".into(), self.title.as_str().into());
        object.insert("status".into(), self.status.into());
        object.insert("detail".into(), self.detail.as_str().into());
        for (key, value) in &self.extra {
            object.entry(key.as_str()).or_insert_with(|| value.clone());
        }
        Value::Object(object)
    }

    /// The problem that reports `error`.
    pub fn from_engine_error(error: &EngineError) -> Self {
        let detail = error.to_string();
        match error {
            EngineError::BadInput(message) => Self::bad_input(message.clone()),
            EngineError::PoolClosed { pool, reason } => {
                Self::new(POOL_CLOSED, "Session pool closed", 503, detail)
                    .with("pool", pool.as_str())
                    .with("reason", reason.as_str())
            }
            EngineError::NoSession { pool, .. } => {
                Self::new(NO_SESSION, "No session available", 503, detail)
                    .with("pool", pool.as_str())
            }
            EngineError::Config(_) => Self::new(CONFIG_ERROR, "Session config error", 500, detail),
            EngineError::Upstream { error, served_by } => {
                let problem = Self::from_zyte_error(error);
                match served_by {
                    Some(served) => problem.with("pool", served.pool.as_str()),
                    None => problem,
                }
            }
            EngineError::GaveUp { pool, .. } => {
                Self::new(GAVE_UP, "Session retries exhausted", 502, detail)
                    .with("pool", pool.as_str())
            }
        }
    }

    /// The problem that reports a Zyte API client error: Zyte API's own problem when it sent one.
    pub fn from_zyte_error(error: &ZyteError) -> Self {
        match error {
            ZyteError::Api { status, body, .. } => Self::from_upstream_body(*status, body),
            ZyteError::Transport(_) => Self::new(
                UPSTREAM_UNREACHABLE,
                "Zyte API unreachable",
                502,
                error.to_string(),
            ),
            ZyteError::Invalid(message) => Self::bad_input(message.clone()),
        }
    }

    /// Zyte API's problem body as it is, or an [`UPSTREAM_ERROR`] wrapping what it sent.
    pub fn from_upstream_body(status: u16, body: &str) -> Self {
        match serde_json::from_str::<Problem>(body) {
            Ok(problem) => problem,
            Err(_) => Self::new(
                UPSTREAM_ERROR,
                "Unexpected Zyte API answer",
                status,
                format!("Zyte API answered {status} with: {}", excerpt(body)),
            ),
        }
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
    use serde_json::json;

    #[test]
    fn zyte_problems_pass_through() {
        let body = r#"{"type": "/download/temporary-error", "title": "Temporary Downloading Error",
            "status": 520, "detail": "try again", "extra": 1}"#;
        let problem = Problem::from_upstream_body(520, body);
        let value = problem.to_value();
        assert_eq!(
            value,
            json!({"type": "/download/temporary-error", "title": "Temporary Downloading Error",
                "status": 520, "detail": "try again", "extra": 1})
        );
    }

    #[test]
    fn other_upstream_bodies_are_wrapped() {
        let problem = Problem::from_upstream_body(500, "<html>oops</html>");
        assert_eq!(
            (problem.kind.as_str(), problem.status),
            (UPSTREAM_ERROR, 500)
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
        let problem = Problem::from_engine_error(&error).to_value();
        assert_eq!(
            problem,
            json!({"type": NO_SESSION, "title": "No session available", "status": 503,
                "detail": "no session of pool p", "pool": "p"})
        );
        let error = EngineError::Upstream {
            error: Box::new(ZyteError::Transport("reset".into())),
            served_by: None,
        };
        let problem = Problem::from_engine_error(&error);
        assert_eq!(
            (problem.kind.as_str(), problem.status),
            (UPSTREAM_UNREACHABLE, 502)
        );
        assert_eq!(problem.detail, "Zyte API could not be reached: reset");
    }
}
