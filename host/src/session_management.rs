//! What the front ends (the gateway, batch runs) accept as a Zyte API request body: a string
//! `url`, and an optional `sessionManagement` object, what the reference puts in request meta
//! (`zyte_api_session_*`).
//!
//! # Policy
//!
//! - **Only `url` is checked** ([`engine_request`]): it must be a string. Everything else about
//!   the body is Zyte API's to validate, so new Zyte API fields work without a host release.
//! - **`sessionManagement` is removed before sending.** [`take_controls`] removes the field from
//!   the body, so Zyte API never sees it, and returns the [`SessionControls`] it spells.
//! - **Strict.** Every key and every type is checked, since a typo would otherwise silently
//!   change nothing. An unknown key (reported before any wrong type in the same object), a wrong
//!   type or an empty pool id is an error whose message names the field's path
//!   (`` `sessionManagement.location.zip` ``), what was expected and what was found. Nothing is
//!   coerced: `"true"` is not a boolean.
//! - **`null` means absent**, for the object itself and for each of its keys, so a client that
//!   serialises unset options as `null` gets the host's settings.
//! - **The reference's truthiness is kept where it decides something.** An empty `location`
//!   object is kept (it suppresses the host's default location, docs/reference.md §4.1); an empty
//!   `pool` string means "no pool given" (the reference's default for `zyte_api_session_pool` is
//!   `""`). A pool object needs a non-empty `id`.
//! - **Never a panic**, whatever the body (property-tested in the gateway's request tests).
//!
//! | Key | Type | Reference meta key |
//! | --- | --- | --- |
//! | `enabled` | boolean | `zyte_api_session_enabled` |
//! | `cookieMode` | boolean | `zyte_api_session_cookie_mode` |
//! | `params` | object (init parameters, may carry `url`) | `zyte_api_session_params` |
//! | `location` | object: `addressCountry`, `addressRegion`, `postalCode`, `streetAddress` (strings) | `zyte_api_session_location` |
//! | `pool` | string (pool id), or object: `id` (string), `size` (integer ≥ 1), `delay` (number ≥ 0, seconds), `randomizeDelay` (boolean) | `zyte_api_session_pool` |
//! | `retryPolicy` | string: `default`, `aggressive`, `session-default`, `session-aggressive` or a custom policy of the settings (`[sessions.retry_policies.NAME]`), at most [`MAX_RETRY_POLICY_BYTES`] bytes; an unknown name is refused by the engine | `zyte_api_retry_policy` |
//!
//! ```
//! use serde_json::json;
//! use session_host::session_management::engine_request;
//!
//! let body = json!({
//!     "url": "https://example.com",
//!     "httpResponseBody": true,
//!     "sessionManagement": {"location": {"postalCode": "10001"}, "pool": "shop"},
//! });
//! let request = engine_request(body.as_object().unwrap().clone()).unwrap();
//! assert!(!request.body.contains_key("sessionManagement"));
//! assert_eq!(request.controls.pool.unwrap().id, "shop");
//!
//! let bad = json!({"url": "https://example.com", "sessionManagement": {"enabeld": true}});
//! let error = engine_request(bad.as_object().unwrap().clone()).unwrap_err();
//! assert_eq!(
//!     error.to_string(),
//!     "unknown key `sessionManagement.enabeld`; expected one of: enabled, cookieMode, params, location, retryPolicy, pool"
//! );
//! ```

use serde_json::{Map, Value};

use crate::engine::EngineRequest;
use crate::plugin::{Address, PoolSpec, SessionControls};
use crate::wire::{json_kind, no_controls, pool_spec};

/// The body field that carries the controls.
pub const FIELD: &str = "sessionManagement";

/// The keys of `sessionManagement`.
pub const KEYS: [&str; 6] = [
    "enabled",
    "cookieMode",
    "params",
    "location",
    "retryPolicy",
    "pool",
];

/// Longest `sessionManagement.retryPolicy` accepted: a name, echoed in the error that an
/// unknown one gets.
pub const MAX_RETRY_POLICY_BYTES: usize = 128;

/// What a `sessionManagement` value spells: the session controls, and the retry policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Management {
    /// The session controls.
    pub controls: SessionControls,
    /// `retryPolicy`: the name of the retry policy the request chose.
    pub retry_policy: Option<String>,
}

