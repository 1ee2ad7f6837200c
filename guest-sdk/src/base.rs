//! The reference's default hooks: what [`SessionConfig`]'s default methods do, and what an
//! override calls to get the default behaviour (`super()` in Python).
//!
//! Policy: the host implements the defaults (the WIT `defaults` interface) because they depend
//! on its settings. The component model forbids the host to call back into the guest, so where
//! the reference's default calls another overridable method, these functions make that call on
//! the config first and pass the result in: [`params`] and [`check`] pass `config.location()`,
//! and [`init_session`] is composed here from `preset_init_params`, `config.params()`,
//! `init_request`, [`crate::download`] and `config.check()`.
//!
//! ```
//! use session_host_sdk::{RawResponse, Request, Response, SessionConfig, Verdict, base};
//!
//! struct Strict;
//! impl SessionConfig for Strict {
//!     fn check(&self, response: &Response, request: &Request) -> Result<Verdict, String> {
//!         // Reject pages the site answered with an error, then apply the default check.
//!         let raw = RawResponse::from_response(response)?;
//!         if raw.status_code().is_some_and(|status| status >= 400) {
//!             return Ok(Verdict::Discard);
//!         }
//!         base::check(self, response, request)
//!     }
//! }
//! ```

use serde_json::Value;

use crate::bindings::session_host::config::defaults;
use crate::{
    Address, Hooks, InitError, Params, PoolSpec, Request, Response, SessionConfig, UrlRules, Verdict, download, json,
    response,
};

/// A universal rule (no include pattern) with priority 500.
pub fn rules() -> UrlRules {
    defaults::rules()
}

/// `zyte_api_session_enabled` if the request sets it, else the `enabled` setting.
pub fn enabled(request: &Request) -> bool {
    defaults::enabled(request)
}

/// `zyte_api_session_cookie_mode` if the request sets it, else the `cookie_mode` setting.
pub fn cookie_mode(request: &Request) -> bool {
    defaults::cookie_mode(request)
}

/// The reference's pool derivation (5.2): the request's pool control, else `netloc[n]` for its
/// params control, else `netloc@fields` for its location control, else the URL's netloc.
pub fn pool(request: &Request) -> Result<PoolSpec, String> {
    defaults::pool(request)
}

/// The request's location control if set (even if empty), else the `location` setting.
pub fn location(request: &Request) -> Address {
    defaults::location(request)
}

/// `{"browserHtml": true}`, plus a `setLocation` action when `config.location(request)` is not
/// empty.
pub fn params<C: SessionConfig + ?Sized>(config: &C, request: &Request) -> Result<Params, String> {
    let location = config.location(request)?;
    Params::parse(&defaults::params(request, &location))
}

/// The reference's default check (5.8) for the location `config.location(request)` chose:
/// unsupported `setLocation` closes the pool, a `returned` action discards an init response (when
/// `init_action_failure_invalidates_session` is on), and with a location the first
/// `setLocation` must have succeeded.
///
/// Answered here, without crossing to the host, when the response body has no `"actions"` key
/// text (every HTTP response, and browser responses without actions): the default check then
/// keeps the session whatever the location and the settings, as the host's own check does for
/// the same bodies (`host/src/defaults.rs`). `config.location()` still runs first when the
/// config overrides it, so an error it returns is still this check's error. Otherwise (issue
/// 17) the default cost two host calls, each copying the whole response and request across.
pub fn check<C: SessionConfig + ?Sized>(config: &C, response: &Response, request: &Request) -> Result<Verdict, String> {
    if !has_actions(response) {
        return keep_without_actions(config, request);
    }
    let location = config.location(request)?;
    Ok(defaults::check(response, request, &location))
}

