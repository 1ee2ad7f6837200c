//! Combination rules between request fields (`zyte-api.md` §1.3).
//!
//! Policy: every violation is a 422 `/request/unprocessable` whose detail starts with the
//! verified sentence "Incompatible parameters were found in the request." and then names the
//! fields. Rules, in the order they are checked:
//! 1. Extraction fields are not emulated (422 naming the field).
//! 2. At least one output: `browserHtml`, `httpResponseBody`, `httpResponseHeaders`, `screenshot`.
//! 3. `httpResponseBody` cannot be combined with browser-only fields.
//! 4. `httpRequestMethod`, `httpRequestBody`, `httpRequestText`, `customHttpRequestHeaders`
//!    and `device` require `httpResponseBody`.
//! 5. `followRedirect` and `verifyCertificate` are for HTTP requests, not browser requests.
//! 6. `httpRequestBody` and `httpRequestText` are mutually exclusive.
//! 7. `session` with `sessionContext` (\[UNVERIFIED\]; status from the policy, default 422).
//! 8. `sessionContextParameters` requires `sessionContext`.

use super::request::ExtractRequest;
use crate::policy::Policy;
use crate::problem::Problem;

const INCOMPATIBLE: &str = "Incompatible parameters were found in the request.";

/// Checks the combination rules.
pub fn check(request: &ExtractRequest, policy: &Policy) -> Result<(), Problem> {
    let opts = &request.opts;
    if let Some(field) = &opts.extraction {
        return Err(Problem::unprocessable(format!(
            "Extraction (field \"{field}\") is not supported by the emulator."
        )));
    }
    if !(opts.browser_html
        || opts.http_response_body
        || opts.http_response_headers
        || opts.screenshot)
    {
        return Err(incompatible(
            "At least one of browserHtml, httpResponseBody, httpResponseHeaders or screenshot must be enabled.",
        ));
    }
    if let (true, Some(field)) = (opts.http_response_body, opts.browser_fields.first()) {
        return Err(incompatible(&format!(
            "httpResponseBody cannot be combined with {field}."
        )));
    }
    if let (false, Some(field)) = (opts.http_response_body, opts.http_body_fields.first()) {
        return Err(incompatible(&format!(
            "{field} can only be used together with httpResponseBody."
        )));
    }
    if let (Some(browser), Some(field)) =
        (opts.browser_fields.first(), opts.http_mode_fields.first())
    {
        return Err(incompatible(&format!(
            "{field} is for HTTP requests and cannot be combined with {browser}."
        )));
    }
    if opts.both_request_bodies {
        return Err(incompatible(
            "httpRequestBody cannot be combined with httpRequestText.",
        ));
    }
    if opts.session.is_some() && opts.session_context.is_some() {
        let detail = format!("{INCOMPATIBLE} session cannot be combined with sessionContext.");
        return Err(Problem::unprocessable_with_status(
            policy.session_with_context_status,
            detail,
        ));
    }
    if opts.has_context_parameters && opts.session_context.is_none() {
        return Err(incompatible(
            "sessionContextParameters requires sessionContext.",
        ));
    }
    Ok(())
}

fn incompatible(what: &str) -> Problem {
    Problem::unprocessable(format!("{INCOMPATIBLE} {what}"))
}
