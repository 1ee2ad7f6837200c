//! The HTTP gateway: a Zyte-API-compatible front end of the session [`Engine`], so that any
//! Zyte API client (python-zyte-api, scrapy-zyte-api, curl) gets session management by changing
//! only its API URL and key.
//!
//! ```no_run
//! # async fn demo(engine: session_host::engine::Engine) -> Result<(), Box<dyn std::error::Error>> {
//! use session_host::gateway::{self, GatewayConfig};
//! let config = GatewayConfig::default(); // 127.0.0.1:8020, no key, 5 MiB, 600 s
//! let listener = gateway::bind(&config).await?;
//! let state = gateway::GatewayState::new(engine, config);
//! gateway::serve(listener, state, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```
//!
//! # Routes
//!
//! | Route | What | Key required (when one is set) |
//! | --- | --- | --- |
//! | `POST /v1/extract` | any Zyte API request body, through the engine | yes |
//! | `GET /status` | configs (versions, load problems), pools (state, close reason, sessions, why-retired history), stats | yes |
//! | `POST /pools/{id}/reopen` | reopens a closed pool | yes |
//! | `GET /metrics` | Prometheus text, only when [`GatewayConfig::metrics`] is set | yes |
//! | `GET /healthz` | `{"status": "ok"}` while the process serves | no (probes carry no key) |
//! | `GET /`, `GET /events`, `/dashboard/...` | the live dashboard ([`dashboard`]) | yes, or its login cookie |
//!
//! # Policy
//!
//! - **The request.** `POST /v1/extract` takes any JSON object with a string `url`. Its
//!   optional `sessionManagement` object (`enabled`, `cookieMode`, `params`, `location`, `pool`:
//!   what scrapy-zyte-api puts in `zyte_api_session_*` request meta) becomes the engine's
//!   [`SessionControls`](crate::plugin::SessionControls) and is removed before forwarding; an
//!   unknown key in it, or a wrong type, is a 400 naming the key ([`request`], which checks a
//!   body as batch runs do: [`crate::session_management`]). Everything else is left to Zyte
//!   API's own validation.
//! - **The response.** Zyte API's status and JSON body, unchanged, with `x-session-id`,
//!   `x-session-pool` and `x-session-config` naming the session that served it (absent when
//!   sessions are disabled for the request). Errors that Zyte API itself returned (a 400
//!   `/request/invalid`, a 451, a 520 after retries…) pass through the same way, with their
//!   status, body and `request-id`.
//! - **The host's own errors** are `application/problem+json` ([`problem`]) with the `type`
//!   values that batch runs use too, under `/session-host/problem/`
//!   ([`ProblemKind`](crate::problem::ProblemKind) lists each with its status). A closed pool is a
//!   409, deliberately not a 503: Zyte API clients retry 503 forever, and a closed pool must
//!   fail fast until an operator reopens it. No session in time is a 503 with `Retry-After`
//!   (clients retry it like throttling). Bad input is never a 500 and never a panic: malformed
//!   JSON, a body that is not an object, a missing `url` are 400s, an oversize body a 413, and
//!   axum's own rejections never reach the client (bodies are read and parsed here).
//! - **Limits.** Request bodies: [`GatewayConfig::max_body_bytes`], default 5 MiB (Zyte API's
//!   own limit), checked on `Content-Length` before reading and again while reading. Every
//!   request: [`GatewayConfig::request_timeout`], default 600 s, then a 504: generous, because
//!   one request may have to initialise a session (an `init-session` chain may take up to 10
//!   minutes, see [`crate::plugin::Limits`]) and wait for Zyte API (up to 200 s per attempt);
//!   its purpose is that nothing hangs forever. Connections ([`EdgeLimits`]): the request head
//!   must arrive within 10 s and fit in 64 KiB and 100 headers, and at most 1,024 connections
//!   are served at once (a new one past that is closed).
//! - **Auth** ([`auth`]): HTTP Basic as Zyte API does it, the gateway key as the user name (the
//!   password is ignored). With [`GatewayConfig::key`] set, every route but `/healthz` requires
//!   it (401 with `WWW-Authenticate: Basic`). Without a key, any credentials (or none) are
//!   accepted, and only on a loopback address: [`bind`] refuses any other address
//!   ([`GatewayError::OpenWithoutKey`]). The real Zyte API key stays in the engine's client;
//!   neither key is ever logged (both print as `***`).
//! - **Deadline and cancellation** (issue 12). Each request gets one deadline,
//!   [`GatewayConfig::request_timeout`] from its arrival, which the engine honours inside
//!   ([`Engine::execute_by`]): it answers a 504 `timeout` problem naming what it was waiting
//!   for (a session, Zyte API, a session init) by then, and the gateway answers the same 504
//!   itself should the engine not. A request whose client disconnects, or that got its 504,
//!   is cancelled: its engine work is dropped, no more Zyte API calls are made for it, and
//!   the engine's drop guards release its session lease at once (see the cancellation policy
//!   in [`crate::engine`]).
//! - **Request ids** ([`request_id`], issue 19): every answer carries `x-request-id` (the
//!   client's own when short and printable, else a generated one), and every log line written
//!   while serving the request carries it as `request_id`.
//! - **A panic** (a bug) answers only its own request, with a 500 `internal` problem that does
//!   not quote the panic (`gateway/panic.rs`); the host goes on serving.
//! - **Workers** ([`serve_workers`], issue 17): `session-host serve` runs one thread per core
//!   ([`GatewayConfig::workers`], `--workers`), each a single-threaded runtime, dealt new
//!   connections in turn from the one listener (issue 17's fourth round: not `SO_REUSEPORT`,
//!   whose hash split them unevenly), with its own upstream connections (HTTP/1.1,
//!   [`crate::zyte::keep_thread_connections`]), so that a request never wakes another thread
//!   (nginx's worker model). The engine, its pools and configs are shared. [`serve`] serves
//!   on the caller's runtime instead (tests, `demo`). Both serve `POST /v1/extract` without
//!   the router, under the same checks (`gateway/front.rs`).
//! - **Pass-through** (issue 17): with sessions off by default, a body without
//!   `sessionManagement` whose URL no guest config claims is forwarded to Zyte API byte for
//!   byte, without being parsed into a tree ([`request::plain_url`],
//!   [`Engine::passes_through`]); every other body takes the full path above.
//! - **Shutdown** ([`serve`]): when the signal fires, the listener closes (new connections are
//!   refused) and in-flight requests drain. After [`GatewayConfig::shutdown_timeout`] (default
//!   30 s) the requests still running are answered with a 503 `shutting-down` problem, so every
//!   request gets exactly one answer, and the server stops.