/// The default [`check`] and the value of one top-level field of the response body (`None`
/// when absent), read in one pass over the body: for a check that starts from the default and
/// then reads one field of every response, such as a use check reading `statusCode` (issue 17:
/// the default's scan for `actions` and the field's read were two passes over a body that is
/// mostly a base64 page).
///
/// The verdict is [`check`]'s: a response with a top-level `actions` field goes through
/// [`check`] itself (and the host's default); any other response keeps the session, which is
/// what the host's default answers when it finds no top-level actions to read, even where the
/// text `"actions"` appears elsewhere in the body (nested, or inside a string). Fails where
/// [`RawResponse::field`](crate::RawResponse::field) fails: a body that is not a JSON object.
pub fn check_with_field<C: SessionConfig + ?Sized>(
    config: &C,
    response: &Response,
    request: &Request,
    name: &str,
) -> Result<(Verdict, Option<Value>), String> {
    let (mut actions, mut field) = (false, None);
    json::top_level_fields(&response.body, &["actions", name], |index, value| {
        if index == 0 {
            actions = true;
            if name == "actions" {
                field = Some(value);
            }
        } else {
            field = Some(value);
        }
    })
    .map_err(response::body_error)?;
    if actions {
        return Ok((check(config, response, request)?, field));
    }
    Ok((keep_without_actions(config, request)?, field))
}

/// The default check's answer to a response without actions: keep, after calling an overridden
/// `location` (whose error is the check's, as the reference's check calls it first).
fn keep_without_actions<C: SessionConfig + ?Sized>(config: &C, request: &Request) -> Result<Verdict, String> {
    if C::OVERRIDES.contains(Hooks::LOCATION) {
        config.location(request)?;
    }
    Ok(Verdict::Keep)
}

/// Whether `response`'s body may hold an `actions` field: the key's text appears in it. The
/// default check reads nothing else, so a body without it keeps the session.
///
/// Searched as the quotes of the body that open `actions"`: `memchr` (already in the build
/// through `serde_json`) skips a base64 body, which holds no quote, a word at a time, where
/// `str::contains`' two-way search took about a tenth of a Rust config's whole use request on
/// a 2 KB body (issue 17, `perf` of `benches/request.rs`).
pub fn has_actions(response: &Response) -> bool {
    let body = response.body.as_bytes();
    memchr::memchr_iter(b'"', body).any(|at| body[at + 1..].starts_with(b"actions\""))
}

/// Init params that take precedence over `config.params()` (reference 4.1): the request's params
/// control, else the `params` setting when the request has no non-empty location control.
/// `None`: call `config.params()`. For custom init chains.
pub fn preset_init_params(request: &Request) -> Result<Option<Params>, String> {
    defaults::preset_init_params(request).map(|json| Params::parse(&json)).transpose()
}

/// The init request for `session_id` from init `params`: pops `url` (default: the triggering
/// request's URL), applies cookie mode, copies the triggering request's params and location
/// controls, and marks it `is_init`. For custom init chains, before [`crate::download`].
pub fn init_request(session_id: &str, request: &Request, params: &Params) -> Result<Request, String> {
    defaults::init_request(session_id, request, &params.to_json())
}

/// No change.
///
/// Equivalent to the host's `defaults.process-request`, which the WIT defines as "no change",
/// but answered here: it runs for every request, and crossing the boundary would copy the
/// whole request twice for nothing.
pub fn process_request(request: &Request) -> Option<Request> {
    let _ = request;
    None
}

/// The reference's default `init_session` (5.7):
/// 1. init params: the host's preset (`preset_init_params`: the request's params control, or the
///    `params` setting), else `config.params(request)`; an `Err` is [`InitError::ParamError`];
/// 2. the init request: `defaults::init_request` pops `url`, applies cookie mode and copies the
///    controls; an `Err` is [`InitError::ParamError`];
/// 3. [`crate::download`]; an `Err` is [`InitError::Download`];
/// 4. `config.check(response, init_request)`: `Keep` → `Ok(true)`, `Discard` → `Ok(false)`,
///    `ClosePool` → [`InitError::ClosePool`], `Err` → [`InitError::CheckError`].
pub fn init_session<C: SessionConfig + ?Sized>(
    config: &C,
    session_id: &str,
    request: &Request,
) -> Result<bool, InitError> {
    let params = match defaults::preset_init_params(request) {
        Some(preset) => preset,
        None => config.params(request).map_err(InitError::ParamError)?.to_json(),
    };
    let init_request = defaults::init_request(session_id, request, &params).map_err(InitError::ParamError)?;
    let response = download(&init_request).map_err(InitError::Download)?;
    init_outcome(config.check(&response, &init_request))
}

