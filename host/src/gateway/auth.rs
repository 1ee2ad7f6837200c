//! Gateway authentication: HTTP Basic, as Zyte API does it, so existing clients only change
//! their key.
//!
//! Policy: the gateway key is the user name (`curl --user KEY:`; python-zyte-api sends
//! `Authorization: Basic base64("KEY:")`); the password is ignored. With a key configured, a
//! missing, malformed or different key is a 401 `unauthorized` problem with
//! `WWW-Authenticate: Basic realm="session-host"`, and the comparison takes the same time
//! wherever the keys differ. Without a key, every request passes: [`super::bind`] only allows
//! that on loopback. The client's credentials are never forwarded to Zyte API (the engine uses
//! its own key) and never logged.

use std::fmt;
use std::str::FromStr;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;

use super::GatewayState;
use crate::problem::{Problem, ProblemKind};

/// The key clients must present. Its `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct GatewayKey(String);

impl GatewayKey {
    /// Wraps `key`; `None` when it is empty (an empty key would protect nothing).
    pub fn new(key: impl Into<String>) -> Option<Self> {
        let key = key.into();
        (!key.is_empty()).then_some(Self(key))
    }

    /// Whether `candidate` is this key, in time independent of where they differ.
    pub fn matches(&self, candidate: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), candidate.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl FromStr for GatewayKey {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s).ok_or("the gateway key must not be empty")
    }
}

impl fmt::Debug for GatewayKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for GatewayKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
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
    check(state.config().key.as_ref(), request.headers())?;
    Ok(next.run(request).await)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

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

    #[test]
    fn without_a_key_anything_passes_and_keys_never_print() {
        assert!(check(None, &HeaderMap::new()).is_ok());
        let key = GatewayKey::new("s3cr3t").expect("key");
        assert_eq!(format!("{key} {key:?}"), "*** ***");
        assert!(GatewayKey::new("").is_none());
        assert!("".parse::<GatewayKey>().is_err());
    }
}
