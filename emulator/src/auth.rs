//! HTTP Basic authentication, as Zyte API does it.
//!
//! Policy: the API key is the Basic user name; the password is ignored (Zyte API documents it as
//! empty). A missing header, another scheme, bad base64, or an empty user name is 401
//! `/auth/not-valid`. With no configured keys any non-empty key is accepted; otherwise a key
//! outside the set is 401 `/auth/key-not-found`.

use std::collections::HashSet;

use base64::Engine as _;
use http::HeaderValue;

use crate::problem::Problem;

/// The API key of a request.
pub fn api_key(
    header: Option<&HeaderValue>,
    accepted: &HashSet<String>,
) -> Result<String, Problem> {
    let user = basic_user(header).ok_or_else(Problem::auth_not_valid)?;
    if !accepted.is_empty() && !accepted.contains(&user) {
        return Err(Problem::key_not_found());
    }
    Ok(user)
}

fn basic_user(header: Option<&HeaderValue>) -> Option<String> {
    let value = header?.to_str().ok()?.trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let user = text.split_once(':').map_or(text.as_str(), |(user, _)| user);
    (!user.is_empty()).then(|| user.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(raw: &str) -> HeaderValue {
        HeaderValue::from_str(raw).expect("header value")
    }

    #[test]
    fn any_key_is_accepted_by_default() {
        // python-zyte-api sends base64("KEY123:").
        assert_eq!(
            api_key(Some(&header("Basic S0VZMTIzOg==")), &HashSet::new()),
            Ok("KEY123".to_owned())
        );
    }

    #[test]
    fn malformed_or_missing_auth_is_not_valid() {
        for raw in [
            None,
            Some("Bearer abc"),
            Some("Basic %%%"),
            Some("Basic Og=="),
        ] {
            let problem = api_key(raw.map(header).as_ref(), &HashSet::new()).expect_err("rejected");
            assert_eq!(
                (problem.status, problem.kind),
                (401, "/auth/not-valid"),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn unknown_keys_are_not_found_when_a_set_is_configured() {
        let accepted: HashSet<String> = ["GOOD".to_owned()].into();
        let problem =
            api_key(Some(&header("Basic S0VZMTIzOg==")), &accepted).expect_err("rejected");
        assert_eq!((problem.status, problem.kind), (401, "/auth/key-not-found"));
        assert!(api_key(Some(&header("Basic R09PRDo=")), &accepted).is_ok());
    }
}
