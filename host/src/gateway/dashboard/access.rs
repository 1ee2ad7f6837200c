//! Who may use the dashboard, and how its one action is protected against cross-site requests.
//!
//! Policy (a deliberate exception to the API's rules, see [`crate::gateway::auth`]): the API
//! authenticates every request with HTTP Basic, which a browser page cannot present without a
//! prompt; the dashboard's routes (`/`, `/events`, `/dashboard/...`) also accept a cookie.
//! - **With a gateway key**, `GET /` without credentials shows a login form. Posting the right
//!   key (compared in constant time) sets the cookie `session-host-dashboard`, `HttpOnly`
//!   (scripts cannot read it), `SameSite=Strict` (no other site's page sends it) and `Path=/`.
//!   Its value is an HMAC-SHA256 of a random per-process secret under the key, not the key:
//!   it proves the key was shown, ends with the process, and never reveals the key. HTTP Basic
//!   with the key works on these routes too.
//! - **Without a key** the dashboard is served only on loopback, and only to a loopback `Host`
//!   (as the API, against DNS rebinding).
//! - **The Reopen action** (`POST /dashboard/pools/{id}/reopen`) also requires: the page's
//!   CSRF token in `x-csrf-token` (an HMAC of the same secret, embedded in the page, which
//!   another site's script cannot read), `Content-Type: application/json`, an `Origin` (when
//!   sent) naming this gateway's own `Host`, and a `Sec-Fetch-Site` (when sent) of
//!   `same-origin`. A cross-site form or `fetch` fails each of these checks; the custom header
//!   alone forces a CORS preflight, which the gateway never grants. The login form's `POST` is
//!   held to the same `Origin` and `Sec-Fetch-Site` checks.
//! - Pages are sent with `frame-ancestors 'none'` and `X-Frame-Options: DENY`, so no other site
//!   can frame the page to make a click land on Reopen.

use axum::http::{HeaderMap, header};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::gateway::GatewayKey;
use crate::gateway::auth;
use crate::problem::{Problem, ProblemKind};

/// The dashboard's cookie.
pub const COOKIE: &str = "session-host-dashboard";
/// The header carrying the page's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The per-process secrets of the dashboard: the cookie a login sets and the page's CSRF token.
#[derive(Clone)]
pub struct Access {
    key: Option<GatewayKey>,
    cookie: String,
    csrf: String,
}

impl Access {
    /// Fresh secrets for a gateway guarded by `key` (or by loopback).
    pub fn new(key: Option<GatewayKey>) -> Self {
        let nonce: [u8; 32] = rand::random();
        let derive = |purpose: &str| {
            let mut mac = Hmac::<Sha256>::new_from_slice(&nonce).expect("HMAC takes any key");
            mac.update(purpose.as_bytes());
            if let Some(key) = &key {
                mac.update(key.expose().as_bytes());
            }
            hex::encode(mac.finalize().into_bytes())
        };
        Self {
            cookie: derive("cookie"),
            csrf: derive("csrf"),
            key,
        }
    }

    /// The page's CSRF token.
    pub fn csrf(&self) -> &str {
        &self.csrf
    }

    /// Whether a key guards the gateway.
    pub fn key_required(&self) -> bool {
        self.key.is_some()
    }

    /// The `Set-Cookie` value after a login.
    pub fn set_cookie(&self) -> String {
        format!(
            "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
            self.cookie
        )
    }

    /// Whether `candidate` is the gateway key (constant time).
    pub fn key_matches(&self, candidate: &str) -> bool {
        self.key.as_ref().is_some_and(|k| k.matches(candidate))
    }

    /// Whether the request may read the dashboard: a keyless gateway on a loopback `Host`, or
    /// the cookie, or HTTP Basic with the key.
    pub fn allowed(&self, headers: &HeaderMap) -> bool {
        match &self.key {
            None => auth::is_loopback_request(headers),
            Some(key) => self.has_cookie(headers) || auth::check(Some(key), headers).is_ok(),
        }
    }

