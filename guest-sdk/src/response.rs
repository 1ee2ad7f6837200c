//! [`RawResponse`]: typed reads of a Zyte API response body (`Response::body`).
//!
//! Policy: parsing checks only that the body is a JSON object; every accessor then reads one
//! field and returns `None` (or an empty list) when it is absent or has an unexpected type, the
//! way the reference's `raw_api_response.get(...)` does. Only decoding `httpResponseBody` can
//! fail, because invalid base64 is a broken response rather than a missing field.
//!
//! ```
//! use session_host_sdk::{RawResponse, base64};
//! let body = format!(
//!     r#"{{"statusCode": 200, "httpResponseBody": "{}",
//!         "actions": [{{"action": "setLocation", "status": "success"}}]}}"#,
//!     base64::encode(b"<p>hi</p>"),
//! );
//! let raw = RawResponse::parse(&body).unwrap();
//! assert_eq!(raw.status_code(), Some(200));
//! assert_eq!(raw.html().unwrap().as_deref(), Some("<p>hi</p>"));
//! assert!(raw.set_location_result().unwrap().succeeded());
//! ```

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::{Response, base64, json};

/// A parsed Zyte API response body. See the module docs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawResponse(Map<String, Value>);

/// The outcome of one browser action, an element of the response's `actions` array.
#[derive(Clone, Debug, PartialEq)]
pub struct ActionResult {
    /// The action name, e.g. `setLocation`.
    pub action: String,
    /// The outcome, e.g. [`ActionStatus::Success`].
    pub status: ActionStatus,
    /// Why the action failed, when it did.
    pub error: Option<String>,
}

/// An action's `status` in the response. The reference's default check only tells `success`
/// (setLocation) and `returned` (init invalidation) apart from the rest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionStatus {
    /// `success`: the action worked.
    Success,
    /// `returned`: it failed and stopped the sequence (`onError: "return"`).
    Returned,
    /// `continued`: it failed and the sequence went on (`onError: "continue"`).
    Continued,
    /// `notExecuted`: an earlier action stopped the sequence.
    NotExecuted,
    /// Any other value (or none: the empty string), kept verbatim.
    Other(String),
}

/// One cookie of `responseCookies`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseCookie {
    /// Cookie name.
    pub name: String,
    /// Cookie value.
    pub value: String,
    /// `domain`, when given.
    pub domain: Option<String>,
    /// `path`, when given.
    pub path: Option<String>,
}

impl ActionStatus {
    /// Reads a Zyte API status string.
    pub fn parse(status: &str) -> ActionStatus {
        match status {
            "success" => ActionStatus::Success,
            "returned" => ActionStatus::Returned,
            "continued" => ActionStatus::Continued,
            "notExecuted" => ActionStatus::NotExecuted,
            other => ActionStatus::Other(other.to_owned()),
        }
    }
}

impl ActionResult {
    /// Whether the action's status is `success`.
    pub fn succeeded(&self) -> bool {
        self.status == ActionStatus::Success
    }

    /// Whether the action ran and failed (`returned` or `continued`).
    pub fn failed(&self) -> bool {
        matches!(self.status, ActionStatus::Returned | ActionStatus::Continued)
    }

    fn from_json(value: &Value) -> ActionResult {
        let text = |key: &str| value.get(key).and_then(Value::as_str);
        ActionResult {
            action: text("action").unwrap_or_default().to_owned(),
            status: ActionStatus::parse(text("status").unwrap_or_default()),
            error: text("error").map(str::to_owned),
        }
    }
}

impl RawResponse {
    /// Parses a response body, which must be a JSON object.
    pub fn parse(body: &str) -> Result<RawResponse, String> {
        match serde_json::from_str(body) {
            Ok(Value::Object(map)) => Ok(RawResponse(map)),
            Ok(_) => Err("the Zyte API response body is not a JSON object".to_owned()),
            Err(error) => Err(format!("the Zyte API response body is not valid JSON: {error}")),
        }
    }

    /// Parses `response.body`.
    pub fn from_response(response: &Response) -> Result<RawResponse, String> {
        RawResponse::parse(&response.body)
    }