/// Maps the init response's check to the result of `init-session`.
pub fn init_outcome(checked: Result<Verdict, String>) -> Result<bool, InitError> {
    match checked {
        Ok(Verdict::Keep) => Ok(true),
        Ok(Verdict::Discard) => Ok(false),
        Ok(Verdict::ClosePool(reason)) => Err(InitError::ClosePool(reason)),
        Err(error) => Err(InitError::CheckError(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_actions_finds_the_key_text() {
        let response = |body: &str| Response { status: 200, body: body.into() };
        assert!(has_actions(&response(r#"{"url":"x","actions":[]}"#)));
        assert!(has_actions(&response(r#""actions""#)));
        assert!(!has_actions(&response(r#"{"url":"x","action":[],"actions"#)));
        assert!(!has_actions(&response(r#"{"httpResponseBody":"YWN0aW9ucw=="}"#)));
        assert!(!has_actions(&response("")));
    }

    /// The quote scan answers exactly what `str::contains` answered, on the bodies where they
    /// could part: quotes at the very end, a key split across a quote run, the text inside a
    /// string value, escaped quotes.
    #[test]
    fn issue_17_has_actions_matches_the_substring_search() {
        let bodies = [
            "\"",
            "\"\"",
            "\"actions",
            "\"\"actions\"",
            "\"action\"s\"actions\"",
            r#"{"a":"b","actions"#,
            r#"{"note":"see \"actions\" below"}"#,
            r#"{"url":"x","statusCode":200,"httpResponseBody":"ImFjdGlvbnMi"}"#,
            r#"{"x":"\\\"actions\""}"#,
            r#"{"actions":[{"action":"setLocation","status":"success"}]}"#,
        ];
        for body in bodies {
            let response = Response { status: 200, body: body.into() };
            assert_eq!(has_actions(&response), body.contains("\"actions\""), "{body}");
        }
    }

    /// A config that overrides nothing: the default check needs no host call for a response
    /// without actions.
    struct Plain;
    impl SessionConfig for Plain {
        const OVERRIDES: Hooks = Hooks::empty();
        fn rules(&self) -> UrlRules {
            UrlRules::new()
        }
    }

    /// Issue 17: the one-pass default check plus field answers the default check's verdict
    /// where that needs no host (no top-level `actions`, whatever the rest of the body says)
    /// and the field's value, and fails on a body that is not a JSON object.
    #[test]
    fn issue_17_check_with_field_reads_the_field_and_keeps_without_actions() {
        let request = crate::testing::request("https://a.example/");
        let check = |body: &str| {
            let response = Response { status: 200, body: body.into() };
            check_with_field(&Plain, &response, &request, "statusCode")
        };
        let kept = |status: Option<Value>| Ok((Verdict::Keep, status));
        assert_eq!(check(r#"{"httpResponseBody":"YWN0aW9ucw==","statusCode":403}"#), kept(Some(403.into())));
        assert_eq!(check(r#"{"a":{"actions":[{"action":"setLocation"}]},"statusCode":200}"#), kept(Some(200.into())));
        assert_eq!(check(r#"{"a":["actions"]}"#), kept(None));
        assert_eq!(check(r#"{"note":"\"actions\": [1]"}"#), kept(None));
        assert!(check("[]").is_err());
        assert!(check(r#"{"statusCode": 200"#).is_err());
    }

    #[test]
    fn init_outcome_maps_every_verdict() {
        assert_eq!(init_outcome(Ok(Verdict::Keep)), Ok(true));
        assert_eq!(init_outcome(Ok(Verdict::Discard)), Ok(false));
        assert_eq!(init_outcome(Ok(Verdict::ClosePool("x".into()))), Err(InitError::ClosePool("x".into())));
        assert_eq!(init_outcome(Err("boom".into())), Err(InitError::CheckError("boom".into())));
    }
}