/// The keys of `sessionManagement.location`.
pub const LOCATION_KEYS: [&str; 4] = [
    "addressCountry",
    "addressRegion",
    "postalCode",
    "streetAddress",
];

/// The keys of `sessionManagement.pool` when it is an object.
pub const POOL_KEYS: [&str; 4] = ["id", "size", "delay", "randomizeDelay"];

/// Why a request body was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The body has no `url`.
    #[error("the request has no `url`")]
    NoUrl,
    /// The body's `url` is not a string.
    #[error("`url` must be a string, got {found}")]
    UrlNotString {
        /// What it is, e.g. `a number`.
        found: &'static str,
    },
    /// The body's `url` is longer than [`MAX_URL_CHARS`].
    #[error("`url` is {chars} characters long; the limit is {MAX_URL_CHARS} (Zyte API's)")]
    UrlTooLong {
        /// Its length in characters.
        chars: usize,
    },
    /// The host of the body's `url` is longer than [`MAX_HOST_CHARS`].
    #[error(
        "the host of `url` is {chars} characters long (in ASCII form); the limit is {MAX_HOST_CHARS} (DNS's)"
    )]
    HostTooLong {
        /// Its length in characters, in its ASCII (IDNA) form.
        chars: usize,
    },
    /// The body's `sessionManagement` is invalid.
    #[error(transparent)]
    SessionManagement(#[from] SessionManagementError),
}

/// Why a `sessionManagement` value was refused. Every variant names the field's full path.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionManagementError {
    /// A key that the object does not have.
    #[error("unknown key `{path}`; expected one of: {expected}")]
    UnknownKey {
        /// The key's path, e.g. `sessionManagement.foo`.
        path: String,
        /// The accepted keys, comma-separated.
        expected: String,
    },
    /// A value of the wrong JSON type or out of range.
    #[error("`{path}` must be {expected}, got {found}")]
    Invalid {
        /// The field's path, e.g. `sessionManagement.pool.size`.
        path: String,
        /// What was expected, e.g. `a boolean`.
        expected: &'static str,
        /// What was found, e.g. `a string` or `the number 0`.
        found: String,
    },
    /// A required key is absent.
    #[error("`{path}` has no `{key}`")]
    Missing {
        /// The object's path, e.g. `sessionManagement.pool`.
        path: String,
        /// The key, e.g. `id`.
        key: &'static str,
    },
    /// A string that must not be empty is.
    #[error("`{path}` must not be empty")]
    Empty {
        /// The field's path, e.g. `sessionManagement.pool.id`.
        path: String,
    },
}

/// Longest `url` accepted, in characters: Zyte API's own limit (its `url` has `maxLength:
/// 8192`), so a URL that Zyte API would refuse never costs a session initialisation. Before this
/// check, a URL with a 70,000-character host spent 123 s in failing session inits (issue 12).
pub const MAX_URL_CHARS: usize = 8192;

/// Longest host accepted in a `url`, in its ASCII (IDNA) form: DNS's limit for a name, so no
/// site can have a longer one. Checked only when the `url` parses as a URL; one that does not is
/// Zyte API's to refuse.
pub const MAX_HOST_CHARS: usize = 253;

/// The engine request of a body: its `url` checked (a string, within [`MAX_URL_CHARS`] and
/// [`MAX_HOST_CHARS`]), its `sessionManagement` taken out and parsed into the request's
/// controls.
pub fn engine_request(mut body: Map<String, Value>) -> Result<EngineRequest, RequestError> {
    match body.get("url") {
        Some(Value::String(url)) => check_url(url)?,
        Some(other) => {
            let found = json_kind(other);
            return Err(RequestError::UrlNotString { found });
        }
        None => return Err(RequestError::NoUrl),
    }
    let Management {
        controls,
        retry_policy,
    } = take_management(&mut body)?;
    Ok(EngineRequest {
        body,
        controls,
        retry_policy,
    })
}

