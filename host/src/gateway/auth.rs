//! Gateway authentication: HTTP Basic, as Zyte API does it, so existing clients only change
//! their key.
//!
//! Policy: the gateway key is the user name (`curl --user KEY:`; python-zyte-api sends
//! `Authorization: Basic base64("KEY:")`); the password is ignored. With a key configured, a
//! missing, malformed or different key is a 401 `unauthorized` problem with
//! `WWW-Authenticate: Basic realm="session-host"`, and the comparison takes the same time
//! wherever the keys differ. Without a key, [`super::bind`] only allows loopback, and since a
//! web page the operator visits can also reach loopback, a keyless gateway refuses what a
//! browser sends on a page's behalf ([`check_browser`]):
//! - a `Host` other than `localhost`, `127.0.0.1` or `[::1]` (with any port) is a 403
//!   `forbidden`: after DNS rebinding, a page's requests carry its own domain;
//! - a `POST` whose `Content-Type` is not `application/json` is a 415
//!   `unsupported-media-type`: a cross-site form or `fetch` without CORS preflight can only
//!   send `text/plain`, form types, or nothing. Every Zyte API client sends JSON.
//!
//! The client's credentials are never forwarded to Zyte API (the engine uses its own key) and
//! never logged.

use std::str::FromStr;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;

use super::GatewayState;
use crate::problem::{Problem, ProblemKind};
use crate::secret::Secret;

/// The key clients must present: a [`Secret`], so it prints `***` and compares in constant time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayKey(Secret);

impl GatewayKey {
    /// Wraps `key`; `None` when it is empty (an empty key would protect nothing).
    pub fn new(key: impl Into<String>) -> Option<Self> {
        let key = Secret::new(key);
        (!key.is_empty()).then_some(Self(key))
    }

    /// The key itself, for deriving the dashboard's secrets from it (never printed).
    pub(crate) fn expose(&self) -> &str {
        self.0.expose()
    }

    /// Whether `candidate` is this key, in time independent of where they differ.
    pub fn matches(&self, candidate: &str) -> bool {
        self.0.matches(candidate)
    }
}

impl FromStr for GatewayKey {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s).ok_or("the gateway key must not be empty")
    }
}

/// Checks `headers` against `key` (see the module policy).
///
/// # Errors
/// A 401 `unauthorized` problem saying what was wrong, never echoing what was sent.
pub fn check(key: Option<&GatewayKey>, headers: &HeaderMap) -> Result<(), Problem> {
    let Some(key) = key else { return Ok(()) };
    let user = basic_user(headers).map_err(|why| Problem::new(ProblemKind::Unauthorized, why))?;
    if key.matches(&user) {
        Ok(())
    } else {
        let detail = "the gateway key (the HTTP Basic user name) is not valid";
        Err(Problem::new(ProblemKind::Unauthorized, detail))
    }
}

/// The browser guard of a keyless gateway (see the module policy).
///
/// Reads `Host` and `Content-Type` in one pass over the headers, each the first of its name
/// as `HeaderMap::get` gives it (issue 17, eighth round: each `get` hashed its name, and the
/// pass over a client's few headers costs less than the two hashes).
///
/// # Errors
/// A 403 `forbidden` for a non-loopback `Host`, a 415 `unsupported-media-type` for a `POST`
/// that is not JSON. Neither echoes what was sent.
pub fn check_browser(method: &Method, headers: &HeaderMap, uri: &Uri) -> Result<(), Problem> {
    let (mut host, mut content_type) = (None, None);
    for (name, value) in headers {
        if *name == header::HOST {
            host.get_or_insert(value);
        } else if *name == header::CONTENT_TYPE {
            content_type.get_or_insert(value);
        }
        if host.is_some() && content_type.is_some() {
            break;
        }
    }
    let host = match host {
        Some(value) => value.to_str().ok(),
        None => uri.authority().map(|a| a.as_str()),
    };
    if !host.is_some_and(is_loopback_host) {
        let detail = "without a gateway key, only requests to localhost, 127.0.0.1 or [::1] are \
                      served (the Host header names another host, as after DNS rebinding)";
        return Err(Problem::new(ProblemKind::Forbidden, detail));
    }
    if method == Method::POST && !content_type.is_some_and(is_json_value) {
        let detail = "without a gateway key, POST bodies must be sent with \
                      `Content-Type: application/json` (browsers cannot send it cross-site)";
        return Err(Problem::new(ProblemKind::UnsupportedMediaType, detail));
    }
    Ok(())
}

