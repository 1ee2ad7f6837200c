//! The HTTP edge: hyper connections, routing, and turning [`Outcome`]s into responses.
//!
//! Routes: `POST /v1/extract`, `GET /__emulator/stats`, `POST /__emulator/reset`. Other methods
//! on these paths get 405, other paths 404, both as problem+json. Every response carries a
//! `request-id` header.
//!
//! Policy:
//! - HTTP/1.1 (keep-alive) and HTTP/2 are both served (hyper-util's auto builder).
//! - A request body above 5 MiB is refused by its `Content-Length` or while reading, without
//!   buffering more than the limit.
//! - The connection-reset fault makes the service fail: hyper drops the connection, and the
//!   socket, set to zero linger just before, closes with a TCP RST.
//! - Shutdown stops accepting, asks open connections to finish their current request, and gives
//!   them [`SHUTDOWN_GRACE`] before dropping them.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, Method, Request, Response};
use http_body_util::{BodyExt, Either, Full, LengthLimitError, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::emulator::{self, Emulator, Outcome, Reply, problem_reply};
use crate::problem::Problem;
use crate::wire::MAX_BODY_BYTES;

/// How long open connections get to finish when the emulator shuts down.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

type SlowStream = Pin<Box<dyn Stream<Item = Result<Frame<Bytes>, Infallible>> + Send>>;
/// A response body: all at once, or trickled by the slow-body fault.
pub type Body = Either<Full<Bytes>, StreamBody<SlowStream>>;

/// The service's error: it only ever means "reset this connection".
#[derive(Debug)]
pub struct ResetConnection;

impl std::fmt::Display for ResetConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset by fault injection")
    }
}

impl std::error::Error for ResetConnection {}

/// Serves `listener` in a background task until `true` is sent on the returned channel.
pub fn spawn(
    listener: TcpListener,
    emulator: Arc<Emulator>,
) -> (watch::Sender<bool>, JoinHandle<()>) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let task = tokio::spawn(accept_loop(listener, emulator, stop_rx));
    (stop_tx, task)
}

async fn accept_loop(
    listener: TcpListener,
    emulator: Arc<Emulator>,
    mut stop: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(%error, "emulator accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let reset = Arc::new(AtomicBool::new(false));
        let io = TokioIo::new(ConnIo {
            stream,
            reset: Arc::clone(&reset),
        });
        let emulator = Arc::clone(&emulator);
        let service =
            service_fn(move |request| handle(Arc::clone(&emulator), Arc::clone(&reset), request));
        let connection = graceful.watch(builder.serve_connection(io, service).into_owned());
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "emulator connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
}

async fn handle(
    emulator: Arc<Emulator>,
    reset: Arc<AtomicBool>,
    request: Request<Incoming>,
) -> Result<Response<Body>, ResetConnection> {
    let path = request.uri().path();
    match (request.method(), path) {
        (&Method::POST, "/v1/extract") => extract(emulator, reset, request).await,
        (&Method::GET, "/__emulator/stats") => {
            let body = serde_json::to_vec(&emulator.snapshot()).unwrap_or_default();
            Ok(json_reply(body, emulator.request_id()))
        }
        (&Method::POST, "/__emulator/reset") => {
            emulator.reset();
            Ok(json_reply(
                br#"{"reset":true}"#.to_vec(),
                emulator.request_id(),
            ))
        }
        (method, "/v1/extract" | "/__emulator/stats" | "/__emulator/reset") => {
            let problem = Problem::method_not_allowed(method.as_str(), path);
            Ok(build(
                problem_reply(&problem, emulator.request_id(), None),
                &emulator,
            ))
        }
        _ => Ok(build(
            problem_reply(&Problem::not_found(path), emulator.request_id(), None),
            &emulator,
        )),
    }
}

async fn extract(
    emulator: Arc<Emulator>,
    reset: Arc<AtomicBool>,
    request: Request<Incoming>,
) -> Result<Response<Body>, ResetConnection> {
    let (parts, body) = request.into_parts();
    let (bytes, too_large) =
        if declared_length(&parts.headers).is_some_and(|len| len > MAX_BODY_BYTES) {
            (Bytes::new(), true)
        } else {
            match Limited::new(body, MAX_BODY_BYTES).collect().await {
                Ok(collected) => (collected.to_bytes(), false),
                Err(error) if error.is::<LengthLimitError>() => (Bytes::new(), true),
                Err(_) => return Err(ResetConnection),
            }
        };
    match emulator.extract(parts.headers.get(AUTHORIZATION), &bytes, too_large) {
        Outcome::Reset => {
            reset.store(true, Ordering::Relaxed);
            Err(ResetConnection)
        }
        Outcome::Reply(reply) => {
            if let Some(delay) = reply.delay {
                tokio::time::sleep(delay).await;
            }
            Ok(build(reply, &emulator))
        }
    }
}

fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers.get(CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

fn json_reply(body: Vec<u8>, request_id: String) -> Response<Body> {
    to_response(
        emulator::json_reply(body, request_id, None, false),
        1,
        Duration::ZERO,
    )
}

fn build(reply: Reply, emulator: &Emulator) -> Response<Body> {
    let policy = &emulator.policy;
    to_response(
        reply,
        policy.slow_body_chunks,
        Duration::from_millis(policy.slow_body_chunk_delay_ms),
    )
}

fn to_response(reply: Reply, chunks: u32, chunk_delay: Duration) -> Response<Body> {
    let mut builder = Response::builder()
        .status(reply.status)
        .header(CONTENT_TYPE, reply.content_type)
        .header("request-id", reply.request_id.as_str());
    if let Some(secs) = reply.retry_after {
        builder = builder.header(RETRY_AFTER, secs);
    }
    if reply.www_authenticate {
        builder = builder.header(WWW_AUTHENTICATE, r#"Basic realm="Zyte API""#);
    }
    let body = Bytes::from(reply.body);
    let body = if reply.slow_body {
        slow_body(body, chunks, chunk_delay)
    } else {
        Either::Left(Full::new(body))
    };
    builder.body(body).unwrap_or_else(|_| {
        let mut fallback = Response::new(Either::Left(Full::new(Bytes::new())));
        *fallback.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
        fallback
    })
}

fn slow_body(body: Bytes, chunks: u32, delay: Duration) -> Body {
    let size = body.len().div_ceil(chunks.max(1) as usize).max(1);
    let pieces: Vec<Bytes> = (0..body.len())
        .step_by(size)
        .map(|start| body.slice(start..(start + size).min(body.len())))
        .collect();
    let stream =
        futures::stream::iter(pieces.into_iter().enumerate()).then(move |(i, piece)| async move {
            if i > 0 {
                tokio::time::sleep(delay).await;
            }
            Ok::<_, Infallible>(Frame::data(piece))
        });
    Either::Right(StreamBody::new(Box::pin(stream)))
}

/// A TCP stream that closes with an RST when its connection was reset by fault injection.
struct ConnIo {
    stream: TcpStream,
    reset: Arc<AtomicBool>,
}

impl Drop for ConnIo {
    fn drop(&mut self) {
        if self.reset.load(Ordering::Relaxed) {
            let _ = self.stream.set_zero_linger();
        }
    }
}

impl AsyncRead for ConnIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ConnIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
