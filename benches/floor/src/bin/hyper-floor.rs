//! The least a hyper proxy does (see the crate's doc): hyper's HTTP/1.1 server; the request's
//! body read whole; a thread-local list of hyper HTTP/1.1 client connections to the upstream
//! (the gateway's workers keep one too); the answer read whole and sent with its status and
//! `Content-Type: application/json`.
//!
//! Usage: `hyper-floor LISTEN_ADDR UPSTREAM_ADDR [WORKERS]`; every request is sent on as
//! `POST /v1/extract` with its body and `Authorization`.

use std::cell::RefCell;
use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

thread_local! {
    /// This worker's idle upstream connections.
    static IDLE: RefCell<Vec<SendRequest<Full<Bytes>>>> = const { RefCell::new(Vec::new()) };
}

/// A new upstream connection, its connection task spawned on this worker.
async fn connect(upstream: SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(upstream).await?;
    stream.set_nodelay(true)?;
    let (send, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(send)
}

/// Sends `request` on to the upstream and answers with its answer.
async fn forward(
    request: Request<Incoming>,
    upstream: SocketAddr,
    host: &'static str,
) -> anyhow::Result<Response<Full<Bytes>>> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let mut send = loop {
        match IDLE.with(|idle| idle.borrow_mut().pop()) {
            Some(send) if !send.is_closed() => break send,
            Some(_) => {}
            None => break connect(upstream).await?,
        }
    };
    let mut onward = Request::post("/v1/extract")
        .header(HOST, host)
        .header(CONTENT_TYPE, "application/json");
    if let Some(key) = parts.headers.get(AUTHORIZATION) {
        onward = onward.header(AUTHORIZATION, key);
    }
    let answer = send.send_request(onward.body(Full::new(body))?).await?;
    let (head, body) = answer.into_parts();
    let body = body.collect().await?.to_bytes();
    IDLE.with(|idle| idle.borrow_mut().push(send));
    Ok(Response::builder()
        .status(head.status)
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(body))?)
}

/// [`forward`], or a 502 naming what failed.
async fn serve(
    request: Request<Incoming>,
    upstream: SocketAddr,
    host: &'static str,
) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(forward(request, upstream, host).await.unwrap_or_else(|e| {
        let mut answer = Response::new(Full::new(Bytes::from(e.to_string())));
        *answer.status_mut() = StatusCode::BAD_GATEWAY;
        answer
    }))
}

fn main() -> anyhow::Result<()> {
    let (listen, upstream, workers) = proxy_floor::args()?;
    let host: &'static str = Box::leak(upstream.to_string().into_boxed_str());
    proxy_floor::serve(listen, workers, move |stream| async move {
        let service = hyper::service::service_fn(move |request| serve(request, upstream, host));
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service)
            .await;
    })
}
