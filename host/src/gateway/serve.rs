//! Listening, time limits and graceful shutdown (see the policy in [`super`]).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::net::{TcpListener, TcpStream};

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::sync::{OwnedSemaphorePermit, mpsc, watch};

use tracing::Instrument;

use self::header_timer::ConnectionTimer;
use super::front::Front;
use super::request_id::RequestSpan;
use super::signal::Signal;
use super::{
    EdgeLimits, GatewayConfig, GatewayError, GatewayState, panic, request_id, request_span, router,
};
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

/// Binds [`GatewayConfig::listen`] for [`serve_workers`]: one non-blocking listener, whose
/// connections the workers share; refuses a non-loopback address without a key as [`bind`]
/// does.
///
/// Policy (issue 17, fourth round): one listener, not one `SO_REUSEPORT` listener per worker:
/// the kernel spread connections over those by a hash of their addresses, which split wrk's
/// 64 connections unevenly (41/59 to 47/53 of the CPU between two workers), so that the
/// busier worker set the throughput and the p99; [`serve_workers`] deals them out in turn
/// instead. A port already in use fails here, with "address in use".
///
/// # Errors
/// [`GatewayError::OpenWithoutKey`], or [`GatewayError::Bind`].
pub fn bind_workers(config: &GatewayConfig) -> Result<std::net::TcpListener, GatewayError> {
    let addr = config.listen;
    if config.key.is_none() && !addr.ip().is_loopback() {
        return Err(GatewayError::OpenWithoutKey(addr));
    }
    let failed = |source| GatewayError::Bind { addr, source };
    listener(addr).map_err(failed)
}