/// Whether the request's `Host` is `localhost`, `127.0.0.1` or `[::1]` (the dashboard's guard
/// of a keyless gateway, as [`check_browser`]'s).
pub(crate) fn is_loopback_request(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    host.is_some_and(is_loopback_host)
}

/// `localhost`, `127.0.0.1` or `[::1]`, with an optional port. Compares bytes: the text is a
/// header value's (`to_str`: visible ASCII) or a URI's authority, ASCII either way.
fn is_loopback_host(host: &str) -> bool {
    let host = host.as_bytes();
    let name = match host.iter().rposition(|&b| b == b':') {
        Some(colon) if colon > 0 && host[colon + 1..].iter().all(u8::is_ascii_digit) => {
            &host[..colon]
        }
        _ => host,
    };
    name.eq_ignore_ascii_case(b"localhost") || name == b"127.0.0.1" || name == b"[::1]"
}

/// Whether the `Content-Type` is `application/json` (parameters such as `charset` allowed).
pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).is_some_and(is_json_value)
}

/// [`is_json`] of one `Content-Type` value. On bytes: a value `to_str` accepts holds visible
/// ASCII and tabs, where trimming ASCII whitespace is trimming Unicode whitespace.
fn is_json_value(value: &HeaderValue) -> bool {
    let Ok(text) = value.to_str() else {
        return false;
    };
    let text = text.as_bytes();
    let essence = text.split(|&b| b == b';').next().unwrap_or_default();
    essence
        .trim_ascii()
        .eq_ignore_ascii_case(b"application/json")
}

/// The user name of a Basic `Authorization` header.
fn basic_user(headers: &HeaderMap) -> Result<String, &'static str> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or("authentication required: send the gateway key as the HTTP Basic user name")?;
    let value = value.to_str().map_err(|_| MALFORMED)?;
    let (scheme, credentials) = value.trim().split_once(' ').ok_or(MALFORMED)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err("only HTTP Basic authentication is supported");
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(credentials.trim())
        .map_err(|_| MALFORMED)?;
    let decoded = String::from_utf8(decoded).map_err(|_| MALFORMED)?;
    let user = decoded.split_once(':').map_or(decoded.as_str(), |(u, _)| u);
    Ok(user.to_owned())
}

const MALFORMED: &str = "malformed Authorization header: expected `Basic base64(KEY:)`";

/// Middleware of the protected routes: runs [`check`] before the handler reads any body.
pub async fn require_key(
    State(state): State<GatewayState>,
    request: Request,
    next: Next,
) -> Result<Response, Problem> {
    admit(&state, &request)?;
    Ok(next.run(request).await)
}