    /// Parses a response body like [`RawResponse::parse`] (it rejects the same bodies: the whole
    /// body must be one JSON object), but keeps only the top-level `fields`; every other value is
    /// checked and skipped without being built. For a hook that reads one or two fields of every response: a use
    /// check that reads `statusCode` need not copy a base64 body it never decodes (issue 17).
    ///
    /// ```
    /// use session_host_sdk::RawResponse;
    /// let raw = RawResponse::parse_fields(r#"{"statusCode": 403, "httpResponseBody": "PGI+"}"#, &["statusCode"]).unwrap();
    /// assert_eq!(raw.status_code(), Some(403));
    /// assert_eq!(raw.get("httpResponseBody"), None);
    /// assert!(RawResponse::parse_fields("[]", &["statusCode"]).is_err());
    /// ```
    pub fn parse_fields(body: &str, fields: &[&str]) -> Result<RawResponse, String> {
        let mut kept = Map::new();
        json::top_level_fields(body, fields, |index, value| {
            kept.insert(fields[index].to_owned(), value);
        })
        .map_err(body_error)?;
        Ok(RawResponse(kept))
    }

    /// The value of one top-level field of a response body, `None` when absent: what
    /// [`RawResponse::parse_fields`] with that one field then [`RawResponse::get`] answer, and the
    /// body is checked the same way, but nothing is built but the value (no map, no key copied).
    /// For a hook that reads one field of every response, such as a use check reading
    /// `statusCode` (issue 17).
    ///
    /// ```
    /// use session_host_sdk::RawResponse;
    /// let body = r#"{"httpResponseBody": "PGI+", "statusCode": 403}"#;
    /// assert_eq!(RawResponse::field(body, "statusCode").unwrap(), Some(403.into()));
    /// assert_eq!(RawResponse::field(body, "url").unwrap(), None);
    /// assert!(RawResponse::field("[]", "statusCode").is_err());
    /// ```
    pub fn field(body: &str, name: &str) -> Result<Option<Value>, String> {
        json::top_level_field(body, name).map_err(body_error)
    }

    /// The value of any top-level field.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// `url`: the final URL, after redirects.
    pub fn url(&self) -> Option<&str> {
        self.get("url")?.as_str()
    }

    /// `statusCode`: the target site's HTTP status.
    pub fn status_code(&self) -> Option<u16> {
        u16::try_from(self.get("statusCode")?.as_u64()?).ok()
    }

    /// `browserHtml`.
    pub fn browser_html(&self) -> Option<&str> {
        self.get("browserHtml")?.as_str()
    }

    /// `httpResponseBody`, base64-decoded; `Ok(None)` when absent.
    pub fn http_response_body(&self) -> Result<Option<Vec<u8>>, base64::DecodeError> {
        match self.get("httpResponseBody").and_then(Value::as_str) {
            Some(encoded) => base64::decode(encoded).map(Some),
            None => Ok(None),
        }
    }

    /// The page as text: `browserHtml`, else `httpResponseBody` decoded as UTF-8 (invalid
    /// sequences replaced). `Ok(None)` when the response has neither.
    pub fn html(&self) -> Result<Option<Cow<'_, str>>, base64::DecodeError> {
        if let Some(html) = self.browser_html() {
            return Ok(Some(Cow::Borrowed(html)));
        }
        Ok(self.http_response_body()?.map(|bytes| Cow::Owned(String::from_utf8_lossy(&bytes).into_owned())))
    }

    /// The value of response header `name` (case-insensitive, first match), from
    /// `httpResponseHeaders`.
    pub fn response_header(&self, name: &str) -> Option<&str> {
        let headers = self.get("httpResponseHeaders")?.as_array()?;
        let matches = |h: &&Value| h.get("name").and_then(Value::as_str).is_some_and(|n| n.eq_ignore_ascii_case(name));
        headers.iter().find(matches)?.get("value")?.as_str()
    }

    /// `actions`: the outcome of each browser action, in order.
    pub fn actions(&self) -> Vec<ActionResult> {
        let actions = self.get("actions").and_then(Value::as_array);
        actions.map_or_else(Vec::new, |list| list.iter().map(ActionResult::from_json).collect())
    }

    /// Whether any action ran and failed (`returned` or `continued`).
    pub fn action_failed(&self) -> bool {
        self.actions().iter().any(ActionResult::failed)
    }

    /// The first `setLocation` action's outcome: the one the reference's default check inspects.
    pub fn set_location_result(&self) -> Option<ActionResult> {
        self.actions().into_iter().find(|a| a.action == "setLocation")
    }

    /// `responseCookies`; entries without a string name or value are skipped.
    pub fn response_cookies(&self) -> Vec<ResponseCookie> {
        let Some(cookies) = self.get("responseCookies").and_then(Value::as_array) else {
            return Vec::new();
        };
        cookies.iter().filter_map(cookie_from_json).collect()
    }
}