/// Refuses a `url` longer than [`MAX_URL_CHARS`], or whose host is longer than
/// [`MAX_HOST_CHARS`].
pub(crate) fn check_url(url: &str) -> Result<(), RequestError> {
    if url.len() > MAX_URL_CHARS {
        let chars = url.chars().count();
        if chars > MAX_URL_CHARS {
            return Err(RequestError::UrlTooLong { chars });
        }
    }
    if url.len() <= MAX_HOST_CHARS && url.is_ascii() && !url.contains('%') {
        // No parse needed (issue 17: it was 3.3k instructions of every request with sessions
        // on): the host of an ASCII URL without percent-escapes is a lower-cased substring of
        // it, or an IPv4 address rewritten to at most 15 characters, so it cannot be longer
        // than MAX_HOST_CHARS. Non-ASCII and escaped hosts grow under IDNA and are parsed.
        return Ok(());
    }
    let parsed = url::Url::parse(url).ok();
    let chars = parsed
        .as_ref()
        .and_then(|u| u.host_str())
        .map_or(0, str::len);
    if chars > MAX_HOST_CHARS {
        return Err(RequestError::HostTooLong { chars });
    }
    Ok(())
}

/// Removes `sessionManagement` from `body` and parses it; no field gives [`no_controls`] and
/// no retry policy.
///
/// The field is removed even when it is invalid, so that a caller that reports the error does
/// not forward it by mistake.
pub fn take_management(
    body: &mut Map<String, Value>,
) -> Result<Management, SessionManagementError> {
    match body.remove(FIELD) {
        None => Ok(Management {
            controls: no_controls(),
            retry_policy: None,
        }),
        Some(value) => parse_management(&value),
    }
}

/// Parses the session controls of a `sessionManagement` value ([`parse_management`]).
pub fn parse_controls(value: &Value) -> Result<SessionControls, SessionManagementError> {
    parse_management(value).map(|m| m.controls)
}

/// Parses the value of a `sessionManagement` field (`null` gives [`no_controls`]).
pub fn parse_management(value: &Value) -> Result<Management, SessionManagementError> {
    let (mut controls, mut retry_policy) = (no_controls(), None);
    if let Some(object) = object_or_null(value, FIELD)? {
        members(object, &KEYS, FIELD, |key, value, path| {
            match key {
                "enabled" => controls.enabled = Some(boolean(value, path)?),
                "cookieMode" => controls.cookie_mode = Some(boolean(value, path)?),
                "params" => controls.params = Some(params(value, path)?),
                "location" => controls.location = Some(location(value, path)?),
                "retryPolicy" => retry_policy = Some(policy_name(value, path)?),
                _ => controls.pool = pool(value, path)?,
            }
            Ok(())
        })?;
    }
    Ok(Management {
        controls,
        retry_policy,
    })
}

/// A retry policy's name: a non-empty string of at most [`MAX_RETRY_POLICY_BYTES`].
fn policy_name(value: &Value, path: &str) -> Result<String, SessionManagementError> {
    let Value::String(name) = value else {
        return Err(invalid(path, "a string", value));
    };
    if name.is_empty() {
        return Err(SessionManagementError::Empty { path: path.into() });
    }
    if name.len() > MAX_RETRY_POLICY_BYTES {
        let expected = "a retry policy name of at most 128 bytes";
        return Err(invalid(path, expected, value));
    }
    Ok(name.clone())
}

/// Checks that every key of `object` is one of `keys`, then calls `set(key, value, path)` for
/// each member that is not `null` (`set` may take the last key as its default case).
fn members(
    object: &Map<String, Value>,
    keys: &[&str],
    path: &str,
    mut set: impl FnMut(&str, &Value, &str) -> Result<(), SessionManagementError>,
) -> Result<(), SessionManagementError> {
    if let Some(key) = object.keys().find(|key| !keys.contains(&key.as_str())) {
        return Err(SessionManagementError::UnknownKey {
            path: format!("{path}.{key}"),
            expected: keys.join(", "),
        });
    }
    for (key, value) in object.iter().filter(|(_, value)| !value.is_null()) {
        set(key, value, &format!("{path}.{key}"))?;
    }
    Ok(())
}

/// The object, `None` for `null`, an error for anything else.
fn object_or_null<'a>(
    value: &'a Value,
    path: &str,
) -> Result<Option<&'a Map<String, Value>>, SessionManagementError> {
    match value {
        Value::Null => Ok(None),
        Value::Object(map) => Ok(Some(map)),
        other => Err(invalid(path, "an object", other)),
    }
}

fn invalid(path: &str, expected: &'static str, found: &Value) -> SessionManagementError {
    let found = match found {
        Value::Number(n) => format!("the number {n}"),
        other => json_kind(other).to_owned(),
    };
    SessionManagementError::Invalid {
        path: path.to_owned(),
        expected,
        found,
    }
}

