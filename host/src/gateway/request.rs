//! Reading and parsing `POST /v1/extract` bodies into [`EngineRequest`]s.
//!
//! Policy: the body must be a JSON object; what it must hold beyond that (a string `url`, a
//! valid optional `sessionManagement`, removed from the body and turned into the request's
//! controls) is what batch runs check too, in [`crate::session_management`]. Every failure is
//! a [`Problem`] with status 400 (413 for size) whose `detail` names the key path, the expected
//! type and what was found; parsing never panics (property-tested).

use std::borrow::Cow;

use axum::body::Body;
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use http_body_util::LengthLimitError;
use serde_json::{Map, Value};

use crate::engine::EngineRequest;
use crate::problem::{Problem, ProblemKind};
use crate::session_management::{check_url, engine_request};
use crate::wire::json_kind;

/// Reads `body`, refusing more than `limit` bytes: at once when `Content-Length` says so,
/// otherwise as soon as the chunks read exceed it.
///
/// # Errors
/// 413 `payload-too-large` over the limit; 400 `bad-request` when the body cannot be read.
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, Problem> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(length) = declared.filter(|&n| n > limit as u64) {
        return Err(too_large(limit, &format!("is {length} bytes")));
    }
    // `Limited` stops reading past the limit; `read_whole` keeps a one-chunk body as it came
    // (no copy, no queue: issue 17).
    match crate::body::read_whole(http_body_util::Limited::new(body, limit)).await {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.is::<LengthLimitError>() => Err(too_large(limit, "exceeds it")),
        Err(e) => Err(Problem::bad_request(format!("cannot read the body: {e}"))),
    }
}

fn too_large(limit: usize, what: &str) -> Problem {
    Problem::new(
        ProblemKind::PayloadTooLarge,
        format!("the request body {what}; the limit is {limit} bytes"),
    )
    .with("limit", limit)
}

/// Parses a body into the engine request: the body without `sessionManagement`, and the
/// controls it carried.
///
/// # Errors
/// A 400 problem naming what is wrong (see the module docs).
pub fn parse(bytes: &[u8]) -> Result<EngineRequest, Problem> {
    let body = parse_object(bytes)?;
    engine_request(body).map_err(|e| Problem::bad_request(e.to_string()))
}

/// What [`plain_url`] reads of a body: its `url`, and whether it has `sessionManagement`.
#[derive(serde::Deserialize)]
struct Peek<'a> {
    #[serde(borrow)]
    url: Cow<'a, str>,
    #[serde(rename = "sessionManagement", default)]
    session_management: Present,
}

/// Whether a field is there, whatever its value (`null` included).
#[derive(Default)]
struct Present(bool);

impl<'de> serde::Deserialize<'de> for Present {
    fn deserialize<D: serde::Deserializer<'de>>(value: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(value).map(|_| Self(true))
    }
}

/// The `url` of a body without `sessionManagement`, read without building a tree (issue 17:
/// such a body may be forwarded as it is, see [`crate::engine::Engine::passes_through`]).
///
/// `None` whenever the body needs [`parse`]: it has `sessionManagement` (even `null`), it is
/// not a JSON object with one string `url` (a duplicate key counts), the `url` breaks a bound
/// of [`crate::session_management`], or it is not valid JSON. [`parse`] then names what is
/// wrong, so that both paths refuse the same bodies with the same problems; the one
/// difference is that numbers beyond `f64` are left to Zyte API here.
pub fn plain_url(bytes: &[u8]) -> Option<Cow<'_, str>> {
    let peek: Peek<'_> = serde_json::from_slice(bytes).ok()?;
    if peek.session_management.0 {
        return None;
    }
    check_url(&peek.url).ok()?;
    Some(peek.url)
}

fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, Problem> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        let detail = "the request body is empty; expected a JSON object";
        return Err(Problem::new(ProblemKind::InvalidJson, detail));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(Problem::bad_request(format!(
            "the request body must be a JSON object, got {}",
            json_kind(&other)
        ))),
        Err(e) => Err(Problem::new(
            ProblemKind::InvalidJson,
            format!("the request body is not valid JSON: {e}"),
        )),
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