pub mod auth;
pub mod dashboard;
mod front;
mod handlers;
mod panic;
pub mod problem;
pub mod request;
pub mod request_id;
pub mod request_span;
mod serve;
mod signal;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use tokio::sync::{Semaphore, watch};

use crate::engine::Engine;

pub use auth::GatewayKey;
pub use serve::{bind, bind_workers, serve, serve_workers};

/// The listen address `session-host serve` uses by default.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8020);
/// Largest accepted request body: 5 MiB, Zyte API's own limit.
pub const DEFAULT_MAX_BODY_BYTES: usize = 5 * 1024 * 1024;
/// Longest time one request may take before it is answered with a 504 (see the module policy).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(600);
/// How long in-flight requests may drain after the shutdown signal.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// The connection-level limits of the gateway (issue #13). [`Default`] gives the documented
/// defaults; each is a `serve` flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeLimits {
    /// Longest time a client may take to send a request's line and headers, then the
    /// connection is closed: 10 s. Protects against slowloris clients holding connections
    /// (and [`Self::max_connections`] slots) by trickling headers. Real clients send a head in
    /// one packet. Does not bound the body (see [`GatewayConfig::request_timeout`]).
    pub header_read_timeout: Duration,
    /// Most connections served at once: 1,024. Protects file descriptors and memory from a
    /// client opening connections without end; past it a new connection is closed at once.
    /// A team's scrapers use tens (Scrapy's default is 16 per process).
    pub max_connections: usize,
    /// Largest request line plus headers, in bytes: 64 KiB (hyper's own floor is 8 KiB).
    /// Protects memory from huge heads; Zyte API clients send under 1 KiB.
    pub max_header_bytes: usize,
    /// Most header fields in a request (HTTP/1.1): 100, hyper's default, made explicit.
    pub max_headers: usize,
}

impl Default for EdgeLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 1024,
            max_header_bytes: 64 * 1024,
            max_headers: 100,
        }
    }
}

/// Renders the Prometheus text exposition (format 0.0.4) for `GET /metrics`.
pub type MetricsRender = Arc<dyn Fn() -> String + Send + Sync>;

