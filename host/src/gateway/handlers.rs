//! The route handlers. Each returns `Result<_, Problem>` and uses `?`; see [`super`] for the
//! policy they implement.

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::GatewayState;
use super::problem::PROBLEM_JSON;
use super::request;
use crate::engine::{Deadline, EngineError, EngineResponse, PoolCounts, PoolSnapshot, ServedBy};
use crate::problem::{Problem, ProblemKind};
use crate::zyte::ZyteError;

/// The session id that served the request.
pub const SESSION_ID: HeaderName = HeaderName::from_static("x-session-id");
/// The pool of that session.
pub const SESSION_POOL: HeaderName = HeaderName::from_static("x-session-pool");
/// The config that managed it.
pub const SESSION_CONFIG: HeaderName = HeaderName::from_static("x-session-config");
/// Zyte API's id of the request, passed through on its error answers.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("request-id");

use crate::telemetry::{self, Front, RequestOutcome};

/// `POST /v1/extract`.
///
/// Takes the request whole: a `HeaderMap` extractor would clone every header (issue 17).
pub(super) async fn extract(
    State(state): State<GatewayState>,
    request: axum::extract::Request,
) -> Result<Response, Problem> {
    let deadline = request.extensions().get::<Deadline>().copied();
    let deadline = deadline.unwrap_or_else(|| Deadline::after(state.config().request_timeout));
    extract_by(&state, request, deadline).await
}

/// [`extract`] answering by `deadline` (the router's handler reads it from the request's
/// extensions; [`super::front`] passes it).
pub(super) async fn extract_by(
    state: &GatewayState,
    request: axum::extract::Request,
    deadline: Deadline,
) -> Result<Response, Problem> {
    let (parts, body) = request.into_parts();
    let bytes = request::read_body(&parts.headers, body, state.config().max_body_bytes).await?;
    let engine = state.engine();
    // A body the engine would forward unchanged is sent as it came (issue 17); any other is
    // parsed, checked and run through the engine.
    let unchanged = engine.may_pass_through()
        && request::plain_url(&bytes).is_some_and(|url| engine.passes_through(&url));
    // Run in the connection's own task (issue 17: a task per request cost a spawn, a move of
    // the engine's large future and a cross-thread wake-up). Cancellation is the same: when
    // this handler is dropped (a 504, a client that goes away) the engine future is dropped
    // with it, and its drop guards give back its lease (see the engine's policy). A panic
    // unwinds to `panic::contain`, which answers this request alone.
    let started = std::time::Instant::now();
    let outcome = if unchanged {
        engine.forward_unchanged(bytes, deadline).await
    } else {
        let request = request::parse(&bytes)?;
        // Boxed by the engine (issue 17, fifth round): its future is the larger one by far,
        // and unboxed it sized this handler's future, and every future around it, for the
        // bodies forwarded unchanged too; each of those levels is moved once when it starts.
        // `execute_guarded`: the guard around this handler ends the request at `deadline`,
        // so the engine sets no timer of its own for the same instant (issue 17).
        engine.execute_guarded(request, deadline).await
    };
    telemetry::record_request(
        Front::Gateway,
        RequestOutcome::of(&outcome),
        started.elapsed(),
    );
    match outcome {
        Ok(EngineResponse {
            status,
            body,
            served_by,
        }) => Ok(upstream_answer(status, body, served_by.as_ref(), None)),
        Err(EngineError::Upstream { error, served_by }) => match *error {
            ZyteError::Api {
                status,
                body,
                request_id,
                ..
            } => Ok(upstream_answer(
                status,
                body,
                served_by.as_ref(),
                request_id,
            )),
            other => Err(EngineError::Upstream {
                error: Box::new(other),
                served_by,
            }
            .into()),
        },
        Err(e) => Err(e.into()),
    }
}

/// Zyte API's status and body, unchanged, with the session headers.
fn upstream_answer(
    status: u16,
    body: String,
    served_by: Option<&ServedBy>,
    request_id: Option<String>,
) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    // Constants: `HeaderValue::from_static` checks its bytes when called at run time (about
    // 190 instructions a request, issue 17), once at compile time in a `const`.
    const JSON: HeaderValue = HeaderValue::from_static("application/json");
    const PROBLEM: HeaderValue = HeaderValue::from_static(PROBLEM_JSON);
    let content_type = match (status.is_success(), body.is_empty()) {
        (_, true) => None,
        (true, false) => Some(JSON),
        (false, false) => Some(PROBLEM),
    };
    // Built directly: a `(status, String)` answer would set a text/plain type to replace.
    let mut response = Response::new(axum::body::Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Some(content_type) = content_type {
        headers.insert(header::CONTENT_TYPE, content_type);
    }
    if let Some(served_by) = served_by {
        headers.insert(SESSION_ID, header_value(&served_by.session_id));
        headers.insert(SESSION_POOL, header_value(&served_by.pool));
        headers.insert(SESSION_CONFIG, header_value(&served_by.config));
    }
    if let Some(id) = request_id {
        headers.insert(REQUEST_ID, header_value(&id));
    }
    response
}

/// `text` as a header value; percent-encoded when it holds bytes a header cannot carry.
fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| {
        let encoded: String = url::form_urlencoded::byte_serialize(text.as_bytes()).collect();
        HeaderValue::from_str(&encoded).unwrap_or(HeaderValue::from_static("?"))
    })
}

