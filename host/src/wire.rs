//! Conversions between Zyte API request bodies and the WIT [`Request`] a guest sees.
//!
//! The JSON `params` text is authoritative. `method` and `headers` are convenience views of
//! `httpRequestMethod` and `customHttpRequestHeaders`: [`request_from_body`] derives them, and
//! [`body_from_request`] writes back whichever of them a guest changed, so that a config can add
//! a header without editing JSON. The `url` field travels separately and is never in `params`.

use serde_json::{Map, Value};

use crate::plugin::{Header, PoolSpec, Request, SessionControls};

/// The method a Zyte API request uses when `httpRequestMethod` is absent.
pub const DEFAULT_METHOD: &str = "GET";

/// Controls that set nothing: the host's settings apply.
pub fn no_controls() -> SessionControls {
    SessionControls {
        enabled: None,
        cookie_mode: None,
        params: None,
        location: None,
        pool: None,
    }
}

/// Longest text a pool stores or logs of what a guest or a client said (a close reason, a
/// retirement reason, a session event, a pool id in a log line), in bytes (issue 13): longer
/// text is cut at a UTF-8 boundary and ends with `…`. Guest log lines and hook errors have
/// their own, larger bound (4 KiB, `plugin::Limits`); this one applies to what is kept per pool
/// and per session, up to `max_pools` × `max_pool_size` × 16 events.
pub const MAX_STORED_TEXT: usize = 256;

/// Longest pool id, in bytes (issue 13): a request or config naming a longer one gets a
/// `bad-request` answer. A pool id is kept with the pool, in its counters and in `/status`.
pub const MAX_POOL_ID: usize = 512;

/// `text` cut to at most [`MAX_STORED_TEXT`] bytes (plus `…`), at a UTF-8 boundary.
pub fn truncated(text: &str) -> String {
    if text.len() <= MAX_STORED_TEXT {
        return text.to_owned();
    }
    let mut end = MAX_STORED_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// A pool given by its id alone: its size and delays come from the settings.
pub fn pool_spec(id: String) -> PoolSpec {
    PoolSpec {
        id,
        size: None,
        delay: None,
        randomize_delay: None,
    }
}

/// Builds the WIT request for a Zyte API body (without its `url`).
pub fn request_from_body(
    url: String,
    params: &Map<String, Value>,
    controls: SessionControls,
) -> Request {
    let (method, headers) = views(params);
    Request {
        url,
        method,
        headers,
        // Serialised from the borrowed map: no clone of the tree first (issue 17).
        params: serde_json::to_string(params).unwrap_or_default(),
        controls,
        session_id: None,
        is_init: false,
    }
}

/// Parses a request's `params` into a Zyte API body, applying its `method` and `headers` views.
///
/// Fails, with a message for the guest's author, when `params` is not a JSON object or when it
/// carries a `url` field (the URL is the request's `url`).
pub fn body_from_request(request: &Request) -> Result<Map<String, Value>, String> {
    let params = parse_object(&request.params, "params")?;
    if params.contains_key("url") {
        return Err("params must not contain `url`; set the request's url field instead".into());
    }
    Ok(with_views(params, request))
}

/// `params`, the parsed `params` of `request`, with the request's `method` and `headers` views
/// written back where they differ from it: [`body_from_request`] without the parse, for a
/// caller that still holds the map the text was made from (issue 17).
pub fn with_views(mut params: Map<String, Value>, request: &Request) -> Map<String, Value> {
    let (method, headers) = views(&params);
    if request.method != method {
        params.insert(
            "httpRequestMethod".into(),
            Value::String(request.method.clone()),
        );
    }
    if request.headers != headers {
        if request.headers.is_empty() {
            params.remove("customHttpRequestHeaders");
        } else {
            // Each object sized for its two fields up front (`json!` grows an empty map).
            let list = request.headers.iter().map(|h| {
                let mut header = Map::with_capacity(2);
                header.insert("name".into(), Value::String(h.name.clone()));
                header.insert("value".into(), Value::String(h.value.clone()));
                Value::Object(header)
            });
            params.insert(
                "customHttpRequestHeaders".into(),
                Value::Array(list.collect()),
            );
        }
    }
    params
}

/// Parses `text` as a JSON object; the error names `what`.
pub fn parse_object(text: &str, what: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(format!(
            "{what} must be a JSON object, got {}",
            json_kind(&other)
        )),
        Err(e) => Err(format!("{what} is not valid JSON: {e}")),
    }
}

