//! Reading and parsing `POST /v1/extract` bodies into [`EngineRequest`]s.
//!
//! Policy: the body must be a JSON object with a string `url` (everything else about it is Zyte
//! API's to validate, so new Zyte API fields work without a gateway release). Its optional
//! `sessionManagement` object is removed from the body and becomes the request's
//! [`SessionControls`]; it is validated strictly, since a typo there would otherwise silently
//! change nothing:
//!
//! | Key | Type | Reference meta key |
//! | --- | --- | --- |
//! | `enabled` | boolean | `zyte_api_session_enabled` |
//! | `cookieMode` | boolean | `zyte_api_session_cookie_mode` |
//! | `params` | object (session init parameters) | `zyte_api_session_params` |
//! | `location` | object: `addressCountry`, `addressRegion`, `postalCode`, `streetAddress` (strings) | `zyte_api_session_location` |
//! | `pool` | a pool id (non-empty string), or `{id, size, delay, randomizeDelay}` | `zyte_api_session_pool` |
//!
//! Every failure is a [`Problem`] with status 400 (413 for size) whose `detail` names the key
//! path, the expected type and what was found; parsing never panics (property-tested).

use axum::body::Body;
use axum::http::{HeaderMap, header};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use serde_json::{Map, Value};

use super::problem::{Problem, ProblemKind};
use crate::engine::EngineRequest;
use crate::plugin::{Address, PoolSpec, SessionControls};
use crate::wire::{self, json_kind};

/// The body key of the session controls.
pub const SESSION_MANAGEMENT: &str = "sessionManagement";
/// The keys `sessionManagement` accepts.
pub const CONTROL_KEYS: [&str; 5] = ["enabled", "cookieMode", "params", "location", "pool"];
/// The keys `sessionManagement.location` accepts.
pub const LOCATION_KEYS: [&str; 4] = [
    "addressCountry",
    "addressRegion",
    "postalCode",
    "streetAddress",
];
/// The keys `sessionManagement.pool` accepts, when an object.
pub const POOL_KEYS: [&str; 4] = ["id", "size", "delay", "randomizeDelay"];

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
    let mut body = parse_object(bytes)?;
    match body.get("url") {
        Some(Value::String(_)) => {}
        Some(other) => {
            let kind = json_kind(other);
            return Err(Problem::bad_request(format!(
                "`url` must be a string, got {kind}"
            )));
        }
        None => return Err(Problem::bad_request("the request has no `url`")),
    }
    let controls = match body.remove(SESSION_MANAGEMENT) {
        Some(value) => controls(value)?,
        None => wire::no_controls(),
    };
    Ok(EngineRequest { body, controls })
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

/// The controls of a `sessionManagement` value.
fn controls(value: Value) -> Result<SessionControls, Problem> {
    let map = object(value, SESSION_MANAGEMENT)?;
    only(&map, &CONTROL_KEYS, SESSION_MANAGEMENT)?;
    let path = |key: &str| format!("{SESSION_MANAGEMENT}.{key}");
    let mut controls = wire::no_controls();
    for (key, value) in map {
        match key.as_str() {
            "enabled" => controls.enabled = Some(boolean(&value, &path(&key))?),
            "cookieMode" => controls.cookie_mode = Some(boolean(&value, &path(&key))?),
            "params" => {
                controls.params = Some(Value::Object(object(value, &path(&key))?).to_string())
            }
            "location" => controls.location = Some(location(value, &path(&key))?),
            _ => controls.pool = Some(pool(value, &path(&key))?),
        }
    }
    Ok(controls)
}

fn location(value: Value, path: &str) -> Result<Address, Problem> {
    let map = object(value, path)?;
    only(&map, &LOCATION_KEYS, path)?;
    let field = |key: &str| -> Result<Option<String>, Problem> {
        map.get(key)
            .map(|v| string(v, &format!("{path}.{key}")))
            .transpose()
    };
    Ok(Address {
        address_country: field("addressCountry")?,
        address_region: field("addressRegion")?,
        postal_code: field("postalCode")?,
        street_address: field("streetAddress")?,
    })
}

fn pool(value: Value, path: &str) -> Result<PoolSpec, Problem> {
    let map = match value {
        Value::String(id) => Map::from_iter([("id".to_owned(), Value::String(id))]),
        Value::Object(map) => map,
        other => {
            let kind = json_kind(&other);
            let detail = format!("`{path}` must be a pool id (a string) or an object, got {kind}");
            return Err(Problem::bad_request(detail));
        }
    };
    only(&map, &POOL_KEYS, path)?;
    let at = |key: &str| format!("{path}.{key}");
    let id = match map.get("id") {
        Some(v) => string(v, &at("id"))?,
        None => return Err(Problem::bad_request(format!("`{path}` has no `id`"))),
    };
    if id.is_empty() {
        return Err(Problem::bad_request(format!(
            "`{}` must not be empty",
            at("id")
        )));
    }
    Ok(PoolSpec {
        id,
        size: map.get("size").map(|v| size(v, &at("size"))).transpose()?,
        delay: map
            .get("delay")
            .map(|v| delay(v, &at("delay")))
            .transpose()?,
        randomize_delay: map
            .get("randomizeDelay")
            .map(|v| boolean(v, &at("randomizeDelay")))
            .transpose()?,
    })
}

fn size(value: &Value, path: &str) -> Result<u32, Problem> {
    value
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .filter(|&n| n > 0)
        .ok_or_else(|| expected(path, "a positive integer (at most 4294967295)", value))
}

fn delay(value: &Value, path: &str) -> Result<f64, Problem> {
    value
        .as_f64()
        .filter(|d| d.is_finite() && *d >= 0.0)
        .ok_or_else(|| expected(path, "a number of seconds ≥ 0", value))
}

/// Fails on the first key of `map` not in `allowed`, naming it and listing the allowed ones.
fn only(map: &Map<String, Value>, allowed: &[&str], path: &str) -> Result<(), Problem> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(Problem::bad_request(format!(
            "unknown key `{path}.{key}`; expected one of: {}",
            allowed.join(", ")
        ))),
        None => Ok(()),
    }
}

fn object(value: Value, path: &str) -> Result<Map<String, Value>, Problem> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err(expected(path, "an object", &other)),
    }
}

fn boolean(value: &Value, path: &str) -> Result<bool, Problem> {
    value
        .as_bool()
        .ok_or_else(|| expected(path, "a boolean", value))
}

fn string(value: &Value, path: &str) -> Result<String, Problem> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| expected(path, "a string", value))
}

fn expected(path: &str, what: &str, found: &Value) -> Problem {
    let detail = match found {
        Value::Number(n) => format!("`{path}` must be {what}, got the number {n}"),
        other => format!("`{path}` must be {what}, got {}", json_kind(other)),
    };
    Problem::bad_request(detail)
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