/// How the gateway listens, limits and authenticates. [`Default`] gives the documented defaults.
#[derive(Clone)]
pub struct GatewayConfig {
    /// Where to listen (default [`DEFAULT_LISTEN`]).
    pub listen: SocketAddr,
    /// The key clients must send; `None` accepts any, on loopback only.
    pub key: Option<GatewayKey>,
    /// Largest request body (default [`DEFAULT_MAX_BODY_BYTES`]).
    pub max_body_bytes: usize,
    /// Per-request timeout (default [`DEFAULT_REQUEST_TIMEOUT`]).
    pub request_timeout: Duration,
    /// Drain time after the shutdown signal (default [`DEFAULT_SHUTDOWN_TIMEOUT`]).
    pub shutdown_timeout: Duration,
    /// Connection-level limits (header-read timeout, connections, head size).
    pub edges: EdgeLimits,
    /// Worker threads of [`serve_workers`], each a single-threaded runtime with its own
    /// connections (dealt in turn) and upstream connections (default [`default_workers`]: one
    /// per core, as nginx's `worker_processes auto`). [`serve`] ignores it.
    pub workers: usize,
    /// `GET /metrics`, when set. The Prometheus exporter (`session_host::telemetry`, another
    /// branch) plugs in here; without it the route does not exist (404).
    pub metrics: Option<MetricsRender>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN,
            key: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            edges: EdgeLimits::default(),
            workers: default_workers(),
            metrics: None,
        }
    }
}

/// One gateway worker per core the process may use (1 when that cannot be read).
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

impl std::fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayConfig")
            .field("listen", &self.listen)
            .field("key", &self.key)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("request_timeout", &self.request_timeout)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("edges", &self.edges)
            .field("workers", &self.workers)
            .field("metrics", &self.metrics.is_some())
            .finish()
    }
}

/// Why the gateway could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// A non-loopback address without a gateway key would open the Zyte API account to anyone.
    #[error(
        "refusing to listen on {0} without a gateway key: anyone reaching it could spend the \
         Zyte API account; set --gateway-key (or SESSION_HOST_GATEWAY_KEY), or listen on a \
         loopback address such as 127.0.0.1"
    )]
    OpenWithoutKey(SocketAddr),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The server failed while serving.
    #[error("the gateway failed: {0}")]
    Serve(#[source] std::io::Error),
}

/// What the handlers share: the engine, the config, and the shutdown cut-off. Cheap to clone.
#[derive(Clone)]
pub struct GatewayState {
    inner: Arc<StateInner>,
}

struct StateInner {
    engine: Engine,
    config: GatewayConfig,
    /// Cut when the drain time after shutdown is over: running requests then answer
    /// `shutting-down`.
    cutoff: signal::Signal,
    /// Becomes `true` when shutdown starts: the dashboard's live streams end.
    draining: watch::Sender<bool>,
    /// One permit per open connection, [`EdgeLimits::max_connections`] in all, shared by the
    /// workers.
    connections: Arc<Semaphore>,
}

impl GatewayState {
    /// The state for `engine` under `config`.
    pub fn new(engine: Engine, config: GatewayConfig) -> Self {
        let connections = Arc::new(Semaphore::new(config.edges.max_connections));
        let inner = StateInner {
            engine,
            connections,
            config,
            cutoff: signal::Signal::default(),
            draining: watch::Sender::new(false),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The config.
    pub fn config(&self) -> &GatewayConfig {
        &self.inner.config
    }

    /// Marks the start of shutdown: open dashboard streams end (they would hold the drain).
    pub fn begin_drain(&self) {
        self.inner.draining.send_replace(true);
    }

    /// Watches for [`Self::begin_drain`].
    pub fn draining(&self) -> watch::Receiver<bool> {
        self.inner.draining.subscribe()
    }

    /// Answers every running request with `shutting-down` (the drain time is over).
    pub fn cut_off(&self) {
        self.inner.cutoff.send();
    }
}

/// The gateway's routes, with auth, the request timeout, the shutdown cut-off and the panic
/// safety net applied.
pub fn router(state: GatewayState) -> Router {
    let mut protected = Router::new()
        .route("/v1/extract", post(handlers::extract))
        .route("/status", get(handlers::status))
        .route("/pools/{id}/reopen", post(handlers::reopen));
    // The metrics route: present only when an exporter is plugged in (GatewayConfig::metrics).
    if state.config().metrics.is_some() {
        protected = protected.route("/metrics", get(handlers::metrics));
    }
    let protected = protected.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        auth::require_key,
    ));
    Router::new()
        .merge(protected)
        .merge(dashboard::router(&state))
        .route("/healthz", get(handlers::healthz))
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            serve::edge,
        ))
        .with_state(state)
}