fn boolean(value: &Value, path: &str) -> Result<bool, SessionManagementError> {
    value
        .as_bool()
        .ok_or_else(|| invalid(path, "a boolean", value))
}

fn string(value: &Value, path: &str) -> Result<String, SessionManagementError> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| invalid(path, "a string", value))
}

/// Init parameters: any object, kept as JSON text (the WIT carries JSON as text).
fn params(value: &Value, path: &str) -> Result<String, SessionManagementError> {
    match value {
        Value::Object(_) => Ok(value.to_string()),
        other => Err(invalid(path, "an object", other)),
    }
}

fn location(value: &Value, path: &str) -> Result<Address, SessionManagementError> {
    let mut address = Address {
        address_country: None,
        address_region: None,
        postal_code: None,
        street_address: None,
    };
    let Some(object) = object_or_null(value, path)? else {
        return Ok(address);
    };
    members(object, &LOCATION_KEYS, path, |key, value, path| {
        let field = match key {
            "addressCountry" => &mut address.address_country,
            "addressRegion" => &mut address.address_region,
            "postalCode" => &mut address.postal_code,
            _ => &mut address.street_address,
        };
        *field = Some(string(value, path)?);
        Ok(())
    })?;
    Ok(address)
}

/// A pool id or a pool object; `""` is "no pool" (the reference's falsy default).
fn pool(value: &Value, path: &str) -> Result<Option<PoolSpec>, SessionManagementError> {
    match value {
        Value::String(id) if id.is_empty() => Ok(None),
        Value::String(id) => Ok(Some(pool_spec(id.clone()))),
        Value::Object(object) => pool_object(object, path).map(Some),
        other => Err(invalid(path, "a pool id (a string) or an object", other)),
    }
}

fn pool_object(
    object: &Map<String, Value>,
    path: &str,
) -> Result<PoolSpec, SessionManagementError> {
    let mut id = None;
    let mut spec = pool_spec(String::new());
    members(object, &POOL_KEYS, path, |key, value, path| {
        match key {
            "id" => id = Some(non_empty(value, path)?),
            "size" => spec.size = Some(size(value, path)?),
            "delay" => spec.delay = Some(delay(value, path)?),
            _ => spec.randomize_delay = Some(boolean(value, path)?),
        }
        Ok(())
    })?;
    spec.id = id.ok_or_else(|| SessionManagementError::Missing {
        path: path.to_owned(),
        key: "id",
    })?;
    Ok(spec)
}

fn non_empty(value: &Value, path: &str) -> Result<String, SessionManagementError> {
    match string(value, path)? {
        text if text.is_empty() => Err(SessionManagementError::Empty {
            path: path.to_owned(),
        }),
        text => Ok(text),
    }
}

fn size(value: &Value, path: &str) -> Result<u32, SessionManagementError> {
    value
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n >= 1)
        .ok_or_else(|| invalid(path, "a positive integer (at most 4294967295)", value))
}

