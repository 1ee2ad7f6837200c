//! A worker thread's own upstream connections (issue 17): plain hyper HTTP/1.1 connections,
//! each a [`SendRequest`] handle and a task, kept in a thread-local list.
//!
//! # Policy
//!
//! - **Whose.** Only a thread that asked for it ([`keep_thread_connections`]: the gateway's
//!   workers and `run`'s one thread, each a single-threaded runtime) keeps connections here,
//!   so that a request, its upstream connection and that connection's task stay on one
//!   thread; every other thread uses the client's shared pool (hyper-util's pooled client). This replaced the shared
//!   pool's per-thread copies on the workers: its checkout, its key hashing and its hand-over
//!   of each request to the connection cost about 7,000 instructions of a request's 68,000.
//! - **Protocol.** HTTP/1.1 only (ALPN offers only `http/1.1`), one request at a time per
//!   connection, as nginx's `proxy_pass` does; TLS by rustls with Mozilla's roots, as the
//!   shared pool; through the environment's proxy as a CONNECT tunnel when the client has one.
//! - **Reuse.** A connection goes back to its thread's list once its answer has been read
//!   whole; one whose attempt was cut (a timeout, a cancelled request) is dropped, which
//!   closes it. The most recently used idle connection is taken first. A request that a
//!   reused connection could not start (the server had closed it) is sent again on another
//!   connection, as the shared pool does; one that started is never re-sent here (the retry
//!   policy decides).
//! - **Bounds.** At most `[upstream] max_idle_connections` idle connections per thread and
//!   client (more are closed when given back), each closed after [`IDLE_TIMEOUT`] idle: a
//!   thread's reaper task looks every [`IDLE_TIMEOUT`] while it has idle connections.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HOST, HeaderValue};
use http::{Request, Response, Uri};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::proxy::matcher::Intercept;
use tower_service::Service;

/// How long an idle connection is kept before it is closed (as the shared pool's).
pub(super) const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// The handle a request is sent on.
pub(super) type Sender = SendRequest<Full<Bytes>>;

/// Why a request could not be sent or answered.
#[derive(Debug)]
pub(super) enum Failure {
    /// No connection could be opened (TCP, TLS or the proxy's tunnel).
    Connect(Box<dyn std::error::Error + Send + Sync>),
    /// The connection failed while sending or answering.
    Http(hyper::Error),
}

/// The TLS connector of the worker connections, direct or through a CONNECT tunnel.
#[derive(Debug, Clone)]
enum Connector {
    Direct(HttpsConnector<HttpConnector>),
    Proxied(HttpsConnector<Tunnel<HttpConnector>>),
}

/// One client's connections on the threads that keep their own (see the module policy).
#[derive(Debug)]
pub(super) struct WorkerConnections {
    /// This client's key in each thread's list (never reused in the process).
    id: usize,
    /// Alive while the client is: a thread's list forgets the connections of a dropped client.
    alive: Arc<()>,
    connector: Connector,
    /// Where to connect: the endpoint, absolute.
    endpoint: Uri,
    /// The request target: the endpoint in origin form (`/v1/extract`).
    target: Uri,
    /// The `Host` header: the endpoint's host, with its port when not the scheme's default.
    host: HeaderValue,
    max_idle: usize,
}

/// An idle connection and since when it is idle.
struct Idle {
    sender: Sender,
    since: Instant,
}

/// A thread's idle connections of one client.
struct Pool {
    id: usize,
    owner: Weak<()>,
    idle: Vec<Idle>,
    /// Whether a reaper task watches this list.
    reaping: bool,
}

thread_local! {
    /// The connections of a thread that keeps its own ([`keep_thread_connections`]); `None`
    /// on every other thread.
    static THREAD_POOLS: RefCell<Option<Vec<Pool>>> = const { RefCell::new(None) };
}

/// From now on, this thread keeps upstream connections of its own, apart from other threads',
/// for every [`super::Client`] it uses (issue 17).
///
/// Policy: for a thread running a single-threaded runtime (a gateway worker,
/// [`crate::gateway::serve_workers`]), so that a request and the connection it is sent on are
/// served by the same thread: a connection from the shared pool may be driven by a task of
/// another runtime, and each use would then wake that thread. Each such thread keeps at most
/// `[upstream] max_idle_connections` idle connections per client, so the process keeps up to
/// that many per thread. Other threads (a multi-threaded runtime's) share one pool per client.
/// See the module policy for the rest.
pub fn keep_thread_connections() {
    THREAD_POOLS.with_borrow_mut(|pools| {
        pools.get_or_insert_with(Vec::new);
    });
}

/// Whether this thread keeps its own connections.
pub(super) fn on_this_thread() -> bool {
    THREAD_POOLS.with_borrow(Option::is_some)
}

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

