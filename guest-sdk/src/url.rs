//! Minimal URL helpers for the absolute `http(s)` URLs that Zyte API requests carry.
//!
//! Policy: these are string operations, not a full URL parser (a parser would cost far more code
//! size than a config needs). They understand `scheme://authority/path?query#fragment` and
//! return `None` for anything without `://`. Hosts are returned as written; the host lowercases
//! them before matching rules, and so should a config that compares them.
//!
//! ```
//! use session_host_sdk::url;
//! let u = "https://shop.example:8443/search?q=a#top";
//! assert_eq!(url::origin(u), Some("https://shop.example:8443"));
//! assert_eq!(url::host(u), Some("shop.example"));
//! assert_eq!(url::with_query_param(u, "csrf", "a b"), "https://shop.example:8443/search?q=a&csrf=a%20b#top");
//! ```

/// `scheme://authority`, without a trailing slash.
pub fn origin(url: &str) -> Option<&str> {
    let after_scheme = url.find("://")? + 3;
    let end = url[after_scheme..].find(['/', '?', '#']).map_or(url.len(), |at| after_scheme + at);
    Some(&url[..end])
}

/// The host: the authority without user info and port.
pub fn host(url: &str) -> Option<&str> {
    let origin = origin(url)?;
    let authority = &origin[origin.find("://")? + 3..];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, rest)| rest);
    if host_port.starts_with('[') {
        return host_port.find(']').map(|end| &host_port[..=end]);
    }
    Some(host_port.split_once(':').map_or(host_port, |(host, _)| host))
}

/// `url` with `name=value` appended to its query (before any fragment), both percent-encoded.
pub fn with_query_param(url: &str, name: &str, value: &str) -> String {
    let (base, fragment) = url.split_once('#').map_or((url, None), |(base, fragment)| (base, Some(fragment)));
    let separator = match base.find('?') {
        None => "?",
        Some(at) if at + 1 == base.len() || base.ends_with('&') => "",
        Some(_) => "&",
    };
    let mut out = format!("{base}{separator}{}={}", percent_encode(name), percent_encode(value));
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_and_host() {
        assert_eq!(origin("https://a.example"), Some("https://a.example"));
        assert_eq!(origin("https://a.example?x#y"), Some("https://a.example"));
        assert_eq!(host("http://user:pw@a.example:81/p"), Some("a.example"));
        assert_eq!(host("http://[::1]:8080/"), Some("[::1]"));
        assert_eq!(origin("not a url"), None);
    }

    #[test]
    fn query_params_are_appended() {
        assert_eq!(with_query_param("https://a.example", "k", "v"), "https://a.example?k=v");
        assert_eq!(with_query_param("https://a.example/?", "k", "v"), "https://a.example/?k=v");
        assert_eq!(with_query_param("https://a.example/?a=1&", "k", "v"), "https://a.example/?a=1&k=v");
        assert_eq!(with_query_param("https://a.example/p#f", "k", "&="), "https://a.example/p?k=%26%3D#f");
    }
}
