//! [`Params`]: Zyte API request parameters, as a JSON object.
//!
//! Policy: `Params` is always a JSON object; [`Params::parse`] rejects any other JSON value, like
//! the reference rejects a `params()` result that is not a dict. Keys serialise in sorted order
//! (serde_json's default map: deterministic, and smaller than an insertion-ordered one). Setters never validate Zyte API's own
//! rules (e.g. `browserHtml` with `httpResponseBody` is a 400 from Zyte API, not an error here),
//! except where a helper exists to keep them: [`Params::set_http_response_body`] and
//! [`Params::set_browser_html`] clear the other output.
//!
//! Init parameters (the `params` hook) may hold `url`, the URL of the init request; a
//! [`crate::Request`]'s params never do (its URL is `Request::url`).
//!
//! ```
//! use session_host_sdk::{Address, Params};
//! let params = Params::new()
//!     .with("url", "https://shop.example/")
//!     .with("browserHtml", true)
//!     .with_action(Params::set_location_action(&Address::new().with_postal_code("10001")));
//! assert_eq!(
//!     params.to_json(),
//!     r#"{"actions":[{"action":"setLocation","address":{"postalCode":"10001"}}],"browserHtml":true,"url":"https://shop.example/"}"#
//! );
//! ```

use serde_json::{Map, Value, json};

use crate::Address;

/// Zyte API request parameters: a JSON object. See the module docs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Params(Map<String, Value>);

impl Params {
    /// Empty params (`{}`).
    pub fn new() -> Params {
        Params(Map::new())
    }

    /// Parses a JSON object text, e.g. [`crate::Request::params`] or a `params` hook result.
    pub fn parse(json: &str) -> Result<Params, String> {
        match serde_json::from_str(json) {
            Ok(Value::Object(map)) => Ok(Params(map)),
            Ok(other) => Err(format!("Zyte API params must be a JSON object, not {}", kind(&other))),
            Err(error) => Err(format!("Zyte API params are not valid JSON: {error}")),
        }
    }

    /// The value of one top-level field of a params text, `None` when absent: what
    /// [`Params::parse`] then [`Params::get`] answer (a text that is not a JSON object fails the
    /// same way), without building the other fields or a map. For a hook that reads one param of
    /// every request (issue 17).
    ///
    /// ```
    /// use session_host_sdk::Params;
    /// let params = r#"{"httpResponseBody": true, "actions": []}"#;
    /// assert_eq!(Params::field(params, "httpResponseBody").unwrap(), Some(true.into()));
    /// assert_eq!(Params::field(params, "browserHtml").unwrap(), None);
    /// assert!(Params::field("[]", "browserHtml").is_err());
    /// ```
    pub fn field(json: &str, name: &str) -> Result<Option<Value>, String> {
        crate::json::top_level_field(json, name).map_err(|error| {
            if error.is_data() {
                "Zyte API params must be a JSON object".to_owned()
            } else {
                format!("Zyte API params are not valid JSON: {error}")
            }
        })
    }

    /// The JSON object text.
    pub fn to_json(&self) -> String {
        Value::Object(self.0.clone()).to_string()
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// The value of `key` if it is a string.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.0.get(key)?.as_str()
    }