/// The JSON type name of `value`, for error messages.
pub fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The `method` and `headers` views of a body.
fn views(params: &Map<String, Value>) -> (String, Vec<Header>) {
    let method = params
        .get("httpRequestMethod")
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_METHOD)
        .to_owned();
    let headers = params
        .get("customHttpRequestHeaders")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(header_of).collect())
        .unwrap_or_default();
    (method, headers)
}

fn header_of(value: &Value) -> Option<Header> {
    Some(Header {
        name: value.get("name")?.as_str()?.to_owned(),
        value: value.get("value")?.as_str()?.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn views_are_derived() {
        let params = body(
            json!({"httpResponseBody": true, "httpRequestMethod": "POST",
            "customHttpRequestHeaders": [{"name": "a", "value": "1"}]}),
        );
        let req = request_from_body("https://x.example".into(), &params, no_controls());
        assert_eq!(req.method, "POST");
        assert_eq!(
            req.headers,
            vec![Header {
                name: "a".into(),
                value: "1".into()
            }]
        );
    }

    #[test]
    fn unchanged_views_leave_params_alone() {
        let params = body(json!({"browserHtml": true}));
        let req = request_from_body("https://x.example".into(), &params, no_controls());
        assert_eq!(body_from_request(&req).unwrap(), params);
    }

    #[test]
    fn changed_views_are_written_back() {
        let params = body(json!({"httpResponseBody": true}));
        let mut req = request_from_body("https://x.example".into(), &params, no_controls());
        req.method = "PUT".into();
        req.headers.push(Header {
            name: "x-csrf-token".into(),
            value: "t".into(),
        });
        let out = body_from_request(&req).unwrap();
        assert_eq!(out["httpRequestMethod"], "PUT");
        assert_eq!(
            out["customHttpRequestHeaders"],
            json!([{"name": "x-csrf-token", "value": "t"}])
        );
    }

    /// Issue 17: the map a request's params were serialised from, with the views applied, is
    /// the body that parsing the params gives, whatever the views say and whatever the values.
    #[test]
    fn issue_17_views_on_the_known_map_match_the_parsed_params() {
        let params = body(json!({
            "httpResponseBody": true, "n": 0.1, "big": u64::MAX, "neg": -3, "s": "é\"\n",
            "nested": {"a": [1, 2.5e300, null]}, "customHttpRequestHeaders": [{"name": "a", "value": "1"}],
        }));
        let req = request_from_body("https://x.example".into(), &params, no_controls());
        let mut changed = req.clone();
        changed.method = "POST".into();
        changed.headers.push(Header {
            name: "x-csrf-token".into(),
            value: "t".into(),
        });
        let mut dropped = req.clone();
        dropped.headers.clear();
        for r in [&req, &changed, &dropped] {
            let parsed = body_from_request(r).unwrap();
            assert_eq!(with_views(params.clone(), r), parsed);
            let order = |m: &Map<String, Value>| m.keys().cloned().collect::<Vec<_>>();
            assert_eq!(order(&with_views(params.clone(), r)), order(&parsed));
        }
    }

    #[test]
    fn bad_params_are_reported() {
        let mut req = request_from_body("https://x.example".into(), &Map::new(), no_controls());
        req.params = "[1]".into();
        assert_eq!(
            body_from_request(&req).unwrap_err(),
            "params must be a JSON object, got an array"
        );
        req.params = "{".into();
        assert!(
            body_from_request(&req)
                .unwrap_err()
                .starts_with("params is not valid JSON")
        );
        req.params = r#"{"url": "https://y.example"}"#.into();
        assert!(
            body_from_request(&req)
                .unwrap_err()
                .contains("must not contain `url`")
        );
    }
}
