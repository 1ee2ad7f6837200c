//! The 200 response body of `/v1/extract`.
//!
//! Policy: fields appear only when requested (`httpResponseBody` base64 of the page HTML,
//! `httpResponseHeaders` as `[{name, value}]`, `browserHtml` after actions), `actions` whenever
//! the request had actions, `session` echoed for user-managed sessions, `echoData` and `jobId`
//! verbatim. `url` and `statusCode` are always present. A screenshot is a fixed 1×1 PNG.

use serde::Serialize;
use serde_json::Value;

use crate::actions::ActionResult;

/// A 1×1 transparent PNG, base64: the emulator does not draw pages.
pub const SCREENSHOT_PNG: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";

/// A `{name, value}` header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Header {
    /// Lowercase name.
    pub name: String,
    /// Value.
    pub value: String,
}

/// A cookie of `responseCookies`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cookie {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
    /// Domain (the host of the page that set it).
    pub domain: String,
    /// Path.
    pub path: String,
    /// HttpOnly flag.
    pub http_only: bool,
    /// Secure flag.
    pub secure: bool,
    /// SameSite.
    pub same_site: &'static str,
}

/// `{"id": ...}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SessionEcho {
    /// The session id.
    pub id: String,
}

/// The JSON of a 200.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtractResponse<'a> {
    /// Final URL.
    pub url: &'a str,
    /// The website's status.
    pub status_code: u16,
    /// Base64 body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_response_body: Option<String>,
    /// Response headers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_response_headers: Option<&'a [Header]>,
    /// HTML after actions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser_html: Option<&'a str>,
    /// Base64 image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub screenshot: Option<&'static str>,
    /// Action results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actions: Option<&'a [ActionResult]>,
    /// Cookies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_cookies: Option<&'a [Cookie]>,
    /// Network capture (always empty: there is no network).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_capture: Option<[(); 0]>,
    /// The session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionEcho>,
    /// `echoData`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub echo_data: Option<&'a Value>,
    /// `jobId`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<&'a str>,
}

impl ExtractResponse<'_> {
    /// The JSON bytes.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec())
    }
}
