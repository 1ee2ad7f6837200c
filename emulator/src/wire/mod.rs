//! The wire format of `POST /v1/extract`: request parsing and validation, combination rules,
//! and the 200 response body. Problems (errors) are in [`crate::problem`].
//!
//! Limits, each protecting against a payload Zyte API would refuse: the request body is at most
//! [`MAX_BODY_BYTES`] (5 MiB, documented); `url` at most 8192 characters; `actions` at most 100
//! (ours); `customHttpRequestHeaders` 200, `requestCookies` 100, `sessionContext` 10 and
//! `networkCapture` 10 items (documented).

mod action;
mod fields;
mod request;
pub mod response;
pub mod rules;

pub use request::{ExtractRequest, Options, RequestCookie, parse};

/// The request body limit (5 MiB).
pub const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;

/// Parses a body and checks the combination rules.
pub fn parse_and_check(
    body: &[u8],
    policy: &crate::policy::Policy,
) -> Result<ExtractRequest, crate::problem::Problem> {
    let request = parse(body, policy)?;
    rules::check(&request, policy)?;
    Ok(request)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::policy::Policy;
    use crate::problem::Problem;

    fn check(body: serde_json::Value) -> Result<ExtractRequest, Problem> {
        parse_and_check(body.to_string().as_bytes(), &Policy::default())
    }

    fn problem(body: serde_json::Value) -> Problem {
        check(body).expect_err("request should be rejected")
    }

    #[test]
    fn a_minimal_browser_request_is_valid() {
        let request =
            check(json!({"url": "https://Example.com/a?b=1", "browserHtml": true})).expect("valid");
        assert_eq!(request.host, "example.com");
        assert!(request.opts.browser_html && request.opts.follow_redirect);
    }

    #[test]
    fn unknown_fields_are_named() {
        let p = problem(json!({"url": "https://example.com", "browserHtml": true, "foo": 1}));
        assert_eq!(
            (p.status, p.kind, p.detail.as_str()),
            (400, "/request/invalid", "Unrecognized field \"foo\"")
        );
    }

    #[test]
    fn invalid_json_reports_line_and_column() {
        let p = parse_and_check(b"{\n  \"url\": False}", &Policy::default()).expect_err("bad json");
        assert_eq!((p.status, p.kind), (400, "/request/invalid-json"));
        assert!(p.detail.contains("line 2, column"), "{}", p.detail);
        assert_eq!(
            parse_and_check(b"[1]", &Policy::default())
                .expect_err("array")
                .kind,
            "/request/invalid"
        );
    }

    #[test]
    fn wrong_types_name_the_field() {
        let p = problem(json!({"url": "https://example.com", "browserHtml": "yes"}));
        assert!(p.detail.contains("\"browserHtml\""), "{}", p.detail);
        let p = problem(json!({"url": 5, "browserHtml": true}));
        assert!(p.detail.contains("\"url\""), "{}", p.detail);
        let p = problem(
            json!({"url": "https://example.com", "httpResponseBody": true, "customHttpRequestHeaders": [{"name": "a"}]}),
        );
        assert_eq!(
            p.detail,
            "Missing required field \"customHttpRequestHeaders[0].value\""
        );
    }

    #[test]
    fn urls_must_be_http_with_a_domain() {
        for url in [
            "ftp://example.com/",
            "https://127.0.0.1/",
            "https://[::1]/",
            "https://localhost/",
            "not a url",
        ] {
            let p = problem(json!({"url": url, "browserHtml": true}));
            assert_eq!(
                (p.status, p.kind),
                (400, "/request/invalid"),
                "{url}: {}",
                p.detail
            );
        }
        let long = format!("https://example.com/{}", "a".repeat(8200));
        assert_eq!(
            problem(json!({"url": long, "browserHtml": true})).status,
            400
        );
        assert_eq!(
            problem(json!({"browserHtml": true})).detail,
            "Missing required field \"url\""
        );
    }

    #[test]
    fn incompatible_fields_are_422() {
        let cases = [
            json!({"url": "https://example.com", "httpResponseBody": true, "browserHtml": true}),
            json!({"url": "https://example.com", "httpResponseBody": true, "actions": []}),
            json!({"url": "https://example.com", "browserHtml": true, "httpRequestMethod": "POST"}),
            json!({"url": "https://example.com", "browserHtml": true, "followRedirect": false}),
            json!({"url": "https://example.com", "httpResponseBody": true, "httpRequestBody": "YQ==", "httpRequestText": "a"}),
            json!({"url": "https://example.com"}),
            json!({"url": "https://example.com", "browserHtml": true, "product": true}),
            json!({"url": "https://example.com", "browserHtml": true, "sessionContextParameters": {"actions": []}}),
        ];
        for body in cases {
            let p = problem(body.clone());
            assert_eq!(
                (p.status, p.kind),
                (422, "/request/unprocessable"),
                "{body}: {}",
                p.detail
            );
        }
        let p = problem(
            json!({"url": "https://example.com", "httpResponseBody": true, "browserHtml": true}),
        );
        assert!(
            p.detail
                .starts_with("Incompatible parameters were found in the request."),
            "{}",
            p.detail
        );
    }

    #[test]
    fn session_ids_must_be_uuid_v4() {
        let ok = check(json!({"url": "https://example.com", "browserHtml": true,
                              "session": {"id": "6f1b3c0e-2c1d-4b8a-9d3e-0a1b2c3d4e5f"}}));
        assert!(ok.is_ok());
        let p = problem(json!({"url": "https://example.com", "browserHtml": true,
                               "session": {"id": "6f1b3c0e-2c1d-1b8a-9d3e-0a1b2c3d4e5f"}}));
        assert_eq!(p.status, 400);
        assert!(p.detail.contains("session.id"), "{}", p.detail);
        let p = problem(json!({"url": "https://example.com", "browserHtml": true,
                               "session": {"id": "6f1b3c0e-2c1d-4b8a-9d3e-0a1b2c3d4e5f"},
                               "sessionContext": [{"name": "a", "value": "b"}]}));
        assert_eq!(p.status, 422);
    }

    #[test]
    fn session_context_is_canonical() {
        let a = check(json!({"url": "https://example.com", "browserHtml": true,
                             "sessionContext": [{"name": "b", "value": "2"}, {"name": "a", "value": "1"}]}));
        let b = check(json!({"url": "https://example.com", "browserHtml": true,
                             "sessionContext": [{"name": "a", "value": "1"}, {"name": "b", "value": "2"}]}));
        assert_eq!(
            a.expect("valid").opts.session_context,
            b.expect("valid").opts.session_context
        );
    }

    #[test]
    fn echo_data_of_any_type_is_kept() {
        let request = check(
            json!({"url": "https://example.com", "browserHtml": true, "echoData": "https://example.com"}),
        );
        assert_eq!(
            request.expect("valid").opts.echo_data,
            Some(json!("https://example.com"))
        );
    }
}