/// Pools on a `GET /status` page when the query sets no `limit`.
pub const STATUS_DEFAULT_LIMIT: usize = 100;
/// Most pools on a `GET /status` page: a page is built and serialised in one go.
pub const STATUS_MAX_LIMIT: usize = 1_000;
/// Live sessions listed per pool on a `GET /status` page (issue 19): a sample, each pool's
/// `live`, `busy`, `idle`, `missing` and `in_flight` count them all. With the pool's retired
/// sessions (at most 16) a pool costs at most about 40 KB of JSON, whatever its size.
pub const STATUS_SESSIONS_PER_POOL: usize = 20;

/// The query of `GET /status`: `?offset=N&limit=M` over the pools sorted by id.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StatusQuery {
    #[serde(default)]
    offset: usize,
    limit: Option<usize>,
}

/// `GET /status`: the gateway, configs and stats, and one page of pools (issue 13): `limit`
/// (default [`STATUS_DEFAULT_LIMIT`], at most [`STATUS_MAX_LIMIT`]) pools from `offset`, sorted
/// by id, with `pools_total`, each pool with its counts and at most
/// [`STATUS_SESSIONS_PER_POOL`] live sessions. A larger `limit` is a 400 naming the bound.
/// Cost: `O(pools + page)`, whatever the pools' sizes.
pub(super) async fn status(
    State(state): State<GatewayState>,
    query: Result<Query<StatusQuery>, QueryRejection>,
) -> Result<Json<Value>, Problem> {
    let Query(query) = query.map_err(|e| Problem::bad_request(format!("bad query: {e}")))?;
    let limit = query.limit.unwrap_or(STATUS_DEFAULT_LIMIT);
    if limit > STATUS_MAX_LIMIT {
        let detail = format!("`limit` is {limit}, above the {STATUS_MAX_LIMIT} pools a page holds");
        return Err(Problem::bad_request(detail));
    }
    let engine = state.engine();
    let config = state.config();
    let (total, page) = engine.pools_page_bounded(query.offset, limit, STATUS_SESSIONS_PER_POOL);
    let pools: Vec<Value> = page
        .iter()
        .map(|(c, p)| {
            let mut pool = status_pool(c, p);
            // A shared pool (Redis store, issue 16): every host's counters, as last fetched.
            if let (Some(stats), Some(fields)) = (engine.shared_stats(&p.id), pool.as_object_mut())
            {
                fields.insert("stats".into(), json!(stats));
            }
            pool
        })
        .collect();
    Ok(Json(json!({
        "gateway": {
            "listen": config.listen.to_string(),
            "key_required": config.key.is_some(),
            "max_body_bytes": config.max_body_bytes,
            "request_timeout_secs": config.request_timeout.as_secs_f64(),
            "shutdown_timeout_secs": config.shutdown_timeout.as_secs_f64(),
        },
        "configs": engine.configs().status(),
        "pools_total": total,
        "offset": query.offset,
        "limit": limit,
        "pools": pools,
        "stats": engine.stats(),
    })))
}

/// A pool of a status page: its snapshot, with its counts.
fn status_pool(counts: &PoolCounts, pool: &PoolSnapshot) -> Value {
    let mut value = serde_json::to_value(pool).unwrap_or(Value::Null);
    if let Some(fields) = value.as_object_mut() {
        let pairs = [
            ("live", json!(counts.live)),
            ("idle", json!(counts.idle())),
            ("busy", json!(counts.busy)),
            ("missing", json!(counts.missing())),
            ("in_flight", json!(counts.in_flight)),
        ];
        fields.extend(pairs.map(|(k, v)| (k.to_owned(), v)));
    }
    value
}

/// `POST /pools/{id}/reopen`.
pub(super) async fn reopen(
    State(state): State<GatewayState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, Problem> {
    let Path(id) = id.map_err(|e| Problem::bad_request(format!("bad pool id: {e}")))?;
    let engine = state.engine();
    if engine.reopen_pool(&id).await {
        tracing::info!(pool = %id, "session pool reopened by an operator");
        return Ok(Json(json!({"pool": id, "reopened": true})));
    }
    if engine.pool(&id).is_some() {
        let detail = format!("session pool {id:?} is not closed");
        Err(Problem::new(ProblemKind::PoolNotClosed, detail).with("pool", id))
    } else {
        let detail = format!("there is no session pool {id:?}");
        Err(Problem::new(ProblemKind::PoolNotFound, detail).with("pool", id))
    }
}

/// `GET /metrics`: the exporter plugged into [`super::GatewayConfig::metrics`].
pub(super) async fn metrics(State(state): State<GatewayState>) -> Result<Response, Problem> {
    let render =
        state.config().metrics.clone().ok_or_else(|| {
            Problem::new(ProblemKind::NotFound, "no metrics exporter is configured")
        })?;
    let content_type = "text/plain; version=0.0.4; charset=utf-8";
    Ok(([(header::CONTENT_TYPE, content_type)], render()).into_response())
}

/// `GET /healthz`.
pub(super) async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Every other path.
pub(super) async fn not_found(uri: Uri) -> Problem {
    let detail = format!("no route for {}", uri.path());
    Problem::new(ProblemKind::NotFound, detail)
}

/// A known path with another method.
pub(super) async fn method_not_allowed(method: Method, uri: Uri) -> Problem {
    let detail = format!("{} does not accept {method}", uri.path());
    Problem::new(ProblemKind::MethodNotAllowed, detail)
}
