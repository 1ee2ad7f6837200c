//! How the gateway answers with a [`Problem`] (the host's one vocabulary of errors, see
//! [`crate::problem`]): `application/problem+json`, the way Zyte API reports its own errors.
//!
//! This is the one place where errors become responses: handlers return `Result<_, Problem>`
//! and use `?`; [`Problem`]'s [`IntoResponse`] writes the body, the headers a kind needs
//! (`WWW-Authenticate`, `Retry-After`), and logs it (5xx at `warn`, 4xx at `debug`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::problem::{Problem, ProblemKind};

/// The media type of problem bodies.
pub const PROBLEM_JSON: &str = "application/problem+json";

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::warn!(problem = %self.type_uri, "{}", self.detail);
        } else {
            tracing::debug!(problem = %self.type_uri, "{}", self.detail);
        }
        let mut response = (status, self.to_value().to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        match self.kind() {
            Some(ProblemKind::Unauthorized) => {
                let challenge = HeaderValue::from_static(r#"Basic realm="session-host""#);
                headers.insert(header::WWW_AUTHENTICATE, challenge);
            }
            Some(ProblemKind::NoSession | ProblemKind::ShuttingDown) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ => {}
        }
        response
    }
}
