//! Errors of the Zyte API client.

use crate::plugin::{ApiError, DownloadError};

/// Why a Zyte API call did not produce a 200 answer (after its retry policy gave up).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ZyteError {
    /// Zyte API answered with an error status.
    #[error("Zyte API answered {status}{}", problem_type.as_deref().map(|t| format!(" {t}")).unwrap_or_default())]
    Api {
        /// The HTTP status.
        status: u16,
        /// The `type` of the problem+json body, when it had one.
        problem_type: Option<String>,
        /// The raw error body.
        body: String,
        /// The `request-id` header, when present.
        request_id: Option<String>,
    },
    /// No usable answer: connection failure, reset, timeout or unreadable body.
    #[error("Zyte API could not be reached: {0}")]
    Transport(String),
    /// The request could not be built (e.g. a body that does not serialise).
    #[error("invalid Zyte API request: {0}")]
    Invalid(String),
    /// The caller's deadline passed (or the next retry wait would have ended after it) before
    /// Zyte API gave a final answer ([`super::Client::extract_by`]).
    #[error(
        "no final answer from Zyte API within the request's deadline, after {attempts} attempt(s){}",
        last.as_ref().map(|e| format!("; the last: {e}")).unwrap_or_default()
    )]
    Deadline {
        /// Attempts started (the last one may have been cut short).
        attempts: u32,
        /// The last failed attempt's error, if one failed.
        last: Option<Box<ZyteError>>,
    },
}

impl ZyteError {
    /// The problem type of an API error.
    pub fn problem_type(&self) -> Option<&str> {
        match self {
            ZyteError::Api { problem_type, .. } => problem_type.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ZyteError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The WIT form handed to a guest's `download` (never contains the key).
    pub fn to_download_error(&self) -> DownloadError {
        match self {
            ZyteError::Api {
                status,
                problem_type,
                body,
                ..
            } => DownloadError::Api(ApiError {
                status: *status,
                problem_type: problem_type.clone(),
                body: body.clone(),
            }),
            ZyteError::Transport(m) => DownloadError::Transport(m.clone()),
            ZyteError::Invalid(m) => DownloadError::Refused(m.clone()),
            ZyteError::Deadline { .. } => DownloadError::Transport(self.to_string()),
        }
    }
}

/// The `type` of a problem+json body, if it is one.
pub fn problem_type(body: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Problem {
        #[serde(rename = "type")]
        kind: Option<String>,
    }
    serde_json::from_str::<Problem>(body).ok()?.kind
}
