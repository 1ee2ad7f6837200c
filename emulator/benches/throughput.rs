//! Throughput of the emulator on loopback, next to a hyper hello-world server as the ceiling.
//!
//! Both servers run in-process on the same tokio runtime as the client (one worker per core), and
//! each is driven by 64 concurrent keep-alive HTTP/1.1 connections using hyper's client for a fixed
//! duration (`THROUGHPUT_SECS`, default 5 s, after a 1 s warm-up). The emulator request is a
//! sessionless `httpResponseBody` request to `example.com` with zero simulated latency.
//!
//! Run: `cargo bench -p zyte-emulator --bench throughput`

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use zyte_emulator::{EmulatorConfig, start};

const CONNECTIONS: usize = 64;
const EXTRACT_BODY: &str = r#"{"url":"https://example.com/","httpResponseBody":true}"#;

type AnyError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), AnyError> {
    let seconds: u64 = std::env::var("THROUGHPUT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let hello = hello_world().await?;
        let emulator = start(EmulatorConfig::default()).await?;
        let duration = Duration::from_secs(seconds);
        let hello_rps = measure("hello-world", hello, hello_request, duration).await?;
        let emulator_rps = measure("emulator", emulator.addr(), extract_request, duration).await?;
        println!(
            "connections: {CONNECTIONS}, duration: {seconds} s per server, worker threads: {}",
            num_workers()
        );
        println!("hyper hello-world: {hello_rps:>10.0} req/s");
        println!("zyte-emulator:     {emulator_rps:>10.0} req/s");
        println!(
            "ratio emulator / hello-world: {:.2}",
            emulator_rps / hello_rps
        );
        emulator.shutdown().await;
        Ok(())
    })
}

fn num_workers() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
}

async fn hello_world() -> Result<SocketAddr, AnyError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let service = service_fn(|_request| async {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                    b"Hello, World!",
                ))))
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    Ok(addr)
}

fn hello_request() -> Request<Full<Bytes>> {
    Request::builder()
        .uri("/")
        .header("host", "127.0.0.1")
        .body(Full::new(Bytes::new()))
        .unwrap_or_default()
}

fn extract_request() -> Request<Full<Bytes>> {
    Request::builder()
        .method("POST")
        .uri("/v1/extract")
        .header("host", "127.0.0.1")
        .header("authorization", "Basic S0VZOg==")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(EXTRACT_BODY.as_bytes())))
        .unwrap_or_default()
}

async fn measure(
    name: &str,
    addr: SocketAddr,
    make: fn() -> Request<Full<Bytes>>,
    duration: Duration,
) -> Result<f64, AnyError> {
    drive(addr, make, Duration::from_secs(1)).await?;
    let started = Instant::now();
    let count = drive(addr, make, duration).await?;
    let rps = count as f64 / started.elapsed().as_secs_f64();
    eprintln!(
        "{name}: {count} requests in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    Ok(rps)
}

async fn drive(
    addr: SocketAddr,
    make: fn() -> Request<Full<Bytes>>,
    duration: Duration,
) -> Result<u64, AnyError> {
    let deadline = Instant::now() + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CONNECTIONS {
        tasks.spawn(connection(addr, make, deadline));
    }
    let mut total = 0;
    while let Some(done) = tasks.join_next().await {
        total += done??;
    }
    Ok(total)
}

async fn connection(
    addr: SocketAddr,
    make: fn() -> Request<Full<Bytes>>,
    deadline: Instant,
) -> Result<u64, AnyError> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let mut count = 0;
    while Instant::now() < deadline {
        sender.ready().await?;
        let response = sender.send_request(make()).await?;
        if response.status() != 200 {
            return Err(format!("unexpected status {}", response.status()).into());
        }
        response.into_body().collect().await?;
        count += 1;
    }
    Ok(count)
}