    /// The value of `key` if it is a boolean.
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        self.0.get(key)?.as_bool()
    }

    /// Whether `key` is present (with any value, `null` included).
    pub fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// Sets `key` to `value`, replacing any previous value.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<Value>) -> &mut Params {
        self.0.insert(key.into(), value.into());
        self
    }

    /// Builder form of [`Params::set`].
    #[must_use]
    pub fn with(mut self, key: impl Into<String>, value: impl Into<Value>) -> Params {
        self.set(key, value);
        self
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.0.remove(key)
    }

    /// `url`: the init URL in init parameters.
    pub fn url(&self) -> Option<&str> {
        self.get_str("url")
    }

    /// Turns `httpResponseBody` on (removing `browserHtml`, which Zyte API does not allow with
    /// it) or off.
    pub fn set_http_response_body(&mut self, on: bool) -> &mut Params {
        self.set_output("httpResponseBody", "browserHtml", on)
    }

    /// Turns `browserHtml` on (removing `httpResponseBody`) or off.
    pub fn set_browser_html(&mut self, on: bool) -> &mut Params {
        self.set_output("browserHtml", "httpResponseBody", on)
    }

    fn set_output(&mut self, key: &str, exclusive_with: &str, on: bool) -> &mut Params {
        if on {
            self.remove(exclusive_with);
            self.set(key, true)
        } else {
            self.remove(key);
            self
        }
    }

    /// The `actions` array; empty when absent or not an array.
    pub fn actions(&self) -> &[Value] {
        self.get("actions").and_then(Value::as_array).map_or(&[], Vec::as_slice)
    }

    /// Appends `action` to `actions`, creating the array when absent. A non-array `actions` is
    /// replaced, since Zyte API would reject it anyway.
    pub fn add_action(&mut self, action: Value) -> &mut Params {
        match self.0.get_mut("actions") {
            Some(Value::Array(actions)) => actions.push(action),
            _ => {
                self.0.insert("actions".to_owned(), Value::Array(vec![action]));
            }
        }
        self
    }

    /// Builder form of [`Params::add_action`].
    #[must_use]
    pub fn with_action(mut self, action: Value) -> Params {
        self.add_action(action);
        self
    }

    /// A `setLocation` action for `address`.
    pub fn set_location_action(address: &Address) -> Value {
        json!({"action": "setLocation", "address": address.to_json()})
    }

    /// The underlying JSON object.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The underlying JSON object, mutably.
    pub fn as_map_mut(&mut self) -> &mut Map<String, Value> {
        &mut self.0
    }

    /// Unwraps the JSON object.
    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }
}

impl From<Map<String, Value>> for Params {
    fn from(map: Map<String, Value>) -> Params {
        Params(map)
    }
}

/// A JSON value's kind, for error messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_only_objects() {
        assert_eq!(Params::parse("{}"), Ok(Params::new()));
        assert_eq!(Params::parse("[1]"), Err("Zyte API params must be a JSON object, not an array".to_owned()));
        assert!(Params::parse("{").is_err());
    }

    #[test]
    fn keys_serialise_sorted() {
        let params = Params::parse(r#"{"z": 1, "a": 2}"#).unwrap().with("m", 3);
        assert_eq!(params.to_json(), r#"{"a":2,"m":3,"z":1}"#);
        let mut params = params;
        assert_eq!(params.remove("a"), Some(json!(2)));
        assert_eq!(params.to_json(), r#"{"m":3,"z":1}"#);
    }

    #[test]
    fn outputs_are_exclusive() {
        let mut params = Params::new().with("browserHtml", true);
        params.set_http_response_body(true);
        assert_eq!(params.to_json(), r#"{"httpResponseBody":true}"#);
        params.set_browser_html(true);
        assert_eq!(params.to_json(), r#"{"browserHtml":true}"#);
        params.set_browser_html(false);
        assert_eq!(params, Params::new());
    }

    #[test]
    fn actions_accumulate() {
        let mut params = Params::new().with("actions", "bogus");
        assert!(params.actions().is_empty());
        params.add_action(json!({"action": "scrollBottom"}));
        params.add_action(Params::set_location_action(&Address::new().with_country("US")));
        assert_eq!(params.actions().len(), 2);
        assert_eq!(params.actions()[1]["address"], json!({"addressCountry": "US"}));
    }

    #[test]
    fn typed_getters() {
        let params = Params::new().with("url", "https://a.example/").with("browserHtml", true);
        assert_eq!(params.url(), Some("https://a.example/"));
        assert_eq!(params.get_bool("browserHtml"), Some(true));
        assert_eq!(params.get_str("browserHtml"), None);
        assert!(params.contains("url") && !params.contains("actions"));
    }
}
