//! The gateway's own errors, as RFC 7807 problems (`application/problem+json`), the way Zyte API
//! reports its own: `{"type", "title", "status", "detail"}`, plus extension members where they
//! help (a closed pool's `pool` and `reason`).
//!
//! This is the one place where errors become responses: handlers return `Result<_, Problem>`
//! and use `?`; [`Problem`]'s [`IntoResponse`] writes the body, the headers a kind needs
//! (`WWW-Authenticate`, `Retry-After`), and logs it (5xx at `warn`, 4xx at `debug`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::engine::EngineError;
use crate::zyte::ZyteError;

/// The prefix of every `type` the gateway itself answers with.
pub const TYPE_PREFIX: &str = "/session-host/problem/";
/// The media type of problem bodies.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// What went wrong, and so the `type`, `title` and HTTP status of the problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// 400 `bad-request`: the body is not a Zyte API request the gateway can route (not an
    /// object, no `url`, a bad `sessionManagement`).
    BadRequest,
    /// 400 `invalid-json`: the body is not JSON.
    InvalidJson,
    /// 401 `unauthorized`: no or wrong gateway key.
    Unauthorized,
    /// 404 `not-found`: no such route.
    NotFound,
    /// 404 `pool-not-found`: no pool with that id.
    PoolNotFound,
    /// 405 `method-not-allowed`.
    MethodNotAllowed,
    /// 409 `pool-closed`: the request's pool is closed (its `reason` says why) until reopened.
    PoolClosed,
    /// 409 `pool-not-closed`: reopening a pool that is open.
    PoolNotClosed,
    /// 413 `payload-too-large`: the body exceeds the limit.
    PayloadTooLarge,
    /// 500 `config-error`: a session config hook failed where the request cannot go on.
    ConfigError,
    /// 500 `internal`: a bug; the detail says what.
    Internal,
    /// 502 `gave-up`: every retry with a new session failed its check.
    GaveUp,
    /// 502 `upstream-unreachable`: Zyte API could not be reached.
    UpstreamUnreachable,
    /// 503 `no-session`: no session of the pool became available in time.
    NoSession,
    /// 503 `shutting-down`: the gateway stopped before the request finished.
    ShuttingDown,
    /// 504 `timeout`: the request exceeded the gateway's request timeout.
    Timeout,
}

impl ProblemKind {
    /// The last segment of the `type` URI.
    pub fn slug(self) -> &'static str {
        match self {
            Self::BadRequest => "bad-request",
            Self::InvalidJson => "invalid-json",
            Self::Unauthorized => "unauthorized",
            Self::NotFound => "not-found",
            Self::PoolNotFound => "pool-not-found",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::PoolClosed => "pool-closed",
            Self::PoolNotClosed => "pool-not-closed",
            Self::PayloadTooLarge => "payload-too-large",
            Self::ConfigError => "config-error",
            Self::Internal => "internal",
            Self::GaveUp => "gave-up",
            Self::UpstreamUnreachable => "upstream-unreachable",
            Self::NoSession => "no-session",
            Self::ShuttingDown => "shutting-down",
            Self::Timeout => "timeout",
        }
    }

    /// The `type` URI, e.g. `/session-host/problem/pool-closed`.
    pub fn type_uri(self) -> String {
        format!("{TYPE_PREFIX}{}", self.slug())
    }

    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            Self::BadRequest | Self::InvalidJson => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound | Self::PoolNotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PoolClosed | Self::PoolNotClosed => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::ConfigError | Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::GaveUp | Self::UpstreamUnreachable => StatusCode::BAD_GATEWAY,
            Self::NoSession | Self::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            Self::Timeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The `title`: a short summary, the same for every problem of the kind.
    pub fn title(self) -> &'static str {
        match self {
            Self::BadRequest => "Bad Request",
            Self::InvalidJson => "Invalid JSON",
            Self::Unauthorized => "Unauthorized",
            Self::NotFound => "Not Found",
            Self::PoolNotFound => "No Such Session Pool",
            Self::MethodNotAllowed => "Method Not Allowed",
            Self::PoolClosed => "Session Pool Closed",
            Self::PoolNotClosed => "Session Pool Not Closed",
            Self::PayloadTooLarge => "Payload Too Large",
            Self::ConfigError => "Session Config Error",
            Self::Internal => "Internal Error",
            Self::GaveUp => "Session Retries Exhausted",
            Self::UpstreamUnreachable => "Zyte API Unreachable",
            Self::NoSession => "No Session Available",
            Self::ShuttingDown => "Shutting Down",
            Self::Timeout => "Request Timed Out",
        }
    }
}

/// One problem: its kind, a `detail` for this occurrence, and extension members.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{} ({}): {detail}", kind.title(), kind.status().as_u16())]
pub struct Problem {
    /// What went wrong.
    pub kind: ProblemKind,
    /// What went wrong this time, precisely.
    pub detail: String,
    /// Extension members (RFC 7807 section 3.2), e.g. `pool` and `reason`.
    pub extensions: Map<String, Value>,
}

impl Problem {
    /// A problem of `kind` with `detail`.
    pub fn new(kind: ProblemKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
            extensions: Map::new(),
        }
    }

    /// A 400 `bad-request`.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(ProblemKind::BadRequest, detail)
    }

    /// Adds the extension member `name`.
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.extensions.insert(name.to_owned(), value.into());
        self
    }

    /// The problem+json body.
    pub fn body(&self) -> Value {
        let mut body = json!({
            "type": self.kind.type_uri(),
            "title": self.kind.title(),
            "status": self.kind.status().as_u16(),
            "detail": self.detail,
        });
        if let Value::Object(map) = &mut body {
            for (name, value) in &self.extensions {
                map.entry(name.clone()).or_insert_with(|| value.clone());
            }
        }
        body
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.kind.status();
        if status.is_server_error() {
            tracing::warn!(problem = self.kind.slug(), "{}", self.detail);
        } else {
            tracing::debug!(problem = self.kind.slug(), "{}", self.detail);
        }
        let mut response = (status, self.body().to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        match self.kind {
            ProblemKind::Unauthorized => {
                let challenge = HeaderValue::from_static(r#"Basic realm="session-host""#);
                headers.insert(header::WWW_AUTHENTICATE, challenge);
            }
            ProblemKind::NoSession | ProblemKind::ShuttingDown => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ => {}
        }
        response
    }
}

impl From<EngineError> for Problem {
    /// The host-side engine errors. Zyte API's own error answers are not problems of ours: the
    /// extract handler passes them through before this conversion.
    fn from(error: EngineError) -> Self {
        let detail = error.to_string();
        match error {
            EngineError::BadInput(message) => Problem::bad_request(message),
            EngineError::PoolClosed { pool, reason } => {
                Problem::new(ProblemKind::PoolClosed, detail)
                    .with("pool", pool)
                    .with("reason", reason)
            }
            EngineError::NoSession { pool, .. } => {
                Problem::new(ProblemKind::NoSession, detail).with("pool", pool)
            }
            EngineError::Config(_) => Problem::new(ProblemKind::ConfigError, detail),
            EngineError::GaveUp { pool, .. } => {
                Problem::new(ProblemKind::GaveUp, detail).with("pool", pool)
            }
            EngineError::Upstream { error, .. } => upstream(&error, detail),
        }
    }
}

fn upstream(error: &ZyteError, detail: String) -> Problem {
    match error {
        ZyteError::Invalid(_) => Problem::bad_request(detail),
        _ => Problem::new(ProblemKind::UpstreamUnreachable, detail),
    }
}
