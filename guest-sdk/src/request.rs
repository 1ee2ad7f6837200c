//! Helpers on [`Request`]: headers, typed params, and the URL's parts.
//!
//! Policy: header names compare case-insensitively (HTTP semantics) and keep the case they were
//! given. Zyte API sends only the last value of a repeated `customHttpRequestHeaders` name, so
//! [`Request::header`] returns the last match and [`Request::set_header`] leaves exactly one.
//! The host writes `headers` back to `customHttpRequestHeaders`, which Zyte API accepts only
//! with `httpResponseBody`: a config adding headers to browser requests gets a 400 from Zyte API.
//!
//! ```
//! use session_host_sdk::{Request, Params};
//! # let mut request = session_host_sdk::testing::request("https://a.example/");
//! request.set_header("X-CSRF-Token", "abc");
//! assert_eq!(request.header("x-csrf-token"), Some("abc"));
//! let mut params = request.parsed_params().unwrap();
//! params.set_http_response_body(true);
//! request.set_params(&params);
//! ```

use crate::{Header, Params, Request, url};

impl Request {
    /// The value of header `name` (case-insensitive), the last one if it repeats.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().rev().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value.as_str())
    }

    /// Sets header `name` to `value`: replaces the first header with that name (keeping its
    /// position, taking the new name's case) and removes any other; appends it when absent.
    pub fn set_header(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let header = Header { name: name.into(), value: value.into() };
        match self.headers.iter().position(|h| h.name.eq_ignore_ascii_case(&header.name)) {
            Some(first) => {
                let mut index = 0;
                self.headers.retain(|h| {
                    index += 1;
                    index <= first + 1 || !h.name.eq_ignore_ascii_case(&header.name)
                });
                self.headers[first] = header;
            }
            None => self.headers.push(header),
        }
    }

    /// Removes every header named `name`; returns whether there was one.
    pub fn remove_header(&mut self, name: &str) -> bool {
        let before = self.headers.len();
        self.headers.retain(|h| !h.name.eq_ignore_ascii_case(name));
        self.headers.len() != before
    }

    /// The request's Zyte API params (`params`, which never holds `url`) as [`Params`].
    pub fn parsed_params(&self) -> Result<Params, String> {
        Params::parse(&self.params)
    }

    /// The value of one of the request's params, `None` when absent: [`Params::field`] of
    /// `params`, which reads it without parsing the others.
    pub fn param(&self, name: &str) -> Result<Option<serde_json::Value>, String> {
        Params::field(&self.params, name)
    }

    /// Replaces the request's params.
    pub fn set_params(&mut self, params: &Params) {
        self.params = params.to_json();
    }

    /// The URL's host, as written (see [`url::host`]).
    pub fn host(&self) -> Option<&str> {
        url::host(&self.url)
    }

    /// Whether the request asks for `browserHtml` (a browser request), judging by its params.
    /// Unparsable params count as not a browser request.
    pub fn is_browser_request(&self) -> bool {
        self.param("browserHtml").is_ok_and(|value| value.is_some_and(|v| v.as_bool() == Some(true)))
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::request;

    #[test]
    fn headers_are_case_insensitive_and_last_wins() {
        let mut r = request("https://a.example/");
        r.set_header("Accept", "a");
        r.headers.push(crate::Header { name: "ACCEPT".into(), value: "b".into() });
        assert_eq!(r.header("accept"), Some("b"));
        r.set_header("accept", "c");
        assert_eq!(r.headers.len(), 1);
        assert_eq!((r.headers[0].name.as_str(), r.header("Accept")), ("accept", Some("c")));
        assert!(r.remove_header("ACCEPT"));
        assert!(!r.remove_header("accept"));
    }

    #[test]
    fn set_header_keeps_position_of_first() {
        let mut r = request("https://a.example/");
        for (name, value) in [("a", "1"), ("b", "2"), ("A", "3"), ("c", "4")] {
            r.headers.push(crate::Header { name: name.into(), value: value.into() });
        }
        r.set_header("A", "x");
        let names: Vec<_> = r.headers.iter().map(|h| (h.name.as_str(), h.value.as_str())).collect();
        assert_eq!(names, [("A", "x"), ("b", "2"), ("c", "4")]);
    }

    #[test]
    fn params_round_trip_and_browser_detection() {
        let mut r = request("https://a.example/");
        assert!(!r.is_browser_request());
        let mut params = r.parsed_params().unwrap();
        params.set_browser_html(true);
        r.set_params(&params);
        assert!(r.is_browser_request());
        assert_eq!(r.host(), Some("a.example"));
    }
}
