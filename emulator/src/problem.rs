//! RFC 7807 `application/problem+json` errors, as Zyte API sends them.
//!
//! Policy:
//! - Every error body is `{"type", "title", "status", "detail"}` with the type and title of the
//!   spec's table (`zyte-api.md` §2.2). Titles that no public source shows (the three session
//!   problems) are our own wording and marked \[UNVERIFIED\] below.
//! - `Retry-After` (integer seconds, [`crate::policy::Policy::retry_after_secs`], default 60 as
//!   seen on real 520s) is sent on 429, 503 and 520, where the OpenAPI spec documents it.
//! - 401 responses carry `WWW-Authenticate: Basic realm="Zyte API"`.
//! - The statuses of the session problems come from the scenario policy, since they are
//!   \[UNVERIFIED\] (defaults 422/422/503 as in scrapy-zyte-api's tests).

use serde::Serialize;

/// A problem to answer with instead of a 200.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Problem type, e.g. `/download/temporary-error`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Short human title.
    pub title: &'static str,
    /// The HTTP status of the response.
    pub status: u16,
    /// What exactly went wrong (names the offending field for validation errors).
    pub detail: String,
    /// `Retry-After` seconds, if the response carries the header.
    #[serde(skip)]
    pub retry_after: Option<u32>,
}

impl Problem {
    fn new(
        kind: &'static str,
        title: &'static str,
        status: u16,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            title,
            status,
            detail: detail.into(),
            retry_after: None,
        }
    }

    fn with_retry_after(mut self, secs: u32) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// 400 `/request/invalid`: a bad field or value.
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new("/request/invalid", "Bad Request", 400, detail)
    }

    /// `/request/invalid` with a configurable status, for \[UNVERIFIED\] cases.
    pub fn invalid_with_status(status: u16, detail: impl Into<String>) -> Self {
        Self {
            status,
            ..Self::invalid(detail)
        }
    }

    /// 400 `/request/invalid-json`.
    pub fn invalid_json(detail: impl Into<String>) -> Self {
        Self::new("/request/invalid-json", "Invalid JSON", 400, detail)
    }

    /// 422 `/request/unprocessable`: incompatible parameters.
    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(
            "/request/unprocessable",
            "Unprocessable Request",
            422,
            detail,
        )
    }

    /// `/request/unprocessable` with a configurable status, for \[UNVERIFIED\] cases.
    pub fn unprocessable_with_status(status: u16, detail: impl Into<String>) -> Self {
        Self {
            status,
            ..Self::unprocessable(detail)
        }
    }

    /// 401 `/auth/not-valid`: missing or malformed `Authorization`.
    pub fn auth_not_valid() -> Self {
        let detail = "Authentication information is missing or invalid. Use your API key as the \
                      user name of HTTP Basic authentication, with an empty password.";
        Self::new(
            "/auth/not-valid",
            "Authentication Info Invalid",
            401,
            detail,
        )
    }

    /// 401 `/auth/key-not-found`: a key that is not in the accepted set.
    pub fn key_not_found() -> Self {
        let detail = "The authentication key is not valid or can't be matched.";
        Self::new(
            "/auth/key-not-found",
            "Authentication Key Not Found",
            401,
            detail,
        )
    }

    /// 520 `/download/temporary-error` ("Website Ban").
    pub fn website_ban(retry_after: u32) -> Self {
        let detail = "Zyte API could not get a ban-free response in a reasonable time. \
                      See https://docs.zyte.com/zyte-api/usage/errors.html#ban-responses";
        Self::new("/download/temporary-error", "Website Ban", 520, detail)
            .with_retry_after(retry_after)
    }

    /// 521 `/download/internal-error`.
    pub fn internal_download_error() -> Self {
        let detail = "There is a downloading problem which is not temporary.";
        Self::new(
            "/download/internal-error",
            "Internal Downloading Error",
            521,
            detail,
        )
    }

    /// 500 `/server/internal`.
    pub fn server_internal() -> Self {
        let detail = "Zyte API encountered an internal error. Try it again.";
        Self::new("/server/internal", "Internal Server Error", 500, detail)
    }

    /// 503 `/limits/over-global-limit`.
    pub fn over_global_limit(retry_after: u32) -> Self {
        let detail = "Zyte API is temporarily overloaded. Retry later.";
        Self::new(
            "/limits/over-global-limit",
            "Global Requests Limit Reached",
            503,
            detail,
        )
        .with_retry_after(retry_after)
    }

    /// 429 `/limits/over-user-limit`.
    pub fn over_user_limit(retry_after: u32) -> Self {
        let detail = "You have reached the requests-per-minute limit of your API key.";
        Self::new(
            "/limits/over-user-limit",
            "Over User Requests Limit",
            429,
            detail,
        )
        .with_retry_after(retry_after)
    }

    /// `/problem/session-expired` (status \[UNVERIFIED\], from the policy; default 422).
    pub fn session_expired(status: u16) -> Self {
        let detail = "The session has expired and cannot be reused yet. Use a new session ID.";
        Self::new(
            "/problem/session-expired",
            "Session Expired",
            status,
            detail,
        )
    }

    /// `/problem/over-session-limit` (status \[UNVERIFIED\], from the policy; default 422).
    pub fn over_session_limit(status: u16, cap: usize) -> Self {
        let detail = format!("The active session limit ({cap}) has been reached.");
        Self::new(
            "/problem/over-session-limit",
            "Over Session Limit",
            status,
            detail,
        )
    }

    /// `/problem/session-creation-error` (status \[UNVERIFIED\], from the policy; default 503).
    pub fn session_creation_error(status: u16, retry_after: u32) -> Self {
        let detail = "The session could not be created. Try again later.";
        let problem = Self::new(
            "/problem/session-creation-error",
            "Session Creation Error",
            status,
            detail,
        );
        if status == 503 {
            problem.with_retry_after(retry_after)
        } else {
            problem
        }
    }

    /// 404 for a path the emulator does not serve.
    pub fn not_found(path: &str) -> Self {
        Self::new(
            "/request/not-found",
            "Not Found",
            404,
            format!("No endpoint at {path}"),
        )
    }

    /// 405 for a known path with the wrong method.
    pub fn method_not_allowed(method: &str, path: &str) -> Self {
        let detail = format!("{method} is not allowed on {path}");
        Self::new(
            "/request/method-not-allowed",
            "Method Not Allowed",
            405,
            detail,
        )
    }

    /// Whether the response carries `WWW-Authenticate`.
    pub fn is_auth_error(&self) -> bool {
        self.status == 401
    }

    /// The JSON body.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_the_four_rfc7807_members() {
        let body: serde_json::Value =
            serde_json::from_slice(&Problem::invalid("Unrecognized field \"foo\"").to_json())
                .expect("problem JSON");
        assert_eq!(
            body,
            serde_json::json!({"type": "/request/invalid", "title": "Bad Request",
                               "status": 400, "detail": "Unrecognized field \"foo\""})
        );
    }

    #[test]
    fn retry_after_is_set_where_the_spec_shows_it() {
        assert_eq!(Problem::website_ban(60).retry_after, Some(60));
        assert_eq!(Problem::over_user_limit(60).retry_after, Some(60));
        assert_eq!(Problem::over_global_limit(60).retry_after, Some(60));
        assert_eq!(Problem::internal_download_error().retry_after, None);
        assert_eq!(Problem::session_creation_error(422, 60).retry_after, None);
    }
}
