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
    let changes = view_changes(&params, request);
    if let Some(method) = changes.method {
        params.insert("httpRequestMethod".into(), Value::String(method.to_owned()));
    }
    match changes.headers {
        None => {}
        // `shift_remove`: the keys after it keep their order (`remove` would move the last
        // key into its place), as [`use_body`] writes them.
        Some([]) => drop(params.shift_remove("customHttpRequestHeaders")),
        Some(headers) => {
            // Each object sized for its two fields up front (`json!` grows an empty map).
            let list = headers.iter().map(|h| {
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

/// Where a request's `method` and `headers` views differ from the views of `params`: what
/// [`with_views`] writes back into them.
#[derive(Clone, Copy, Default)]
pub struct ViewChanges<'a> {
    /// The new `httpRequestMethod`.
    pub method: Option<&'a str>,
    /// The new `customHttpRequestHeaders`; an empty list removes the field.
    pub headers: Option<&'a [Header]>,
}

/// The [`ViewChanges`] of `request` against `params`, compared in place (issue 17: no copy of
/// the views of `params` is made to compare them).
pub fn view_changes<'a>(params: &Map<String, Value>, request: &'a Request) -> ViewChanges<'a> {
    let method = params
        .get("httpRequestMethod")
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_METHOD);
    let list = params
        .get("customHttpRequestHeaders")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let same_headers = list.iter().filter_map(header_parts).eq(request
        .headers
        .iter()
        .map(|h| (h.name.as_str(), h.value.as_str())));
    ViewChanges {
        method: (request.method != method).then_some(request.method.as_str()),
        headers: (!same_headers).then_some(request.headers.as_slice()),
    }
}

/// What a use request adds to its params besides its `url`: the session, or in cookie mode
/// the session's jar (`requestCookies`, and `responseCookies: true`).
#[derive(Clone, Copy)]
pub enum UseAddition<'a> {
    /// `"session": {"id": …}`.
    Session(&'a str),
    /// `"requestCookies": […], "responseCookies": true`.
    Cookies(&'a [Value]),
}

/// A value [`use_body`] writes.
#[derive(Clone, Copy)]
enum Added<'a> {
    Str(&'a str),
    SessionId(&'a str),
    List(&'a [Value]),
    Headers(&'a [Header]),
    True,
    /// Not written: the key is left out.
    Removed,
}

impl serde::Serialize for Added<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match *self {
            Added::Str(text) => s.serialize_str(text),
            Added::SessionId(id) => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("id", id)?;
                map.end()
            }
            Added::List(list) => list.serialize(s),
            Added::Headers(list) => s.collect_seq(list.iter().map(HeaderJson)),
            Added::True => s.serialize_bool(true),
            Added::Removed => s.serialize_unit(),
        }
    }
}

/// A header as a `customHttpRequestHeaders` entry: `{"name": …, "value": …}`.
struct HeaderJson<'a>(&'a Header);

impl serde::Serialize for HeaderJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("name", &self.0.name)?;
        map.serialize_entry("value", &self.0.value)?;
        map.end()
    }
}

/// `params` with `added` inserted as [`Map::insert`] puts them: a key already in `params`
/// keeps its place with the new value, the others follow in `added`'s order; a key added as
/// [`Added::Removed`] is left out, the keys after it in their order, as [`Map::shift_remove`]
/// leaves them.
struct UseBody<'a> {
    params: &'a Map<String, Value>,
    added: &'a [(&'static str, Added<'a>)],
}

