//! Listening, time limits and graceful shutdown (see the policy in [`super`]).

use std::future::Future;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;

use super::{GatewayConfig, GatewayError, GatewayState, router};
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
/// # Errors
/// [`GatewayError::Serve`] when the server fails.
pub async fn serve(
    listener: TcpListener,
    state: GatewayState,
    signal: impl Future<Output = ()> + Send + 'static,
) -> Result<(), GatewayError> {
    let (fired_tx, fired_rx) = tokio::sync::oneshot::channel();
    let signal = async move {
        signal.await;
        tracing::info!("shutting down: no new connections, draining in-flight requests");
        let _ = fired_tx.send(());
    };
    let app = router(state.clone());
    let server = axum::serve(listener, app).with_graceful_shutdown(signal);
    let server = std::future::IntoFuture::into_future(server);
    tokio::pin!(server);
    let drain = state.config().shutdown_timeout;
    let deadline = async move {
        if fired_rx.await.is_err() {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(drain).await;
    };
    tokio::select! {
        result = &mut server => return result.map_err(GatewayError::Serve),
        () = deadline => {}
    }
    tracing::warn!(
        ?drain,
        "drain time over: answering the requests still running with 503"
    );
    state.cut_off();
    match tokio::time::timeout(ANSWER_GRACE, server).await {
        Ok(result) => result.map_err(GatewayError::Serve),
        Err(_) => {
            tracing::warn!("connections still open after the grace period; stopping anyway");
            Ok(())
        }
    }
}

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
