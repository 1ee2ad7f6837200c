//! Bench peers for `benches/gateway-vs-nginx` and `benches/gateway-instructions` (issue 17):
//! two proxies that do the least a proxy of their kind does, so that the gateway's cost can be
//! split into what its HTTP stack costs and what the gateway adds.
//!
//! - `hyper-floor`: hyper's HTTP/1.1 server and client, nothing else (no routing, limits, ids,
//!   spans, timers, metrics or sessions).
//! - `raw-floor`: no HTTP library but `httparse`; one upstream connection per client
//!   connection; `Content-Length` bodies only.
//!
//! Both run as the gateway does (`session-host serve`): one thread per worker, each with a
//! single-threaded tokio runtime, and one listener whose connections the first worker deals to
//! the workers in turn. **Neither is a product**: they trust their peers (no size, time or
//! header limits, no chunked bodies), forward only `Authorization` and answer every request with
//! the upstream's status and body. They exist to be measured.

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// The command line both proxies take: `LISTEN UPSTREAM [WORKERS]` (workers default to 2, the
/// bench machine's cores, as the gateway's default of one per core).
///
/// # Errors
/// A missing or malformed argument.
pub fn args() -> anyhow::Result<(SocketAddr, SocketAddr, usize)> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: PROXY LISTEN_ADDR UPSTREAM_ADDR [WORKERS]";
    let listen = args.next().context(usage)?.parse().context("LISTEN_ADDR")?;
    let upstream = args
        .next()
        .context(usage)?
        .parse()
        .context("UPSTREAM_ADDR")?;
    let workers = match args.next() {
        Some(n) => n.parse().context("WORKERS")?,
        None => 2,
    };
    Ok((listen, upstream, workers))
}

/// Serves `listen` with `workers` threads until the process is stopped: each new connection
/// (with `TCP_NODELAY`, as the gateway's) is handed to `handle` on the next worker's runtime.
///
/// # Errors
/// The listener cannot be bound, or a worker's runtime cannot start.
pub fn serve<F, Fut>(listen: SocketAddr, workers: usize, handle: F) -> anyhow::Result<()>
where
    F: Fn(TcpStream) -> Fut + Send + Clone + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = std::net::TcpListener::bind(listen).with_context(|| format!("bind {listen}"))?;
    listener.set_nonblocking(true)?;
    let mut listener = Some(listener);
    let (inboxes, receivers): (Vec<_>, Vec<_>) = (0..workers.max(1))
        .map(|_| mpsc::unbounded_channel())
        .unzip();
    let mut threads = Vec::new();
    for mut inbox in receivers {
        let (handle, inboxes, listener) = (handle.clone(), inboxes.clone(), listener.take());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        threads.push(std::thread::spawn(move || {
            runtime.block_on(async move {
                if let Some(listener) = listener {
                    match TcpListener::from_std(listener) {
                        Ok(listener) => {
                            tokio::spawn(deal(listener, inboxes));
                        }
                        Err(e) => eprintln!("cannot listen: {e}"),
                    }
                } else {
                    drop(inboxes);
                }
                while let Some(stream) = inbox.recv().await {
                    if let Ok(stream) = TcpStream::from_std(stream) {
                        let _ = stream.set_nodelay(true);
                        tokio::spawn(handle(stream));
                    }
                }
            });
        }));
    }
    drop(inboxes);
    for thread in threads {
        let _ = thread.join();
    }
    Ok(())
}

/// Accepts connections and deals them to the workers' inboxes in turn.
async fn deal(listener: TcpListener, inboxes: Vec<mpsc::UnboundedSender<std::net::TcpStream>>) {
    let mut next = 0;
    loop {
        match listener
            .accept()
            .await
            .and_then(|(stream, _)| stream.into_std())
        {
            Ok(stream) => {
                let _ = inboxes[next % inboxes.len()].send(stream);
                next += 1;
            }
            Err(e) => {
                eprintln!("accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}
