//! Listening, time limits and graceful shutdown (see the policy in [`super`]).

use std::future::Future;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;

use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::sync::Semaphore;

use super::{EdgeLimits, GatewayConfig, GatewayError, GatewayState, router};
use crate::engine::Deadline;
use crate::problem::{Problem, ProblemKind};

/// How long, after the drain time, the server waits for the `shutting-down` answers to be
/// written before it stops regardless.
const ANSWER_GRACE: Duration = Duration::from_secs(5);

/// Binds [`GatewayConfig::listen`], refusing a non-loopback address without a key.
///
/// # Errors
/// [`GatewayError::OpenWithoutKey`], or [`GatewayError::Bind`].
pub async fn bind(config: &GatewayConfig) -> Result<TcpListener, GatewayError> {
    let addr = config.listen;
    if config.key.is_none() && !addr.ip().is_loopback() {
        return Err(GatewayError::OpenWithoutKey(addr));
    }
    TcpListener::bind(addr)
        .await
        .map_err(|source| GatewayError::Bind { addr, source })
}

/// Serves the gateway on `listener` until `signal` completes, then shuts down gracefully: the
/// listener closes, in-flight requests drain for [`GatewayConfig::shutdown_timeout`], then the
/// ones still running are answered `shutting-down`.
///
/// Connections are served by hyper under the edge limits of [`GatewayConfig::edges`]: a client
/// must send a request's head within [`EdgeLimits::header_read_timeout`] and within
/// [`EdgeLimits::max_header_bytes`] and [`EdgeLimits::max_headers`], and past
/// [`EdgeLimits::max_connections`] open connections a new one is closed at once (clients see a
/// reset and retry; the ones being served are not slowed).
///
/// # Errors
/// [`GatewayError::Serve`] when the server fails.
pub async fn serve(
    listener: TcpListener,
    state: GatewayState,
    signal: impl Future<Output = ()> + Send + 'static,
) -> Result<(), GatewayError> {
    let app = router(state.clone());
    let edges = state.config().edges.clone();
    let builder = connection_builder(&edges);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(edges.max_connections));
    tokio::pin!(signal);
    loop {
        tokio::select! {
            () = &mut signal => break,
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // EMFILE and the like: wait a little instead of spinning.
                        tracing::warn!("cannot accept a connection: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    tracing::warn!(limit = edges.max_connections, "connection limit reached: closing a new connection");
                    continue;
                };
                let (builder, service) = (builder.clone(), TowerToHyperService::new(app.clone()));
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let connection = builder.serve_connection(TokioIo::new(stream), service);
                    let _ = watcher.watch(connection).await;
                    drop(slot);
                });
            }
        }
    }
    drop(listener);
    state.begin_drain();
    tracing::info!("shutting down: no new connections, draining in-flight requests");
    let drain = state.config().shutdown_timeout;
    let drained = graceful.shutdown();
    tokio::pin!(drained);
    if tokio::time::timeout(drain, &mut drained).await.is_ok() {
        return Ok(());
    }
    tracing::warn!(
        ?drain,
        "drain time over: answering the requests still running with 503"
    );
    state.cut_off();
    if tokio::time::timeout(ANSWER_GRACE, drained).await.is_err() {
        tracing::warn!("connections still open after the grace period; stopping anyway");
    }
    Ok(())
}

/// hyper's connection settings for `edges` (HTTP/1.1 and HTTP/2, as `axum::serve` offered).
fn connection_builder(edges: &EdgeLimits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(edges.header_read_timeout)
        .max_buf_size(edges.max_header_bytes.max(MIN_HEADER_BYTES))
        .max_headers(edges.max_headers);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(edges.max_header_bytes).unwrap_or(u32::MAX));
    builder
}

/// hyper's smallest read buffer (it panics below it).
const MIN_HEADER_BYTES: usize = 8192;

/// Middleware of every route: the request timeout (504 `timeout`) and the shutdown cut-off
/// (503 `shutting-down`).
pub(super) async fn time_limits(
    State(state): State<GatewayState>,
    request: Request,
    next: Next,
) -> Response {
    let timeout = state.config().request_timeout;
    let deadline = Deadline::after(timeout);
    // The engine answers by the same deadline, naming what it waited for; this is the backstop.
    let mut request = request;
    request.extensions_mut().insert(deadline);
    let mut cutoff = state.inner.cutoff.subscribe();
    tokio::select! {
        biased;
        response = next.run(request) => response,
        () = tokio::time::sleep_until(deadline.instant()) => {
            let detail = format!("the request took longer than the gateway's {}s timeout", timeout.as_secs_f64());
            Problem::new(ProblemKind::Timeout, detail).into_response()
        }
        Ok(_) = cutoff.wait_for(|cut| *cut) => {
            let detail = "the gateway shut down before the request finished; retry it";
            Problem::new(ProblemKind::ShuttingDown, detail).into_response()
        }
    }
}

#[cfg(test)]
mod tests;