/// A non-blocking listener on `addr` with `SO_REUSEADDR` (as tokio's own bind), its backlog
/// 1,024 (as tokio's).
fn listener(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// A connection dealt to a worker, with its place among [`EdgeLimits::max_connections`].
type Dealt = (std::net::TcpStream, OwnedSemaphorePermit);

/// A worker's new connections: accepted by itself ([`serve`]) or dealt to it by
/// [`serve_workers`]' acceptors, which have already taken their places.
enum Incoming {
    Listener(TcpListener),
    Dealt(mpsc::UnboundedReceiver<Dealt>),
}

impl Incoming {
    /// The next connection, with its place when it was taken already (never, once no
    /// acceptor is left).
    async fn next(&mut self) -> std::io::Result<(TcpStream, Option<OwnedSemaphorePermit>)> {
        match self {
            Self::Listener(listener) => listener.accept().await.map(|(stream, _)| (stream, None)),
            Self::Dealt(dealt) => match dealt.recv().await {
                Some((stream, slot)) => TcpStream::from_std(stream).map(|s| (s, Some(slot))),
                None => std::future::pending().await,
            },
        }
    }
}

/// Accepts connections on `listener` and deals them to the workers in turn, until `stopped`;
/// then closes the listener.
///
/// Policy: a connection takes its place among [`EdgeLimits::max_connections`] here,
/// before it is dealt, so that connections waiting in a busy worker's inbox count against the
/// limit too (the inboxes hold at most that many); past it a new connection is closed at once.
async fn deal(
    listener: TcpListener,
    workers: Arc<[mpsc::UnboundedSender<Dealt>]>,
    state: GatewayState,
    mut stopped: watch::Receiver<bool>,
) {
    let mut next = 0;
    loop {
        let accepted = tokio::select! {
            _ = stopped.wait_for(|stop| *stop) => return,
            accepted = listener.accept() => accepted,
        };
        match accepted.and_then(|(stream, _)| stream.into_std()) {
            Ok(stream) => {
                let Some(slot) = take_place(&state) else {
                    continue;
                };
                let to = next % workers.len();
                next = next.wrapping_add(1);
                // A worker that has stopped closes the connection (dropped).
                let _ = workers[to].send((stream, slot));
            }
            Err(e) => accept_failed(&e).await,
        }
    }
}

/// A new connection's place among [`EdgeLimits::max_connections`]; `None` (logged) past the
/// limit, and the caller drops the connection, which closes it at once.
fn take_place(state: &GatewayState) -> Option<OwnedSemaphorePermit> {
    let place = state.inner.connections.clone().try_acquire_owned().ok();
    if place.is_none() {
        tracing::warn!(
            limit = state.config().edges.max_connections,
            "connection limit reached: closing a new connection"
        );
    }
    place
}

/// After a failed accept (EMFILE and the like): says so and waits a little instead of
/// spinning.
async fn accept_failed(error: &std::io::Error) {
    tracing::warn!("cannot accept a connection: {error}");
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// Serves the gateway with [`GatewayConfig::workers`] workers, each on a thread of its own
/// running a single-threaded tokio runtime, on `listener` (from [`bind_workers`]), until
/// `signal` completes; then every worker shuts down as [`serve`] does (one drain time for all:
/// the cut-off is shared).
///
/// Policy (issue 17): as nginx's workers, a connection, its requests, the engine work they
/// run and their upstream connections (each worker keeps its own pool of them:
/// [`crate::zyte::keep_thread_connections`]) stay on one thread, so that no request wakes
/// another thread (those wake-ups were the largest item of the gateway's profile). The first
/// worker accepts on the listener and deals each new connection to the next worker in turn,
/// itself included (a hand-over per connection, not per request), so that the workers serve
/// as many connections each. The engine, its pools and the configs are shared by all workers.
/// [`EdgeLimits::max_connections`] counts the connections of all workers together. A worker
/// that fails stops the others.
///
/// # Errors
/// [`GatewayError::Serve`] when a worker cannot start or its server fails.
pub async fn serve_workers(
    listener: std::net::TcpListener,
    state: GatewayState,
    signal: impl Future<Output = ()> + Send + 'static,
) -> Result<(), GatewayError> {
    let (stop, stopped) = watch::channel(false);
    let (done, mut finished) = mpsc::unbounded_channel();
    let workers = state.config().workers.max(1);
    // One router for every worker: its routes' own state (the dashboard's secrets, which its
    // login cookie and CSRF token derive from, and its bound on live streams) is the
    // process's, not a worker's.
    let app = router(state.clone());
    let (dealers, inboxes): (Vec<_>, Vec<_>) =
        (0..workers).map(|_| mpsc::unbounded_channel()).unzip();
    let dealers: Arc<[_]> = dealers.into();
    let mut listener = Some(listener);
    for (index, inbox) in inboxes.into_iter().enumerate() {
        let (state, mut stopped, done) = (state.clone(), stopped.clone(), done.clone());
        let (app, dealers, accept) = (app.clone(), dealers.clone(), listener.take());
        let worker = move || {
            let result = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(GatewayError::Serve)
                .and_then(|runtime| {
                    crate::zyte::keep_thread_connections();
                    runtime.block_on(async move {
                        if let Some(listener) = accept {
                            let listener =
                                TcpListener::from_std(listener).map_err(GatewayError::Serve)?;
                            let (state, stopped) = (state.clone(), stopped.clone());
                            tokio::spawn(deal(listener, dealers, state, stopped));
                        } else {
                            drop(dealers);
                        }
                        let signal = async move {
                            let _ = stopped.wait_for(|stop| *stop).await;
                        };
                        serve_app(Incoming::Dealt(inbox), state, app, signal).await
                    })
                });
            let _ = done.send(result);
        };
        std::thread::Builder::new()
            .name(format!("gateway-{index}"))
            .spawn(worker)
            .map_err(GatewayError::Serve)?;
    }
    drop(dealers);
    drop(done);
    tokio::pin!(signal);
    let mut first_failure = tokio::select! {
        () = &mut signal => None,
        Some(result) = finished.recv() => Some(result),
    };
    stop.send_replace(true);
    let mut outcome = Ok(());
    let mut reported = usize::from(first_failure.is_some());
    if let Some(Err(e)) = first_failure.take() {
        outcome = Err(e);
    }
    while reported < workers {
        match finished.recv().await {
            Some(Err(e)) if outcome.is_ok() => outcome = Err(e),
            Some(_) => {}
            None => break,
        }
        reported += 1;
    }
    outcome
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
    serve_app(Incoming::Listener(listener), state, app, signal).await
}

/// [`serve`] with `app`, the router built from `state` (shared by [`serve_workers`]' workers).
async fn serve_app(
    mut incoming: Incoming,
    state: GatewayState,
    app: axum::Router,
    signal: impl Future<Output = ()> + Send + 'static,
) -> Result<(), GatewayError> {
    let edges = state.config().edges.clone();
    let builder = connection_builder(&edges);
    // Sent when the drain starts: each connection then finishes its request and closes. Each
    // connection holds a receiver of `open` until it is closed, so `open.closed()` is the end
    // of the drain (hyper-util's `GracefulShutdown`, without its `watch` wait polled with every
    // poll of a connection: `signal.rs`).
    let drain_signal = Arc::new(Signal::default());
    let (open, _) = watch::channel(());
    let front = Front::new(state.clone(), app);
    tokio::pin!(signal);
    loop {
        tokio::select! {
            () = &mut signal => break,
            accepted = incoming.next() => {
                let (stream, dealt_slot) = match accepted {
                    Ok((stream, slot)) => {
                        // Answers are written whole; Nagle would only delay a small one.
                        let _ = stream.set_nodelay(true);
                        (stream, slot)
                    }
                    Err(e) => {
                        accept_failed(&e).await;
                        continue;
                    }
                };
                let Some(slot) = dealt_slot.or_else(|| take_place(&state)) else {
                    continue;
                };
                let (mut builder, service) = (builder.clone(), front.clone());
                // Its own header-read timer, whose one sleep serves each of its requests
                // (`header_timer`, issue 17).
                builder.http1().timer(ConnectionTimer::default());
                let (drain, open) = (drain_signal.clone(), open.subscribe());
                tokio::spawn(async move {
                    let connection = builder.serve_connection(TokioIo::new(stream), service);
                    let _ = until_drained(connection, drain).await;
                    drop((slot, open));
                });
            }
        }
    }
    drop(incoming);
    state.begin_drain();
    tracing::info!("shutting down: no new connections, draining in-flight requests");
    let drain = state.config().shutdown_timeout;
    drain_signal.send();
    let drained = open.closed();
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

/// Serves `connection` until it closes; once `drain` is sent, it finishes the request it is
/// serving and closes (HTTP/1.1), or stops taking new streams (HTTP/2).
async fn until_drained(
    connection: auto::Connection<'_, TokioIo<TcpStream>, Front, TokioExecutor>,
    drain: Arc<Signal>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut connection = std::pin::pin!(connection);
    let mut drain = Some(drain.wait_owned());
    std::future::poll_fn(|cx| {
        if let Some(wait) = drain.as_mut()
            && std::pin::Pin::new(wait).poll(cx).is_ready()
        {
            drain = None;
            connection.as_mut().graceful_shutdown();
        }
        connection.as_mut().poll(cx)
    })
    .await
}

/// hyper's connection settings for `edges` (HTTP/1.1 and HTTP/2, as `axum::serve` offered).
/// Each connection replaces the HTTP/1.1 timer by its own ([`ConnectionTimer`]); the one set
/// here only keeps the builder whole.
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

/// Middleware of every route the router serves, the outermost: [`guard`] around the rest.
/// One layer rather than one each (issue 17: each `from_fn` layer costs boxed futures and
/// service clones per request).
pub(super) async fn edge(
    State(state): State<GatewayState>,
    request: Request,
    next: Next,
) -> Response {
    guard(
        &state,
        request,
        RequestSpan::Request,
        |mut request, deadline| {
            // The engine answers by the same deadline, naming what it waited for; the guard's
            // timer is the backstop.
            request.extensions_mut().insert(deadline);
            next.run(request)
        },
    )
    .await
}

/// What every request gets around its route, whichever way it is served (the router's
/// [`edge`] layer or [`super::front`]'s direct `POST /v1/extract`): the request id and its
/// span ([`request_id`]), the panic net ([`panic`]), the request timeout (504 `timeout`) and
/// the shutdown cut-off (503 `shutting-down`). `span` says which span the request is served
/// in; `run` serves the request by its deadline.
pub(super) async fn guard<F, W>(
    state: &GatewayState,
    request: Request,
    span: RequestSpan,
    run: F,
) -> Response
where
    F: FnOnce(Request, Deadline) -> W,
    W: Future<Output = Response>,
{
    let id = request_id::pick(&request);
    // The router's `request` span is opened now; the `extract` span only once the request
    // logs something (`request_span`, issue 17), or now under a subscriber that would not.
    let eager = match span {
        RequestSpan::Request => Some(request_id::span(request_id::text(&id), &request)),
        RequestSpan::Extract if !request_span::opens_request_spans() => {
            Some(request_id::extract_span(request_id::text(&id)))
        }
        RequestSpan::Extract => None,
    };
    // Cheap clones (no allocation for standard methods; the URI shares its bytes), for the
    // panic's log line.
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let timeout = state.config().request_timeout;
    let deadline = Deadline::after(timeout);
    let cutoff = state.inner.cutoff.wait();
    // `run`'s future is boxed (issue 17, fifth round): it is the request's whole work (the
    // handler, the engine, the upstream exchange), and unboxed it sized this future and the
    // ones around it, each moved once when it starts, so each level copied it again.
    let work = async {
        tokio::select! {
            biased;
            response = panic::contain(&method, &uri, Box::pin(run(request, deadline))) => response,
            () = tokio::time::sleep_until(deadline.instant()) => {
                let detail = format!("the request took longer than the gateway's {}s timeout", timeout.as_secs_f64());
                Problem::new(ProblemKind::Timeout, detail).into_response()
            }
            () = cutoff => {
                let detail = "the gateway shut down before the request finished; retry it";
                Problem::new(ProblemKind::ShuttingDown, detail).into_response()
            }
        }
    };
    let (mut response, id) = match eager {
        Some(span) => (work.instrument(span).await, id),
        None => request_span::scoped(id, work).await,
    };
    request_id::set(&mut response, id);
    response
}

mod header_timer;

#[cfg(test)]
mod tests;