fn delay(value: &Value, path: &str) -> Result<f64, SessionManagementError> {
    value
        .as_f64()
        .filter(|d| d.is_finite() && *d >= 0.0)
        .ok_or_else(|| invalid(path, "a number of seconds ≥ 0", value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<SessionControls, String> {
        parse_controls(&value).map_err(|e| e.to_string())
    }

    #[test]
    fn every_key_is_parsed() {
        let controls = parse(json!({
            "enabled": true,
            "cookieMode": false,
            "params": {"url": "https://x.example/init", "browserHtml": true},
            "location": {"addressCountry": "US", "postalCode": "10001"},
            "pool": {"id": "p", "size": 3, "delay": 0.5, "randomizeDelay": false},
        }))
        .unwrap();
        assert_eq!(controls.enabled, Some(true));
        assert_eq!(controls.cookie_mode, Some(false));
        let params: Value = serde_json::from_str(controls.params.as_deref().unwrap()).unwrap();
        assert_eq!(params["url"], "https://x.example/init");
        let location = controls.location.unwrap();
        assert_eq!(location.address_country.as_deref(), Some("US"));
        assert_eq!(location.postal_code.as_deref(), Some("10001"));
        assert_eq!(location.street_address, None);
        let pool = controls.pool.unwrap();
        assert_eq!(
            (
                pool.id.as_str(),
                pool.size,
                pool.delay,
                pool.randomize_delay
            ),
            ("p", Some(3), Some(0.5), Some(false))
        );
    }

    #[test]
    fn null_and_absence_mean_no_controls() {
        assert_eq!(parse(Value::Null).unwrap(), no_controls());
        assert_eq!(parse(json!({})).unwrap(), no_controls());
        let all_null = json!({"enabled": null, "cookieMode": null, "params": null,
            "location": null, "pool": null});
        assert_eq!(parse(all_null).unwrap(), no_controls());
        let mut body = json!({"url": "https://x.example"});
        let body = body.as_object_mut().unwrap();
        let management = take_management(body).unwrap();
        assert_eq!(management.controls, no_controls());
        assert_eq!(management.retry_policy, None);
    }

    #[test]
    fn issue_14_retry_policy_is_a_bounded_name() {
        let named = parse_management(&json!({"retryPolicy": "aggressive"})).unwrap();
        assert_eq!(named.retry_policy.as_deref(), Some("aggressive"));
        for (bad, why) in [
            (json!(7), "must be a string"),
            (json!(""), "must not be empty"),
            (json!("x".repeat(129)), "at most 128 bytes"),
        ] {
            let error = parse_management(&json!({"retryPolicy": bad})).unwrap_err();
            let message = error.to_string();
            assert!(
                message.contains("sessionManagement.retryPolicy"),
                "{message}"
            );
            assert!(message.contains(why), "{message}");
        }
    }

    #[test]
    fn reference_truthiness_is_kept() {
        let controls = parse(json!({"location": {}, "pool": ""})).unwrap();
        assert_eq!(controls.location.map(|l| l.postal_code), Some(None));
        assert_eq!(controls.pool, None);
        let controls = parse(json!({"pool": "shop"})).unwrap();
        assert_eq!(controls.pool.unwrap().id, "shop");
    }

    #[test]
    fn the_field_is_removed_even_when_invalid() {
        let mut body = json!({"url": "u", "sessionManagement": {"enabled": "yes"}});
        let body = body.as_object_mut().unwrap();
        assert!(take_management(body).is_err());
        assert!(!body.contains_key(FIELD));
    }

    #[test]
    fn errors_name_the_path_the_expectation_and_the_finding() {
        let cases = [
            (
                json!([]),
                "`sessionManagement` must be an object, got an array",
            ),
            (
                json!({"foo": 1}),
                "unknown key `sessionManagement.foo`; expected one of: enabled, cookieMode, params, location, retryPolicy, pool",
            ),
            (
                json!({"foo": null}),
                "unknown key `sessionManagement.foo`; expected one of: enabled, cookieMode, params, location, retryPolicy, pool",
            ),
            (
                json!({"enabled": "true"}),
                "`sessionManagement.enabled` must be a boolean, got a string",
            ),
            (
                json!({"cookieMode": 1}),
                "`sessionManagement.cookieMode` must be a boolean, got the number 1",
            ),
            (
                json!({"params": "{}"}),
                "`sessionManagement.params` must be an object, got a string",
            ),
            (
                json!({"location": "10001"}),
                "`sessionManagement.location` must be an object, got a string",
            ),
            (
                json!({"location": {"zip": "10001"}}),
                "unknown key `sessionManagement.location.zip`; expected one of: addressCountry, addressRegion, postalCode, streetAddress",
            ),
            (
                json!({"location": {"postalCode": 10001}}),
                "`sessionManagement.location.postalCode` must be a string, got the number 10001",
            ),
            (
                json!({"pool": 7}),
                "`sessionManagement.pool` must be a pool id (a string) or an object, got the number 7",
            ),
            (
                json!({"pool": {"size": 2}}),
                "`sessionManagement.pool` has no `id`",
            ),
            (
                json!({"pool": {"id": ""}}),
                "`sessionManagement.pool.id` must not be empty",
            ),
            (
                json!({"pool": {"id": "p", "size": 0}}),
                "`sessionManagement.pool.size` must be a positive integer (at most 4294967295), got the number 0",
            ),
            (
                json!({"pool": {"id": "p", "size": 1.5}}),
                "`sessionManagement.pool.size` must be a positive integer (at most 4294967295), got the number 1.5",
            ),
            (
                json!({"pool": {"id": "p", "delay": -1}}),
                "`sessionManagement.pool.delay` must be a number of seconds ≥ 0, got the number -1",
            ),
            (
                json!({"pool": {"id": "p", "randomize_delay": true}}),
                "unknown key `sessionManagement.pool.randomize_delay`; expected one of: id, size, delay, randomizeDelay",
            ),
            (
                json!({"enabled": "yes", "enable": true}),
                "unknown key `sessionManagement.enable`; expected one of: enabled, cookieMode, params, location, retryPolicy, pool",
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(parse(value.clone()).unwrap_err(), expected, "{value}");
        }
    }

    /// Issue 12: absurd URLs are refused before they reach the engine.
    #[test]
    fn issue_12_absurd_urls_and_hosts_are_refused() {
        let request =
            |url: String| engine_request(json!({"url": url}).as_object().unwrap().clone());
        let host = "a".repeat(70_000);
        assert_eq!(
            request(format!("https://{host}.example/"))
                .unwrap_err()
                .to_string(),
            "`url` is 70017 characters long; the limit is 8192 (Zyte API's)"
        );
        let host = format!("{}example", "a.".repeat(150));
        assert_eq!(
            request(format!("https://{host}/")).unwrap_err().to_string(),
            "the host of `url` is 307 characters long (in ASCII form); the limit is 253 (DNS's)"
        );
        let at_limits = format!("https://{}.com/{}", "a".repeat(249), "p".repeat(7_930));
        assert_eq!(at_limits.chars().count(), MAX_URL_CHARS);
        assert!(request(at_limits).is_ok());
        let multibyte = format!("https://example.com/{}", "é".repeat(8_000));
        assert!(
            request(multibyte).is_ok(),
            "the limit counts characters, not bytes"
        );
        for odd in ["https://x.рф../", "not a url", "http://[::1]:99999/", ""] {
            assert!(request(odd.to_owned()).is_ok(), "{odd}");
        }
    }

    #[test]
    fn a_request_needs_a_string_url_checked_first() {
        let request = |body: Value| {
            engine_request(body.as_object().unwrap().clone()).map_err(|e| e.to_string())
        };
        let ok = request(json!({"url": "u", "sessionManagement": {"pool": "p"}})).unwrap();
        assert_eq!(Value::Object(ok.body), json!({"url": "u"}));
        assert_eq!(ok.controls.pool.unwrap().id, "p");
        let no_url = json!({"sessionManagement": {"enabled": 1}});
        assert_eq!(request(no_url).unwrap_err(), "the request has no `url`");
        assert_eq!(
            request(json!({"url": 3})).unwrap_err(),
            "`url` must be a string, got a number"
        );
    }

    /// What [`check_url`] said before its fast path: the parsed host's length, always.
    fn parsed_host_fits(url: &str) -> bool {
        url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::len))
            .is_none_or(|chars| chars <= MAX_HOST_CHARS)
    }

    proptest::proptest! {
        /// Issue 17: the unparsed fast path of short ASCII URLs refuses what the parse refuses
        /// (nothing: their hosts cannot exceed the bound), including numeric hosts that IPv4
        /// parsing rewrites longer.
        #[test]
        fn issue_17_short_ascii_urls_skip_the_parse_and_agree_with_it(
            scheme in "(https?|ftp|wss?|x)://",
            host in "[a-zA-Z0-9.:\\[\\]@_-]{0,240}",
            rest in "(/[a-z?#=&./]{0,8})?",
        ) {
            let url = format!("{scheme}{host}{rest}");
            proptest::prop_assume!(url.len() <= MAX_HOST_CHARS);
            proptest::prop_assert!(check_url(&url).is_ok());
            proptest::prop_assert!(parsed_host_fits(&url), "{}", url);
        }
    }

    #[test]
    fn issue_17_the_fast_path_leaves_long_and_non_ascii_hosts_to_the_parse() {
        // 16 labels of ten `é`: 279 characters once in IDNA form.
        let labels = vec!["\u{e9}".repeat(10); 16].join(".");
        let idna = format!("https://{labels}.example/");
        let long = format!("https://{}.example/", "a".repeat(MAX_HOST_CHARS));
        for url in [idna, long] {
            let refused = matches!(check_url(&url), Err(RequestError::HostTooLong { .. }));
            assert_eq!(refused, !parsed_host_fits(&url), "{url}");
            assert!(refused, "{url}");
        }
        assert!(check_url("https://0x7f.1/").is_ok());
    }
}