/// [`check`], and [`check_browser`] when the gateway has no key: what [`require_key`] checks
/// before a protected route (and [`super::front`] before its direct `POST /v1/extract`).
///
/// # Errors
/// The problem of the check that failed.
pub(super) fn admit(state: &GatewayState, request: &Request) -> Result<(), Problem> {
    let key = state.config().key.as_ref();
    check(key, request.headers())?;
    if key.is_none() {
        check_browser(request.method(), request.headers(), request.uri())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(credentials: &str) -> HeaderMap {
        let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
        let mut headers = HeaderMap::new();
        let value = HeaderValue::from_str(&format!("Basic {encoded}")).expect("header");
        headers.insert(header::AUTHORIZATION, value);
        headers
    }

    #[test]
    fn the_key_is_the_user_name_and_the_password_is_ignored() {
        let key = GatewayKey::new("k3y").expect("key");
        assert!(check(Some(&key), &basic("k3y:")).is_ok());
        assert!(check(Some(&key), &basic("k3y:whatever")).is_ok());
        assert!(check(Some(&key), &basic("k3y")).is_ok());
        for bad in ["k3:", "k3yy:", ":k3y", ""] {
            let problem = check(Some(&key), &basic(bad)).expect_err(bad);
            assert_eq!(problem.kind(), Some(ProblemKind::Unauthorized));
        }
    }

    #[test]
    fn missing_or_malformed_headers_are_401s_that_say_why() {
        let key = GatewayKey::new("k").expect("key");
        let missing = check(Some(&key), &HeaderMap::new()).expect_err("missing");
        assert!(missing.detail.starts_with("authentication required"));
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer k"));
        let bearer = check(Some(&key), &headers).expect_err("bearer");
        assert_eq!(bearer.detail, "only HTTP Basic authentication is supported");
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        assert_eq!(
            check(Some(&key), &headers).expect_err("bad").detail,
            MALFORMED
        );
    }

    fn browser(
        method: Method,
        host: Option<&str>,
        content_type: Option<&str>,
    ) -> Result<(), Problem> {
        let mut headers = HeaderMap::new();
        if let Some(host) = host {
            headers.insert(header::HOST, HeaderValue::from_str(host).expect("host"));
        }
        if let Some(ct) = content_type {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).expect("ct"));
        }
        check_browser(&method, &headers, &Uri::from_static("/v1/extract"))
    }

    #[test]
    fn issue_13_a_keyless_gateway_refuses_what_browsers_send() {
        let json = Some("application/json");
        for host in [
            "localhost",
            "LOCALHOST:8020",
            "127.0.0.1",
            "127.0.0.1:1",
            "[::1]",
            "[::1]:80",
        ] {
            assert!(browser(Method::POST, Some(host), json).is_ok(), "{host}");
            assert!(browser(Method::GET, Some(host), None).is_ok(), "{host}");
        }
        assert!(
            browser(
                Method::POST,
                Some("localhost"),
                Some("Application/JSON; charset=utf-8")
            )
            .is_ok()
        );
        for host in [
            Some("evil.example"),
            Some("evil.example:8020"),
            Some("127.0.0.1.evil.example"),
            Some("localhost.evil:80"),
            Some("::1"),
            None,
        ] {
            let problem = browser(Method::GET, host, None).expect_err("rebinding");
            assert_eq!(problem.kind(), Some(ProblemKind::Forbidden), "{host:?}");
        }
        for ct in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/jsonx"),
        ] {
            let problem =
                browser(Method::POST, Some("localhost:8020"), ct).expect_err("simple request");
            assert_eq!(
                problem.kind(),
                Some(ProblemKind::UnsupportedMediaType),
                "{ct:?}"
            );
        }
    }

    /// Issue 17 (eighth round, one pass over the headers): the guard reads the first `Host`
    /// and the first `Content-Type`, as `HeaderMap::get` does, whichever comes first and
    /// whatever other headers come between. Fails if the pass kept a later value, or stopped
    /// before it had both.
    #[test]
    fn issue_17_the_browser_guard_reads_the_first_host_and_content_type() {
        let guard = |pairs: &[(header::HeaderName, &'static str)]| {
            let mut headers = HeaderMap::new();
            for (name, value) in pairs {
                headers.append(name.clone(), HeaderValue::from_static(value));
            }
            check_browser(&Method::POST, &headers, &Uri::from_static("/v1/extract"))
                .map_err(|problem| problem.kind())
        };
        let (host, ct, other) = (header::HOST, header::CONTENT_TYPE, header::ACCEPT);
        let json = "application/json";
        assert_eq!(
            guard(&[(host.clone(), "localhost"), (ct.clone(), json)]),
            Ok(())
        );
        assert_eq!(
            guard(&[
                (ct.clone(), json),
                (other.clone(), "*/*"),
                (host.clone(), "[::1]:1")
            ]),
            Ok(())
        );
        let forbidden = Err(Some(ProblemKind::Forbidden));
        assert_eq!(
            guard(&[
                (host.clone(), "evil.example"),
                (host.clone(), "localhost"),
                (ct.clone(), json)
            ]),
            forbidden
        );
        assert_eq!(
            guard(&[
                (ct.clone(), json),
                (host.clone(), "localhost"),
                (host.clone(), "evil.example")
            ]),
            Ok(())
        );
        let unsupported = Err(Some(ProblemKind::UnsupportedMediaType));
        assert_eq!(
            guard(&[
                (ct.clone(), "text/plain"),
                (host.clone(), "localhost"),
                (ct.clone(), json)
            ]),
            unsupported
        );
        assert_eq!(
            guard(&[
                (host.clone(), "localhost"),
                (ct.clone(), json),
                (ct.clone(), "text/plain")
            ]),
            Ok(())
        );
        assert_eq!(
            guard(&[(other.clone(), json), (host.clone(), "localhost")]),
            unsupported
        );
        assert_eq!(
            guard(&[(ct.clone(), json), (other, "localhost")]),
            forbidden
        );
    }

    #[test]
    fn without_a_key_anything_passes_and_keys_never_print() {
        assert!(check(None, &HeaderMap::new()).is_ok());
        let key = GatewayKey::new("s3cr3t").expect("key");
        assert_eq!(format!("{key:?}"), "GatewayKey(***)");
        assert!(GatewayKey::new("").is_none());
        assert!("".parse::<GatewayKey>().is_err());
    }
}