impl WorkerConnections {
    /// The connections of a client posting to `endpoint`, through `proxy` when set, keeping
    /// `max_idle` idle ones per thread. `None` when the endpoint has no host.
    pub(super) fn new(endpoint: &Uri, max_idle: usize, proxy: Option<&Intercept>) -> Option<Self> {
        let name = endpoint.host()?;
        let default_port = match endpoint.scheme_str() {
            Some("https") => 443,
            _ => 80,
        };
        let host = match endpoint.port_u16() {
            Some(port) if port != default_port => format!("{name}:{port}"),
            _ => name.to_owned(),
        };
        let host = HeaderValue::try_from(host).ok()?;
        let target = endpoint.path_and_query()?.as_str().parse().ok()?;
        let tcp = super::client::tcp_connector();
        let tls = || {
            hyper_rustls::HttpsConnectorBuilder::new()
                .with_webpki_roots()
                .https_or_http()
                .enable_http1()
        };
        let connector = match proxy {
            None => Connector::Direct(tls().wrap_connector(tcp)),
            Some(proxy) => {
                let mut tunnel = Tunnel::new(proxy.uri().clone(), tcp);
                if let Some(auth) = proxy.basic_auth() {
                    tunnel = tunnel.with_auth(auth.clone());
                }
                Connector::Proxied(tls().wrap_connector(tunnel))
            }
        };
        Some(Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            alive: Arc::new(()),
            connector,
            endpoint: endpoint.clone(),
            target,
            host,
            max_idle,
        })
    }

    /// Sends `request` (its URI is replaced by the endpoint's origin form, its `Host` set) on
    /// an idle connection of this thread, or a new one; the answer, and the connection to give
    /// back with [`Self::give_back`] once the answer's body is read.
    pub(super) async fn send(
        &self,
        mut request: Request<Full<Bytes>>,
    ) -> Result<(Response<Incoming>, Sender), Failure> {
        *request.uri_mut() = self.target.clone();
        request.headers_mut().insert(HOST, self.host.clone());
        while let Some(mut sender) = self.take_idle() {
            if sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(request).await {
                Ok(response) => return Ok((response, sender)),
                Err(mut failed) => match failed.take_message() {
                    // Not started (the connection was closed meanwhile): another one.
                    Some(unsent) => request = unsent,
                    None => return Err(Failure::Http(failed.into_error())),
                },
            }
        }
        // Boxed: a connection being opened holds its TLS state by value (kilobytes), which
        // would otherwise be part of every request's future and copied with it.
        let mut sender = Box::pin(self.connect()).await?;
        match sender.send_request(request).await {
            Ok(response) => Ok((response, sender)),
            Err(error) => Err(Failure::Http(error)),
        }
    }

    /// Keeps `sender`, whose last answer was read whole, for the next request of this thread
    /// (see the bounds in the module policy).
    pub(super) fn give_back(&self, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let start_reaper = THREAD_POOLS.with_borrow_mut(|pools| {
            let Some(pools) = pools else { return false };
            let pool = match pools.iter().position(|p| p.id == self.id) {
                Some(at) => &mut pools[at],
                None => {
                    // A client seen for the first time on this thread; forget dropped ones.
                    pools.retain(|p| p.owner.strong_count() > 0);
                    pools.push(Pool {
                        id: self.id,
                        owner: Arc::downgrade(&self.alive),
                        idle: Vec::new(),
                        reaping: false,
                    });
                    pools.last_mut().expect("just pushed")
                }
            };
            if pool.idle.len() < self.max_idle {
                pool.idle.push(Idle {
                    sender,
                    since: Instant::now(),
                });
            }
            !std::mem::replace(&mut pool.reaping, true)
        });
        if start_reaper {
            tokio::spawn(reap(self.id));
        }
    }

    /// The most recently used idle connection of this thread that is still open and fresh.
    fn take_idle(&self) -> Option<Sender> {
        THREAD_POOLS.with_borrow_mut(|pools| {
            let pool = pools.as_mut()?.iter_mut().find(|p| p.id == self.id)?;
            while let Some(idle) = pool.idle.pop() {
                if !idle.sender.is_closed() && idle.since.elapsed() < IDLE_TIMEOUT {
                    return Some(idle.sender);
                }
            }
            None
        })
    }

    /// A new connection to the endpoint, its task spawned on this thread's runtime.
    async fn connect(&self) -> Result<Sender, Failure> {
        match &self.connector {
            Connector::Direct(c) => handshake(c.clone(), self.endpoint.clone()).await,
            Connector::Proxied(c) => handshake(c.clone(), self.endpoint.clone()).await,
        }
    }
}

/// Opens a connection with `connector` to `endpoint` and spawns its task.
async fn handshake<C>(mut connector: C, endpoint: Uri) -> Result<Sender, Failure>
where
    C: Service<Uri>,
    C::Response: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    C::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let connect = |e: C::Error| Failure::Connect(e.into());
    std::future::poll_fn(|cx| connector.poll_ready(cx))
        .await
        .map_err(connect)?;
    let io = connector.call(endpoint).await.map_err(connect)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| Failure::Connect(e.into()))?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "an upstream connection ended with an error");
        }
    });
    Ok(sender)
}

/// Closes the idle connections of client `id` on this thread past [`IDLE_TIMEOUT`], every
/// [`IDLE_TIMEOUT`], until it has none.
async fn reap(id: usize) {
    loop {
        tokio::time::sleep(IDLE_TIMEOUT).await;
        let more = THREAD_POOLS.with_borrow_mut(|pools| {
            let Some(pool) = pools
                .as_mut()
                .and_then(|p| p.iter_mut().find(|p| p.id == id))
            else {
                return false;
            };
            if pool.owner.strong_count() == 0 {
                pool.idle.clear();
            }
            pool.idle
                .retain(|idle| !idle.sender.is_closed() && idle.since.elapsed() < IDLE_TIMEOUT);
            pool.reaping = !pool.idle.is_empty();
            pool.reaping
        });
        if !more {
            return;
        }
    }
}