impl serde::Serialize for UseBody<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut placed = [false; MAX_ADDED];
        let mut map = s.serialize_map(None)?;
        for (key, value) in self.params {
            match self.added.iter().position(|(k, _)| k == key) {
                Some(i) => {
                    placed[i] = true;
                    if !matches!(self.added[i].1, Added::Removed) {
                        map.serialize_entry(key, &self.added[i].1)?;
                    }
                }
                None => map.serialize_entry(key, value)?,
            }
        }
        for ((key, value), placed) in self.added.iter().zip(placed) {
            if !placed && !matches!(value, Added::Removed) {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

/// The serialised Zyte API body of a use request: `params` (the body without `url`) with the
/// view `changes` of the request written back ([`with_views`]), its `url` and `addition`, with
/// the keys in the order that inserting them into `params` gives (issue 17: written straight
/// from the borrowed map, without inserting into it, building the header objects, cloning
/// the jar or growing the buffer from empty).
///
/// # Errors
/// None in practice (every key is a string, the writer a `Vec`); serde's error otherwise.
pub fn use_body(
    params: &Map<String, Value>,
    changes: ViewChanges<'_>,
    url: &str,
    addition: UseAddition<'_>,
) -> Result<Vec<u8>, serde_json::Error> {
    let mut added = [("", Added::Removed); MAX_ADDED];
    let mut n = 0;
    let mut add = |key, value| {
        added[n] = (key, value);
        n += 1;
    };
    if let Some(method) = changes.method {
        add("httpRequestMethod", Added::Str(method));
    }
    match changes.headers {
        None => {}
        Some([]) => add("customHttpRequestHeaders", Added::Removed),
        Some(headers) => add("customHttpRequestHeaders", Added::Headers(headers)),
    }
    add("url", Added::Str(url));
    match addition {
        UseAddition::Session(id) => add("session", Added::SessionId(id)),
        UseAddition::Cookies(jar) => {
            add("requestCookies", Added::List(jar));
            add("responseCookies", Added::True);
        }
    }
    let mut bytes = Vec::with_capacity(USE_BODY_CAPACITY + url.len());
    let added = &added[..n];
    serde_json::to_writer(&mut bytes, &UseBody { params, added })?;
    Ok(bytes)
}

/// Most keys [`use_body`] adds: the two views, `url`, and the jar's two.
const MAX_ADDED: usize = 5;

/// The bytes [`use_body`] reserves besides the URL's: a typical body fits without growing.
const USE_BODY_CAPACITY: usize = 192;

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
    let (name, value) = header_parts(value)?;
    Some(Header {
        name: name.to_owned(),
        value: value.to_owned(),
    })
}

/// The name and value of a `customHttpRequestHeaders` entry; `None` unless both are strings.
fn header_parts(value: &Value) -> Option<(&str, &str)> {
    Some((value.get("name")?.as_str()?, value.get("value")?.as_str()?))
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

    /// What [`use_body`] replaced: the addition inserted into the map, then the map
    /// serialised.
    fn inserted(mut params: Map<String, Value>, url: &str, addition: UseAddition<'_>) -> Vec<u8> {
        params.insert("url".into(), Value::String(url.to_owned()));
        match addition {
            UseAddition::Session(id) => drop(params.insert("session".into(), json!({ "id": id }))),
            UseAddition::Cookies(jar) => {
                params.insert("requestCookies".into(), Value::Array(jar.to_vec()));
                params.insert("responseCookies".into(), Value::Bool(true));
            }
        }
        serde_json::to_vec(&params).unwrap()
    }

    fn key() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            Just("url".to_owned()),
            Just("session".to_owned()),
            Just("requestCookies".to_owned()),
            Just("responseCookies".to_owned()),
            Just("httpResponseBody".to_owned()),
            ".{0,12}",
        ]
    }

    fn value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<u64>().prop_map(|n| json!(n)),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| json!(f)),
            ".{0,16}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::vec((key(), inner), 0..4)
                    .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Issue 17: the use body written from the borrowed map is, byte for byte, the map
        /// with the URL and the session (or the jar) inserted, then serialised, whatever keys
        /// the params already hold (`url`, `session`, the cookie fields included).
        #[test]
        fn issue_17_use_body_is_the_inserted_map_serialised(
            pairs in proptest::collection::vec((key(), value()), 0..8),
            url in ".{0,40}",
            sid in ".{0,12}",
            jar in proptest::collection::vec(value(), 0..3),
        ) {
            let params: Map<String, Value> = pairs.into_iter().collect();
            for addition in [UseAddition::Session(&sid), UseAddition::Cookies(&jar)] {
                let written = use_body(&params, ViewChanges::default(), &url, addition).unwrap();
                proptest::prop_assert_eq!(written, inserted(params.clone(), &url, addition));
            }
        }

        /// Issue 17: with the request's views written back too, the use body is the params
        /// after [`with_views`], with the URL and the session (or the jar) inserted, then
        /// serialised: whatever the params' views hold (a method of another type, headers
        /// that are not name/value strings) and whatever the request's views say (another
        /// method, added, changed or no headers).
        #[test]
        fn issue_17_use_body_writes_the_views_back_as_with_views_does(
            pairs in proptest::collection::vec((key(), value()), 0..5),
            method in proptest::option::of(view_method()),
            listed in proptest::option::of(proptest::collection::vec(header_entry(), 0..3)),
            listed_first in proptest::bool::ANY,
            request_method in view_method(),
            request_headers in proptest::collection::vec(header(), 0..3),
            sid in ".{0,12}",
            jar in proptest::collection::vec(value(), 0..2),
        ) {
            // The header list first or last: removing it must keep the keys after it in order.
            let mut params = Map::new();
            let listed =
                listed.map(|list| ("customHttpRequestHeaders".to_owned(), Value::Array(list)));
            if listed_first {
                params.extend(listed.clone());
            }
            params.extend(pairs);
            if let Some(method) = method {
                params.insert("httpRequestMethod".into(), method);
            }
            if !listed_first {
                params.extend(listed);
            }
            let mut request = request_from_body("https://x.example".into(), &params, no_controls());
            let unchanged = request.clone();
            request.method = request_method.as_str().unwrap_or(DEFAULT_METHOD).to_owned();
            request.headers = request_headers;
            for r in [&unchanged, &request] {
                let changes = view_changes(&params, r);
                for addition in [UseAddition::Session(&sid), UseAddition::Cookies(&jar)] {
                    let written = use_body(&params, changes, &r.url, addition).unwrap();
                    let expected = inserted(with_views(params.clone(), r), &r.url, addition);
                    proptest::prop_assert_eq!(written, expected);
                }
            }
        }
    }

    fn view_method() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        prop_oneof![
            Just(json!("GET")),
            Just(json!("POST")),
            Just(json!("PUT")),
            Just(json!(1)),
        ]
    }

    fn header() -> impl proptest::strategy::Strategy<Value = Header> {
        use proptest::prelude::*;
        (
            prop_oneof![Just("a"), Just("x-csrf-token"), Just("é")],
            ".{0,4}",
        )
            .prop_map(|(n, v)| Header {
                name: n.to_owned(),
                value: v,
            })
    }

    fn header_entry() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        prop_oneof![
            header().prop_map(|h| json!({"name": h.name, "value": h.value})),
            header().prop_map(|h| json!({"value": h.value, "name": h.name, "extra": 1})),
            Just(json!({"name": "a"})),
            Just(json!({"name": 1, "value": "b"})),
            Just(json!("junk")),
        ]
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
