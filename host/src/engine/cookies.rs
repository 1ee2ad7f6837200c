//! Cookie jars of cookie-mode sessions (docs/reference.md §5.13).
//!
//! A jar starts as the init response's `responseCookies`. Each passed use check merges the
//! response's `responseCookies` into it, keyed by `(name, domain or "", path or "/")`: a later
//! cookie replaces an earlier one in place, new ones are appended, and an empty list leaves the
//! jar unchanged. Failed checks never touch the jar.

use serde_json::Value;

/// The `responseCookies` of a Zyte API response body (empty when absent or malformed).
pub fn response_cookies(body: &str) -> Vec<Value> {
    #[derive(serde::Deserialize)]
    struct Only {
        #[serde(default, rename = "responseCookies")]
        cookies: Vec<Value>,
    }
    serde_json::from_str::<Only>(body)
        .map(|o| o.cookies)
        .unwrap_or_default()
}

fn key(cookie: &Value) -> (String, String, String) {
    let text = |field: &str, default: &str| {
        cookie
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_owned()
    };
    (text("name", ""), text("domain", ""), text("path", "/"))
}

/// Merges `new` into `jar`.
pub fn merge(jar: &mut Vec<Value>, new: Vec<Value>) {
    for cookie in new {
        let k = key(&cookie);
        match jar.iter_mut().find(|c| key(c) == k) {
            Some(slot) => *slot = cookie,
            None => jar.push(cookie),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_is_keyed_by_name_domain_and_path() {
        let mut jar = vec![
            json!({"name": "sid", "value": "1", "domain": "a.com"}),
            json!({"name": "x", "value": "1"}),
        ];
        merge(
            &mut jar,
            vec![
                json!({"name": "sid", "value": "2", "domain": "a.com", "path": "/"}),
                json!({"name": "x", "value": "3", "path": "/p"}),
            ],
        );
        assert_eq!(jar[0]["value"], "2");
        assert_eq!(jar[1]["value"], "1");
        assert_eq!(jar[2]["value"], "3");
        merge(&mut jar, Vec::new());
        assert_eq!(jar.len(), 3);
    }

    #[test]
    fn response_cookies_are_read_from_the_body() {
        let body = r#"{"url": "u", "responseCookies": [{"name": "a", "value": "b"}]}"#;
        assert_eq!(response_cookies(body).len(), 1);
        assert!(response_cookies("not json").is_empty());
    }
}
