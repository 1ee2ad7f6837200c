//! Cookie jars of cookie-mode sessions (docs/reference.md §5.13).
//!
//! A jar starts as the init response's `responseCookies`. Each passed use check merges the
//! response's `responseCookies` into it, keyed by `(name, domain or "", path or "/")`: a later
//! cookie replaces an earlier one in place, new ones are appended, and an empty list leaves the
//! jar unchanged. Failed checks never touch the jar.
//!
//! # Bounds (issue 13; the reference's jar grows without bound)
//!
//! A jar keeps at most [`MAX_COOKIES`] cookies and [`MAX_JAR_BYTES`] bytes (of their JSON);
//! past either, the cookies first added are dropped first (a replaced cookie keeps its place).
//! A merge costs O(jar + new): one index of the jar's keys, built per merge.

use std::collections::HashMap;

use serde_json::Value;

/// Most cookies one session's jar keeps: browsers keep 180 per domain (Chrome), and a site
/// that needs more is not served by a session either way.
pub const MAX_COOKIES: usize = 256;
/// Most bytes (of the cookies' JSON) one session's jar keeps: 64 KiB is 16 browser-size (4 KiB)
/// cookies of the largest kind, and bounds what every use request sends back upstream.
pub const MAX_JAR_BYTES: usize = 64 * 1024;

/// The `responseCookies` of a Zyte API response body (empty when absent or malformed), bounded
/// like a jar.
pub fn response_cookies(body: &str) -> Vec<Value> {
    #[derive(serde::Deserialize)]
    struct Only {
        #[serde(default, rename = "responseCookies")]
        cookies: Vec<Value>,
    }
    let mut cookies = serde_json::from_str::<Only>(body)
        .map(|o| o.cookies)
        .unwrap_or_default();
    bound(&mut cookies);
    cookies
}

/// What identifies a cookie in a jar: its name, domain (or `""`) and path (or `/`).
pub(crate) fn key(cookie: &Value) -> (String, String, String) {
    let text = |field: &str, default: &str| {
        cookie
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_owned()
    };
    (text("name", ""), text("domain", ""), text("path", "/"))
}

/// Merges `new` into `jar`, then bounds it.
pub fn merge(jar: &mut Vec<Value>, new: Vec<Value>) {
    if new.is_empty() {
        return;
    }
    let mut index: HashMap<_, usize> = jar.iter().enumerate().map(|(i, c)| (key(c), i)).collect();
    for cookie in new {
        let k = key(&cookie);
        match index.get(&k) {
            Some(&i) => jar[i] = cookie,
            None => {
                index.insert(k, jar.len());
                jar.push(cookie);
            }
        }
    }
    bound(jar);
}

/// Drops the first cookies of `jar` until it holds at most [`MAX_COOKIES`] cookies and
/// [`MAX_JAR_BYTES`] bytes.
pub fn bound(jar: &mut Vec<Value>) {
    let sizes: Vec<usize> = jar.iter().map(|c| c.to_string().len()).collect();
    let mut drop = jar.len().saturating_sub(MAX_COOKIES);
    let mut total: usize = sizes[drop..].iter().sum();
    while total > MAX_JAR_BYTES {
        total -= sizes[drop];
        drop += 1;
    }
    jar.drain(..drop);
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
    fn issue_13_the_jar_is_bounded_and_merged_in_linear_time() {
        let cookie = |n: usize| json!({"name": format!("c{n}"), "value": "v"});
        let mut jar = Vec::new();
        let start = std::time::Instant::now();
        merge(&mut jar, (0..100_000).map(cookie).collect());
        merge(&mut jar, (0..100_000).map(cookie).collect());
        // Quadratic merging took minutes here; linear takes well under a second.
        assert!(
            start.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(jar.len(), MAX_COOKIES);
        let big = json!({"name": "big", "value": "x".repeat(MAX_JAR_BYTES)});
        merge(&mut jar, vec![cookie(1), big]);
        assert!(jar.iter().map(|c| c.to_string().len()).sum::<usize>() <= MAX_JAR_BYTES);
        assert!(jar.iter().all(|c| c["name"] != "big"));
    }

    #[test]
    fn response_cookies_are_read_from_the_body() {
        let body = r#"{"url": "u", "responseCookies": [{"name": "a", "value": "b"}]}"#;
        assert_eq!(response_cookies(body).len(), 1);
        assert!(response_cookies("not json").is_empty());
    }
}