    fn has_cookie(&self, headers: &HeaderMap) -> bool {
        let cookies = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok());
        let mut values = cookies.flat_map(|c| c.split(';')).filter_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE).then_some(value)
        });
        values.any(|value| bool::from(value.as_bytes().ct_eq(self.cookie.as_bytes())))
    }

    /// The checks of the Reopen action (see the module policy).
    ///
    /// # Errors
    /// A 401 without credentials, a 403 for a missing or wrong token or a cross-site request,
    /// a 415 for a body that is not JSON.
    pub fn check_action(&self, headers: &HeaderMap) -> Result<(), Problem> {
        if !self.allowed(headers) {
            return Err(Problem::new(
                ProblemKind::Unauthorized,
                "log in to the dashboard first",
            ));
        }
        same_origin(headers)?;
        let token = headers
            .get(CSRF_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if !bool::from(token.ct_eq(self.csrf.as_bytes())) {
            let detail = "missing or wrong x-csrf-token: reload the dashboard";
            return Err(Problem::new(ProblemKind::Forbidden, detail));
        }
        if !auth::is_json(headers) {
            let detail = "dashboard actions are sent with `Content-Type: application/json`";
            return Err(Problem::new(ProblemKind::UnsupportedMediaType, detail));
        }
        Ok(())
    }
}

/// Refuses a request that a browser says came from another site (see the module policy).
///
/// # Errors
/// A 403 `forbidden` naming the header that showed it.
pub fn same_origin(headers: &HeaderMap) -> Result<(), Problem> {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        if site != "same-origin" {
            let detail = "a cross-site request (Sec-Fetch-Site) cannot use the dashboard";
            return Err(Problem::new(ProblemKind::Forbidden, detail));
        }
    }
    if let Some(origin) = text("origin") {
        let host = text("host").unwrap_or("");
        let bare = origin.split_once("://").map_or("", |(_, rest)| rest);
        if host.is_empty() || bare != host {
            let detail = "a request from another origin (Origin) cannot use the dashboard";
            return Err(Problem::new(ProblemKind::Forbidden, detail));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).expect("value"));
        }
        map
    }

    #[test]
    fn issue_19_the_cookie_admits_and_cross_site_actions_are_refused() {
        let access = Access::new(GatewayKey::new("k3y"));
        let cookie = format!("a=b; {COOKIE}={}", access.cookie);
        let csrf = access.csrf().to_owned();
        assert!(!access.allowed(&headers(&[("host", "127.0.0.1:1")])));
        assert!(access.allowed(&headers(&[("cookie", &cookie)])));
        assert!(!access.allowed(&headers(&[("cookie", &format!("{COOKIE}=forged"))])));
        assert!(access.set_cookie().contains("HttpOnly; SameSite=Strict"));
        let good = [
            ("host", "127.0.0.1:8020"),
            ("origin", "http://127.0.0.1:8020"),
            ("sec-fetch-site", "same-origin"),
            ("content-type", "application/json"),
            ("cookie", cookie.as_str()),
            ("x-csrf-token", csrf.as_str()),
        ];
        assert!(access.check_action(&headers(&good)).is_ok());
        for (i, bad) in [
            ("origin", "http://evil.example"),
            ("sec-fetch-site", "cross-site"),
            ("content-type", "text/plain"),
            ("x-csrf-token", "guess"),
            ("cookie", "none=1"),
        ]
        .into_iter()
        .enumerate()
        {
            let mut pairs = good.to_vec();
            pairs.retain(|(name, _)| *name != bad.0);
            pairs.push(bad);
            assert!(
                access.check_action(&headers(&pairs)).is_err(),
                "{i}: {bad:?}"
            );
        }
        assert_ne!(
            Access::new(GatewayKey::new("k3y")).csrf(),
            csrf,
            "per process"
        );
    }
}
