//! The dashboard (issue 19): a live page at `GET /` of the gateway, for operators watching
//! session health while crawls run.
//!
//! | Route | What |
//! | --- | --- |
//! | `GET /` | the page (or, when a key is set and not shown yet, the login form) |
//! | `POST /dashboard/login` | form field `key`: sets the dashboard cookie ([`access`]) |
//! | `GET /dashboard/app.js`, `/dashboard/app.css` | the page's script and style (no data) |
//! | `GET /events?offset=&limit=&pool=` | Server-Sent Events: one [`feed`] message a second |
//! | `POST /dashboard/pools/{id}/reopen` | Reopen, with the page's CSRF token ([`access`]) |
//!
//! Policy:
//! - **Self-contained.** The page, its script and style are embedded in the binary
//!   (`include_str!`); it loads nothing from the internet. Charts are plain SVG drawn by the
//!   script, so no library is vendored.
//! - **Live, bounded.** `/events` sends a message every [`TICK`] (so the page is at most a
//!   second behind), built off the async threads; at most [`MAX_STREAMS`] streams at once (a
//!   new one past it is a 429 `too-many-streams` problem); a stream ends when the gateway
//!   starts shutting down, so that open tabs never hold up the drain.
//! - **Access** as [`access`] says: the gateway key (cookie or HTTP Basic), or loopback only.

pub mod access;
pub mod feed;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use futures::Stream;
use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::GatewayState;
use crate::problem::{Problem, ProblemKind};
use access::Access;
use feed::{Rates, View};

/// How often `/events` sends a message: the page is at most this far behind.
pub const TICK: Duration = Duration::from_secs(1);
/// Most `/events` streams at once. Each costs a read of every pool per [`TICK`] (see
/// [`feed`]'s cost), so a few open tabs are fine and a client opening streams without end is
/// refused (429) instead of slowing the engine.
pub const MAX_STREAMS: usize = 8;

const PAGE: &str = include_str!("assets/index.html");
const LOGIN: &str = include_str!("assets/login.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/app.css");

/// What the dashboard's handlers share besides the gateway state.
#[derive(Clone)]
struct Dashboard {
    access: Access,
    streams: Arc<Semaphore>,
}

/// The dashboard's routes, for the gateway's router.
pub fn router(state: &GatewayState) -> Router<GatewayState> {
    let dashboard = Dashboard {
        access: Access::new(state.config().key.clone()),
        streams: Arc::new(Semaphore::new(MAX_STREAMS)),
    };
    Router::new()
        .route("/", get(page))
        .route("/dashboard/login", post(login))
        .route(
            "/dashboard/app.js",
            get(|| async { asset("text/javascript", SCRIPT) }),
        )
        .route(
            "/dashboard/app.css",
            get(|| async { asset("text/css", STYLE) }),
        )
        .route("/events", get(events))
        .route("/dashboard/pools/{id}/reopen", post(reopen))
        .layer(Extension(dashboard))
}

/// A static asset, cached for a minute.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (header::CACHE_CONTROL, "max-age=60"),
    ];
    (headers, body).into_response()
}

/// An HTML page with the anti-framing headers.
fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, Html(body)).into_response();
    let headers = response.headers_mut();
    let csp = "default-src 'self'; frame-ancestors 'none'; form-action 'self'";
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /`: the page, or the login form.
async fn page(Extension(d): Extension<Dashboard>, headers: HeaderMap) -> Response {
    if d.access.allowed(&headers) {
        html(StatusCode::OK, PAGE.replace("{{CSRF}}", d.access.csrf()))
    } else if d.access.key_required() {
        html(StatusCode::UNAUTHORIZED, LOGIN.replace("{{ERROR}}", ""))
    } else {
        Problem::new(
            ProblemKind::Forbidden,
            "the dashboard is served to loopback hosts only",
        )
        .into_response()
    }
}

/// The login form's fields.
#[derive(serde::Deserialize)]
struct Login {
    key: String,
}

/// `POST /dashboard/login`.
async fn login(
    Extension(d): Extension<Dashboard>,
    headers: HeaderMap,
    form: Result<Form<Login>, axum::extract::rejection::FormRejection>,
) -> Response {
    if let Err(problem) = access::same_origin(&headers) {
        return problem.into_response();
    }
    match form {
        Ok(Form(login)) if d.access.key_matches(&login.key) => {
            tracing::info!("dashboard login");
            let mut response = Redirect::to("/").into_response();
            if let Ok(value) = HeaderValue::from_str(&d.access.set_cookie()) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        _ => html(
            StatusCode::UNAUTHORIZED,
            LOGIN.replace("{{ERROR}}", "That is not the gateway key."),
        ),
    }
}

/// `GET /events`: one message per [`TICK`] for the view the query names.
async fn events(
    State(state): State<GatewayState>,
    Extension(d): Extension<Dashboard>,
    headers: HeaderMap,
    view: Result<Query<View>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Problem> {
    if !d.access.allowed(&headers) {
        return Err(Problem::new(
            ProblemKind::Unauthorized,
            "log in to the dashboard first",
        ));
    }
    let Query(view) = view.map_err(|e| Problem::bad_request(format!("bad query: {e}")))?;
    let Ok(slot) = d.streams.clone().try_acquire_owned() else {
        let detail = format!("{MAX_STREAMS} dashboard streams are open already; close a tab");
        return Err(Problem::new(ProblemKind::TooManyStreams, detail));
    };
    let stream = Ticks {
        draining: state.draining(),
        state,
        view,
        rates: Rates::default(),
        interval: tokio::time::interval(TICK),
        _slot: slot,
    };
    Ok(Sse::new(futures::stream::unfold(stream, Ticks::next)).keep_alive(KeepAlive::default()))
}

/// One `/events` stream.
struct Ticks {
    state: GatewayState,
    view: View,
    rates: Rates,
    interval: tokio::time::Interval,
    draining: tokio::sync::watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
}

impl Ticks {
    /// The next message, or `None` once the gateway is shutting down.
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Self)> {
        tokio::select! {
            _ = self.draining.wait_for(|draining| *draining) => return None,
            _ = self.interval.tick() => {}
        }
        let (engine, view) = (self.state.engine().clone(), self.view.clone());
        let mut rates = std::mem::take(&mut self.rates);
        let built = tokio::task::spawn_blocking(move || {
            let message = feed::message(&engine, &view, &mut rates);
            (message, rates)
        });
        let (message, rates) = built.await.ok()?;
        self.rates = rates;
        let event = Event::default().event("tick").data(message.to_string());
        Some((Ok(event), self))
    }
}

/// `POST /dashboard/pools/{id}/reopen`: the Reopen button.
async fn reopen(
    State(state): State<GatewayState>,
    Extension(d): Extension<Dashboard>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<serde_json::Value>, Problem> {
    d.access.check_action(&headers)?;
    let Path(id) = id.map_err(|e| Problem::bad_request(format!("bad pool id: {e}")))?;
    if state.engine().reopen_pool(&id).await {
        tracing::info!(pool = %id, "session pool reopened from the dashboard");
        return Ok(Json(json!({"pool": id, "reopened": true})));
    }
    let kind = match state.engine().pool(&id) {
        Some(_) => ProblemKind::PoolNotClosed,
        None => ProblemKind::PoolNotFound,
    };
    Err(Problem::new(kind, format!("cannot reopen session pool {id:?}")).with("pool", id))
}
