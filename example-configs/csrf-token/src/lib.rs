//! Example session config for `csrf.example`: a CSRF token found at session initialisation is
//! sent with every request of the session.
//!
//! How it works, hook by hook:
//! - `params`: sessions are initialised on the site's home page, `https://csrf.example/`, with
//!   a cheap HTTP request (`httpResponseBody`), whatever URL triggered the init: every other page
//!   of the site refuses requests without a token.
//! - `check` on the init response: the token is the `value` of the `<input name="csrf_token">`
//!   element; it is stored in the session's data ([`TOKEN_KEY`]), and an init response without
//!   one fails the check. On a use response: statusCode 403 (the site's answer to a missing or
//!   wrong token) discards the session. Both start from the default check.
//! - `process_owned_request` (the `process-request` hook, given the request by value): adds the
//!   session's token to the request, as the header [`TOKEN_HEADER`] for HTTP requests (the host
//!   maps `headers` to `customHttpRequestHeaders`), or as the query parameter [`TOKEN_QUERY`] for
//!   browser requests, which Zyte API does not let send custom headers.
//!
//! The Zyte API emulator's `csrf.example` site (`emulator/scenarios/default.toml`) binds the
//! token to the visitor's session cookie, so a token is only valid within its own session.

use session_host_sdk::{
    Params, RawResponse, Request, Response, SessionConfig, UrlRules, Verdict, base, info, session_data, url, warn,
};

/// The domain this config handles.
pub const DOMAIN: &str = "csrf.example";
/// The session-data key of the token.
pub const TOKEN_KEY: &str = "csrf_token";
/// The header carrying the token on HTTP (`httpResponseBody`) requests.
pub const TOKEN_HEADER: &str = "x-csrf-token";
/// The query parameter carrying the token on other requests.
pub const TOKEN_QUERY: &str = "csrf";
/// The `name` of the form input holding the token on the home page.
const TOKEN_INPUT: &str = "csrf_token";
/// The site's statusCode for a missing or wrong token.
const FORBIDDEN: u16 = 403;

/// The config. Stateless: the token lives in session data.
#[derive(Debug, Default)]
pub struct CsrfToken;

#[session_host_sdk::config]
impl SessionConfig for CsrfToken {
    fn rules(&self) -> UrlRules {
        UrlRules::new().include(DOMAIN)
    }

    fn params(&self, request: &Request) -> Result<Params, String> {
        init_params(&request.url)
    }

    fn check(&self, response: &Response, request: &Request) -> Result<Verdict, String> {
        if !request.is_init {
            // The default check and the status in one pass over the body (a base64 page), which
            // is skipped, not copied: nothing is built but the number.
            let (verdict, status) = base::check_with_field(self, response, request, "statusCode")?;
            if verdict != Verdict::Keep {
                return Ok(verdict);
            }
            return Ok(Verdict::from(status.and_then(|status| status.as_u64()) != Some(u64::from(FORBIDDEN))));
        }
        let verdict = base::check(self, response, request)?;
        if verdict != Verdict::Keep {
            return Ok(verdict);
        }
        let raw = RawResponse::from_response(response)?;
        let html = raw.html().map_err(|error| format!("init response body: {error}"))?;
        match html.as_deref().and_then(extract_token) {
            Some(token) => {
                session_data::set(TOKEN_KEY, token)?;
                info!("CSRF token stored for session {}", request.session_id.as_deref().unwrap_or("?"));
                Ok(Verdict::Keep)
            }
            None => {
                warn!("no CSRF token in the init response from {}", raw.url().unwrap_or(&request.url));
                Ok(Verdict::Discard)
            }
        }
    }

    fn process_owned_request(&self, request: Request) -> Result<Option<Request>, String> {
        let Some(token) = session_data::get(TOKEN_KEY) else {
            warn!("session {} has no CSRF token", request.session_id.as_deref().unwrap_or("?"));
            return Ok(None);
        };
        with_token(request, token).map(Some)
    }
}

session_host_sdk::export_config!(CsrfToken);

/// Init params: an HTTP request for the home page of `url`'s origin.
pub fn init_params(url: &str) -> Result<Params, String> {
    let origin = url::origin(url).ok_or_else(|| format!("cannot find the origin of {url:?}"))?;
    Ok(Params::new().with("url", format!("{origin}/")).with("httpResponseBody", true))
}

/// The token: the `value` attribute of the `<input>` whose `name` is `csrf_token`.
pub fn extract_token(html: &str) -> Option<&str> {
    let name_at = html.find(&format!("name=\"{TOKEN_INPUT}\""))?;
    let tag_start = html[..name_at].rfind('<')?;
    let tag_end = name_at + html[name_at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let value = tag.split(" value=\"").nth(1)?.split('"').next()?;
    (!value.is_empty()).then_some(value)
}

/// `request` carrying `token`: as a header when it is an HTTP request, else in the query. Only
/// the `httpResponseBody` param is read (not a tree of them all); the request is changed in place
/// (the hook takes it by value) and the token moved into the header: nothing is copied.
pub fn with_token(mut request: Request, token: String) -> Result<Request, String> {
    let http = request.param("httpResponseBody")?.and_then(|value| value.as_bool()) == Some(true);
    if http {
        request.set_header(TOKEN_HEADER, token);
    } else {
        request.url = url::with_query_param(&request.url, TOKEN_QUERY, &token);
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use session_host_sdk::testing;

    use super::*;

    /// The emulator's `csrf.example` home page, as rendered.
    const HOME: &str = r#"<!doctype html><html><head><title>CSRF Shop</title></head><body>
<form action="/search" method="post"><input type="hidden" name="csrf_token" value="0123456789abcdef">
<input name="q"></form></body></html>"#;

    #[test]
    fn token_is_read_from_the_form_input() {
        assert_eq!(extract_token(HOME), Some("0123456789abcdef"));
        assert_eq!(extract_token(r#"<input value="v1" name="csrf_token">"#), Some("v1"));
        assert_eq!(extract_token(r#"<input name="q" value="x">"#), None);
        assert_eq!(extract_token(r#"<input name="csrf_token" value="">"#), None);
    }

    #[test]
    fn init_params_target_the_home_page() {
        let params = init_params("https://csrf.example/search?q=a").unwrap();
        assert_eq!(params.to_json(), r#"{"httpResponseBody":true,"url":"https://csrf.example/"}"#);
        assert!(init_params("csrf.example").is_err());
    }

    #[test]
    fn http_requests_get_the_header() {
        let mut request = testing::request("https://csrf.example/search?q=a");
        request.params = r#"{"httpResponseBody":true}"#.into();
        let sent = with_token(request.clone(), "t0k".into()).unwrap();
        assert_eq!(sent.header("X-CSRF-Token"), Some("t0k"));
        assert_eq!(sent.url, request.url);
    }

    #[test]
    fn browser_requests_get_the_query_parameter() {
        let mut request = testing::request("https://csrf.example/search?q=a");
        request.params = r#"{"browserHtml":true}"#.into();
        let sent = with_token(request.clone(), "t0k".into()).unwrap();
        assert_eq!(sent.url, "https://csrf.example/search?q=a&csrf=t0k");
        assert!(sent.headers.is_empty());
    }
}
