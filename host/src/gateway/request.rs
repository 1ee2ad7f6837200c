//! Reading and parsing `POST /v1/extract` bodies into [`EngineRequest`]s.
//!
//! Policy: the body must be a JSON object; what it must hold beyond that (a string `url`, a
//! valid optional `sessionManagement`, removed from the body and turned into the request's
//! controls) is what batch runs check too, in [`crate::session_management`]. Every failure is
//! a [`Problem`] with status 400 (413 for size) whose `detail` names the key path, the expected
//! type and what was found; parsing never panics (property-tested).

use axum::body::Body;
use axum::http::{HeaderMap, header};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use serde_json::{Map, Value};

use crate::engine::EngineRequest;
use crate::problem::{Problem, ProblemKind};
use crate::session_management::engine_request;
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
    let mut stream = body.into_data_stream();
    let mut buf = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| Problem::bad_request(format!("cannot read the body: {e}")))?;
        if buf.len() + chunk.len() > limit {
            return Err(too_large(limit, "exceeds it"));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
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