/// The error of a response body that is not a JSON object, as [`RawResponse::parse`] words it.
pub(crate) fn body_error(error: serde_json::Error) -> String {
    if error.is_data() {
        "the Zyte API response body is not a JSON object".to_owned()
    } else {
        format!("the Zyte API response body is not valid JSON: {error}")
    }
}

fn cookie_from_json(value: &Value) -> Option<ResponseCookie> {
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
    Some(ResponseCookie { name: text("name")?, value: text("value")?, domain: text("domain"), path: text("path") })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn raw(value: Value) -> RawResponse {
        RawResponse::parse(&value.to_string()).unwrap()
    }

    #[test]
    fn parse_fields_keeps_only_those_and_fails_like_parse() {
        let body = r#"{"url": "https://a.example/", "statusCode": 200, "httpResponseBody": "PGI+aGk8L2I+", "a": [1, {"b": null}]}"#;
        let raw = RawResponse::parse_fields(body, &["statusCode", "url"]).unwrap();
        assert_eq!((raw.status_code(), raw.url()), (Some(200), Some("https://a.example/")));
        assert_eq!((raw.get("httpResponseBody"), raw.get("a")), (None, None));
        for bad in ["[]", "1", "nope", "{", r#"{"statusCode": 200} x"#, r#"{"a": [1,}"#] {
            let (all, only) =
                (RawResponse::parse(bad).unwrap_err(), RawResponse::parse_fields(bad, &["statusCode"]).unwrap_err());
            assert_eq!(all.split(':').next(), only.split(':').next(), "{bad}");
        }
        assert_eq!(RawResponse::parse_fields(r#"{"statusCode": "x"}"#, &["statusCode"]).unwrap().status_code(), None);
    }

    #[test]
    fn parse_requires_an_object() {
        assert!(RawResponse::parse("[]").is_err());
        assert!(RawResponse::parse("nope").is_err());
        assert_eq!(RawResponse::parse("{}").unwrap().status_code(), None);
    }

    #[test]
    fn body_is_decoded_and_html_prefers_browser_html() {
        let http = raw(json!({"httpResponseBody": "PGI+aGk8L2I+"}));
        assert_eq!(http.http_response_body(), Ok(Some(b"<b>hi</b>".to_vec())));
        assert_eq!(http.html().unwrap().as_deref(), Some("<b>hi</b>"));
        let browser = raw(json!({"browserHtml": "<i>x</i>", "httpResponseBody": "PGI+aGk8L2I+"}));
        assert_eq!(browser.html().unwrap().as_deref(), Some("<i>x</i>"));
        assert!(raw(json!({"httpResponseBody": "!!"})).http_response_body().is_err());
        assert_eq!(raw(json!({})).html(), Ok(None));
    }

    #[test]
    fn actions_are_typed() {
        let response = raw(json!({"actions": [
            {"action": "click", "status": "continued", "error": "Element not found"},
            {"action": "setLocation", "status": "success", "elapsedTime": 1.2},
            {"action": "setLocation", "status": "returned"},
            {"action": "scrollBottom", "status": "notExecuted"},
        ]}));
        let actions = response.actions();
        assert_eq!(actions[0].error.as_deref(), Some("Element not found"));
        assert!(actions[0].failed() && !actions[3].failed());
        assert_eq!(actions[3].status, ActionStatus::NotExecuted);
        assert!(response.action_failed());
        assert!(response.set_location_result().unwrap().succeeded());
        assert!(!raw(json!({"actions": []})).action_failed());
        assert_eq!(raw(json!({"actions": [{}]})).actions()[0].status, ActionStatus::Other(String::new()));
    }

    #[test]
    fn cookies_headers_and_status() {
        let response = raw(json!({
            "statusCode": 403, "url": "https://a.example/x",
            "httpResponseHeaders": [{"name": "Content-Type", "value": "text/html"}],
            "responseCookies": [{"name": "sid", "value": "1", "domain": "a.example"}, {"name": "broken"}],
        }));
        assert_eq!(response.status_code(), Some(403));
        assert_eq!(response.url(), Some("https://a.example/x"));
        assert_eq!(response.response_header("content-type"), Some("text/html"));
        let cookies = response.response_cookies();
        assert_eq!(cookies.len(), 1);
        assert_eq!((cookies[0].name.as_str(), cookies[0].domain.as_deref()), ("sid", Some("a.example")));
    }
}
