//! The HTTP client: one pooled hyper client, a timeout per attempt, and the retry loop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Method, Request, Uri};
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::proxy::matcher::{Intercept, Matcher};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde_json::{Map, Value};

use super::error::{ZyteError, problem_type};
use super::key::ApiKey;
use super::retry::{self, Decision, ErrorClass, RetryPolicy, RetryState};
use super::worker_connections::{self, Failure, WorkerConnections};
use crate::settings::UpstreamSettings;
use crate::telemetry;

/// The kinds of transport errors, as [`transport`] starts its messages and [`outcome`] reads
/// them back for the metrics label.
const TIMEOUT: &str = "timeout";
const CONNECT: &str = "connection failed";
const OTHER: &str = "transport error";

/// How long an idle upstream connection is kept before it is closed (reqwest's default, which
/// the client used before issue 17).
const IDLE_TIMEOUT: Duration = worker_connections::IDLE_TIMEOUT;

/// The request's `Content-Type`. Constants, as [`REQUEST_ID`] (issue 17, eighth round): a
/// `HeaderValue::from_static` called at run time checks its bytes on every request, and a
/// header looked up by a `&str` is parsed into a name first (about 340 instructions a
/// request); as constants both are made once, at compile time.
const JSON: HeaderValue = HeaderValue::from_static("application/json");
/// Zyte API's `request-id` answer header.
const REQUEST_ID: HeaderName = HeaderName::from_static("request-id");

/// A successful (HTTP 200) Zyte API answer.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    /// The HTTP status (200).
    pub status: u16,
    /// The raw JSON body.
    pub body: String,
    /// The `request-id` header, when present.
    pub request_id: Option<String>,
}

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// No key: `ZYTE_API_KEY` is unset or empty.
    #[error("no Zyte API key: set ZYTE_API_KEY")]
    NoKey,
    /// The upstream URL does not parse.
    #[error("invalid upstream URL {url:?}: {message}")]
    Url {
        /// The URL given.
        url: String,
        /// Why it does not parse.
        message: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
}

/// A Zyte API client. Cheap to clone: clones share connections.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

/// The HTTP client: hyper's pooled client over rustls (HTTP/1.1, and HTTP/2 where ALPN offers
/// it), connecting directly or through a CONNECT tunnel to the proxy the environment names
/// for the endpoint ([`http_client`]). It replaced reqwest on the hot path (issue 17).
#[derive(Debug, Clone)]
enum Http {
    Direct(HttpClient<HttpsConnector<HttpConnector>, Full<Bytes>>),
    Proxied(HttpClient<HttpsConnector<Tunnel<HttpConnector>>, Full<Bytes>>),
}

impl Http {
    fn request(&self, request: Request<Full<Bytes>>) -> hyper_util::client::legacy::ResponseFuture {
        match self {
            Self::Direct(client) => client.request(request),
            Self::Proxied(client) => client.request(request),
        }
    }
}

#[derive(Debug)]
struct Inner {
    /// The connections of every thread that keeps none of its own.
    http: Http,
    /// The connections of the threads that keep their own
    /// ([`super::keep_thread_connections`]); `None` for an endpoint without a host (then
    /// every thread uses [`Self::http`]).
    workers: Option<WorkerConnections>,
    endpoint: Uri,
    /// The endpoint as text, for [`Client::endpoint`].
    endpoint_text: String,
    /// `Basic base64(KEY:)`, built once (issue 17: not per request), marked sensitive so that
    /// hyper never logs or indexes it; its `Debug` prints `Sensitive`.
    authorization: HeaderValue,
    /// The bound of one attempt, `[upstream] timeout_secs`.
    timeout: Duration,
    wait_scale: f64,
}

/// The `Authorization` header for `key`: HTTP Basic with the key as the user name and an empty
/// password, as Zyte API expects.
fn authorization(key: &ApiKey) -> Result<HeaderValue, ClientError> {
    use base64::Engine as _;
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:", key.expose()));
    let mut value = HeaderValue::try_from(format!("Basic {credentials}"))
        .map_err(|_| ClientError::Http("the Zyte API key cannot form a header".into()))?;
    value.set_sensitive(true);
    Ok(value)
}

impl Client {
    /// A client for `settings` (its `url` as is), authenticating with `key`.
    pub fn new(settings: &UpstreamSettings, key: ApiKey) -> Result<Self, ClientError> {
        Self::with_proxies(settings, key, &Matcher::from_env())
    }

    /// [`Client::new`] with the proxy rules of `proxies` instead of the environment's.
    fn with_proxies(
        settings: &UpstreamSettings,
        key: ApiKey,
        proxies: &Matcher,
    ) -> Result<Self, ClientError> {
        let base = settings.url.clone();
        let endpoint = url::Url::parse(&base)
            .and_then(|u| u.join("extract"))
            .map_err(|e| ClientError::Url {
                url: base.clone(),
                message: e.to_string(),
            })?;
        let endpoint_text = endpoint.to_string();
        let endpoint: Uri =
            endpoint_text
                .parse()
                .map_err(|e: http::uri::InvalidUri| ClientError::Url {
                    url: base.clone(),
                    message: e.to_string(),
                })?;
        let proxy = proxies.intercept(&endpoint);
        let max_idle = settings.max_idle_connections;
        let http = http_client(max_idle, proxy.as_ref());
        let workers = WorkerConnections::new(&endpoint, max_idle, proxy.as_ref());
        let inner = Inner {
            http,
            workers,
            endpoint,
            endpoint_text,
            authorization: authorization(&key)?,
            timeout: retry::secs(settings.timeout_secs).max(Duration::from_millis(1)),
            wait_scale: settings.wait_scale,
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// A client for `settings` with the key from `ZYTE_API_KEY`, and the URL from
    /// `ZYTE_API_URL` when it is set ([`UpstreamSettings::effective_url`]).
    pub fn from_env(settings: &UpstreamSettings) -> Result<Self, ClientError> {
        let settings = UpstreamSettings {
            url: settings.effective_url(),
            ..settings.clone()
        };
        Self::new(&settings, ApiKey::from_env().ok_or(ClientError::NoKey)?)
    }

    /// The `/extract` endpoint this client posts to.
    pub fn endpoint(&self) -> &str {
        &self.inner.endpoint_text
    }

    /// Sends `body` to `/extract`, retrying under `policy`, with no deadline but the policy's
    /// own (for tools and benchmarks; the engine uses [`Client::extract_by`]).
    pub async fn extract(
        &self,
        body: &Map<String, Value>,
        policy: impl Into<RetryPolicy>,
    ) -> Result<ApiResponse, ZyteError> {
        let deadline = tokio::time::Instant::now() + retry::MAX_WAIT;
        self.extract_by(body, policy, deadline).await
    }

    /// Sends `body` to `/extract`, retrying under `policy` until `deadline` (issue 12).
    ///
    /// Each attempt is cut at the deadline; a retry wait that would end after it is not
    /// started. Either way the answer is [`ZyteError::Deadline`] with the last error, at once:
    /// nothing of this call runs after the deadline.
    pub async fn extract_by(
        &self,
        body: &Map<String, Value>,
        policy: impl Into<RetryPolicy>,
        deadline: tokio::time::Instant,
    ) -> Result<ApiResponse, ZyteError> {
        let bytes =
            Bytes::from(serde_json::to_vec(body).map_err(|e| ZyteError::Invalid(e.to_string()))?);
        self.extract_bytes_by(bytes, policy, deadline).await
    }

    /// [`Client::extract_by`] for a body already serialised: `body` is sent as it is (issue 17:
    /// the gateway forwards a request it need not change without parsing it into a tree).
    /// The caller vouches that it is a JSON object; Zyte API judges the rest.
    pub async fn extract_bytes_by(
        &self,
        bytes: Bytes,
        policy: impl Into<RetryPolicy>,
        deadline: tokio::time::Instant,
    ) -> Result<ApiResponse, ZyteError> {
        let policy = policy.into();
        let started = Instant::now();
        let mut state = RetryState::default();
        let mut last = None;
        loop {
            let attempts = state.attempts() + 1;
            let out_of_time = |last| ZyteError::Deadline { attempts, last };
            let attempt_started = telemetry::started();
            let result = match self.timed_attempt(bytes.clone(), deadline).await {
                Some(result) => result,
                None => Err(out_of_time(last.take().map(Box::new))),
            };
            telemetry::upstream_attempt(outcome(&result), attempt_started);
            let error = match result {
                Ok(answer) => return Ok(answer),
                Err(error @ ZyteError::Deadline { .. }) => return Err(error),
                Err(error) => error,
            };
            let class = classify(policy, &error);
            match state.decide(policy, class, started.elapsed()) {
                Decision::Stop => return Err(error),
                Decision::Retry(wait) => {
                    let pause = wait.sample(rand::random(), rand::random(), self.inner.wait_scale);
                    if tokio::time::Instant::now() + pause >= deadline {
                        return Err(out_of_time(Some(Box::new(error))));
                    }
                    tracing::debug!(%error, ?pause, attempt = state.attempts(), "retrying a Zyte API request");
                    tokio::time::sleep(pause).await;
                    last = Some(error);
                }
            }
        }
    }

    /// One attempt, bounded by `[upstream] timeout_secs` (a transport error, retried) and by
    /// `deadline` (`None`), with one timer for whichever comes first.
    ///
    /// The attempt's future is boxed (issue 17, fifth round): it holds the request, hyper's
    /// send and the answer's body being read (about 1.5 KB), and unboxed it made every future
    /// that awaits it, up to the gateway's request, as large; each of those is moved once when
    /// it starts, so each level copied the attempt's bytes again.
    async fn timed_attempt(
        &self,
        body: Bytes,
        deadline: tokio::time::Instant,
    ) -> Option<Result<ApiResponse, ZyteError>> {
        let timeout = tokio::time::Instant::now() + self.inner.timeout;
        let attempt = Box::pin(self.attempt(body));
        let cut = tokio::time::timeout_at(timeout.min(deadline), attempt).await;
        match cut {
            Ok(result) => Some(result),
            Err(_) if timeout < deadline => Some(Err(ZyteError::Transport(format!(
                "{TIMEOUT}: no answer within {:?}",
                self.inner.timeout
            )))),
            Err(_) => None,
        }
    }

    async fn attempt(&self, body: Bytes) -> Result<ApiResponse, ZyteError> {
        let inner = &self.inner;
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = inner.endpoint.clone();
        let headers = request.headers_mut();
        headers.insert(AUTHORIZATION, inner.authorization.clone());
        headers.insert(CONTENT_TYPE, JSON);
        let (answer, connection) = match inner.workers.as_ref() {
            Some(workers) if worker_connections::on_this_thread() => {
                let (answer, sender) = workers.send(request).await.map_err(failed)?;
                (answer, Some((workers, sender)))
            }
            _ => (inner.http.request(request).await.map_err(transport)?, None),
        };
        let status = answer.status().as_u16();
        let request_id = answer
            .headers()
            .get(&REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = crate::body::read_whole(answer.into_body())
            .await
            .map_err(|e| {
                ZyteError::Transport(format!("{OTHER}: reading the answer: {}", chain(&e)))
            })?;
        if let Some((workers, sender)) = connection {
            workers.give_back(sender);
        }
        let body = text(&body);
        if status == 200 {
            return Ok(ApiResponse {
                status,
                body,
                request_id,
            });
        }
        Err(ZyteError::Api {
            status,
            problem_type: problem_type(&body),
            body,
            request_id,
        })
    }
}

/// The TCP connector of every upstream connection, shared pool or worker's own: no Nagle delay
/// (a request is written whole), and `https` URLs allowed through (TLS wraps it).
pub(super) fn tcp_connector() -> HttpConnector {
    let mut tcp = HttpConnector::new();
    tcp.set_nodelay(true);
    tcp.enforce_http(false);
    tcp
}

/// The pooled client: `max_idle` idle connections per host kept for [`IDLE_TIMEOUT`], Nagle
/// off (requests are written whole), no redirects followed (issue #13: Zyte API does not
/// redirect, and a redirect followed would send the request body to a host the operator did
/// not name; a 3xx is an upstream error like any other unexpected status).
///
/// Proxy: when `proxies` (the environment's `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and
/// `NO_PROXY`, upper or lower case, as reqwest read them before issue 17) intercepts the
/// endpoint, every connection is a CONNECT tunnel through that proxy, with its credentials
/// (sent as a sensitive `Proxy-Authorization` header), and TLS to Zyte API runs inside the
/// tunnel, so the proxy sees neither the key nor the bodies. The proxy itself is reached over
/// plain TCP (an `http://` proxy URL); a plain-`http` endpoint is tunnelled too, where reqwest
/// sent it in absolute form. The decision is made once, for the one endpoint a client posts to.
fn http_client(max_idle: usize, proxy: Option<&Intercept>) -> Http {
    let tcp = tcp_connector();
    let tls = || {
        hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .enable_http2()
    };
    let mut builder = HttpClient::builder(TokioExecutor::new());
    builder
        .pool_max_idle_per_host(max_idle)
        .pool_idle_timeout(IDLE_TIMEOUT)
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new());
    match proxy {
        None => Http::Direct(builder.build(tls().wrap_connector(tcp))),
        Some(proxy) => {
            let mut tunnel = Tunnel::new(proxy.uri().clone(), tcp);
            if let Some(auth) = proxy.basic_auth() {
                tunnel = tunnel.with_auth(auth.clone());
            }
            Http::Proxied(builder.build(tls().wrap_connector(tunnel)))
        }
    }
}

/// The body as text; bytes that are not UTF-8 are replaced (as reqwest's `text()` did).
///
/// Copied, not taken (issue 17, seventh round): a one-chunk body shares hyper's read buffer
/// (8 KB), and taking its bytes as the `String`'s kept that buffer alive with the answer, so
/// hyper allocated a new one for the connection's next answer; a copy of the body (hundreds
/// of bytes) is cheaper than that allocation, and the buffer is reused.
fn text(body: &[u8]) -> String {
    // `from_utf8` first: it checks a word at a time, `from_utf8_lossy` a character at a time.
    match std::str::from_utf8(body) {
        Ok(text) => text.to_owned(),
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    }
}

/// `error` and its sources, joined by `: ` (hyper's own message is only the outer layer).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A worker connection's failure, as [`transport`] words the shared pool's.
fn failed(failure: Failure) -> ZyteError {
    match failure {
        Failure::Connect(error) => ZyteError::Transport(format!("{CONNECT}: {}", chain(&*error))),
        Failure::Http(error) => ZyteError::Transport(format!("{OTHER}: {}", chain(&error))),
    }
}

fn transport(error: hyper_util::client::legacy::Error) -> ZyteError {
    let kind = if error.is_connect() { CONNECT } else { OTHER };
    ZyteError::Transport(format!("{kind}: {}", chain(&error)))
}

/// The metrics label of one attempt: the status class, or the transport error's kind.
fn outcome(result: &Result<ApiResponse, ZyteError>) -> &'static str {
    match result {
        Ok(answer) => telemetry::upstream_status(answer.status),
        Err(ZyteError::Api { status, .. }) => telemetry::upstream_status(*status),
        Err(ZyteError::Transport(m)) if m.starts_with(TIMEOUT) => "timeout",
        Err(ZyteError::Transport(m)) if m.starts_with(CONNECT) => "connect",
        Err(ZyteError::Transport(_)) => "transport",
        Err(ZyteError::Invalid(_)) => "invalid",
        Err(ZyteError::Deadline { .. }) => "timeout",
    }
}

fn classify(policy: RetryPolicy, error: &ZyteError) -> ErrorClass {
    match error {
        ZyteError::Api {
            status,
            problem_type,
            ..
        } => ErrorClass::of_status(policy, *status, problem_type.as_deref()),
        ZyteError::Transport(_) => ErrorClass::Network,
        ZyteError::Invalid(_) | ZyteError::Deadline { .. } => ErrorClass::Final,
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use serde_json::json;

    use super::*;
    use crate::zyte::keep_thread_connections;

    async fn client(wait_scale: f64) -> (zyte_emulator::RunningEmulator, Client) {
        let config = zyte_emulator::EmulatorConfig::default();
        let emulator = zyte_emulator::start(config).await.expect("emulator");
        let upstream = UpstreamSettings {
            url: emulator.base_url(),
            wait_scale,
            ..UpstreamSettings::default()
        };
        let client = Client::new(&upstream, ApiKey::new("test-key")).expect("client");
        (emulator, client)
    }

    #[tokio::test]
    async fn issue_12_retry_waits_and_attempts_end_at_the_deadline() {
        let body = json!({"url": "https://e429.example/", "httpResponseBody": true});
        let body = body.as_object().cloned().unwrap_or_default();
        let policy = crate::settings::RetryPolicyName::SessionDefault;
        // A throttling wait of 20-40 s is not started with 1 s left.
        let (emulator, slow_waits) = client(1.0).await;
        let start = Instant::now();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        let error = slow_waits.extract_by(&body, policy, deadline).await;
        assert!(
            matches!(
                &error,
                Err(ZyteError::Deadline {
                    attempts: 1,
                    last: Some(_)
                })
            ),
            "{error:?}"
        );
        // A started wait would end at the 1 s deadline; 800 ms leaves a loaded machine room
        // for the one attempt (500 ms failed once under a full parallel build, issue 17).
        assert!(start.elapsed() < Duration::from_millis(800));
        assert_eq!(emulator.stats().requests.total, 1);
        // With no waits, attempts go on until the deadline, and not one after it.
        let (emulator, no_waits) = client(0.0).await;
        let start = Instant::now();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
        let error = no_waits.extract_by(&body, policy, deadline).await;
        let took = start.elapsed();
        assert!(
            matches!(error, Err(ZyteError::Deadline { .. })),
            "{error:?}"
        );
        // Not before the deadline, and cut at it: a wait for the next whole second, or for a
        // 1 s attempt timeout, would take at least 1 s.
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_millis(800),
            "{took:?}"
        );
        let calls = emulator.stats().requests.total;
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(emulator.stats().requests.total, calls);
    }

    /// A loopback server that counts the connections it accepts and answers every request with
    /// `200 {}` (`answer`), or never (`!answer`).
    async fn stub(answer: bool) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        stub_with(answer, true).await
    }

    /// [`stub`], closing each connection after its first answer unless `keep_alive`. A request
    /// for another target than `/v1/extract` or without the server's address as its `Host`
    /// gets a 400.
    async fn stub_with(
        answer: bool,
        keep_alive: bool,
    ) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let url = format!("http://{addr}/v1/");
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let addr = addr.clone();
                let service = hyper::service::service_fn(move |request: Request<_>| {
                    let host = request.headers().get(http::header::HOST).cloned();
                    let right = request.uri() == "/v1/extract"
                        && host.is_some_and(|h| h.as_bytes() == addr.as_bytes());
                    async move {
                        if !answer {
                            std::future::pending::<()>().await;
                        }
                        let mut response =
                            http::Response::new(Full::new(Bytes::from_static(b"{}")));
                        if !right {
                            *response.status_mut() = http::StatusCode::BAD_REQUEST;
                        }
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let conn = hyper::server::conn::http1::Builder::new()
                    .keep_alive(keep_alive)
                    .serve_connection(io, service);
                tokio::spawn(conn);
            }
        });
        (url, accepted)
    }

    fn stub_client(url: String, timeout_secs: f64) -> Client {
        let upstream = UpstreamSettings {
            url,
            wait_scale: 0.0,
            timeout_secs,
            ..UpstreamSettings::default()
        };
        Client::new(&upstream, ApiKey::new("test-key")).expect("client")
    }

    #[tokio::test]
    async fn issue_17_sequential_requests_reuse_one_connection() {
        let (url, accepted) = stub(true).await;
        let client = stub_client(url, 5.0);
        let body = Map::new();
        for _ in 0..20 {
            let answer = client.extract(&body, RetryPolicy::default()).await;
            assert_eq!(answer.expect("answer").body, "{}");
        }
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    /// Sends one request to the stub at `url` (whose connections `accepted` counts) with
    /// attempts of 0.1 s and a 450 ms deadline, and asserts that each attempt was cut at its
    /// timeout and retried until the deadline, each on a connection of its own: a timed-out
    /// connection is never reused.
    async fn assert_each_attempt_cut_on_a_new_connection(
        url: String,
        accepted: &std::sync::atomic::AtomicUsize,
    ) {
        let client = stub_client(url, 0.1);
        let start = Instant::now();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(450);
        let error = client
            .extract_by(&Map::new(), RetryPolicy::default(), deadline)
            .await;
        let took = start.elapsed();
        let Err(ZyteError::Deadline { attempts, last }) = error else {
            panic!("{error:?}");
        };
        let last = last.map(|e| e.to_string()).unwrap_or_default();
        assert!(last.contains("timeout"), "{last}");
        assert!((4..=5).contains(&attempts), "{attempts} attempts");
        assert!(took >= Duration::from_millis(450) && took < Duration::from_millis(600));
        assert_eq!(
            accepted.load(std::sync::atomic::Ordering::SeqCst),
            attempts as usize
        );
    }

    #[tokio::test]
    async fn issue_17_each_attempt_is_cut_at_timeout_secs_and_retried() {
        let (url, accepted) = stub(false).await;
        assert_each_attempt_cut_on_a_new_connection(url, &accepted).await;
    }

    /// On a thread keeping its own connections (a gateway worker), sequential requests share
    /// one, with the `Host` and origin-form target that the shared pool sends.
    #[tokio::test]
    async fn issue_17_a_worker_thread_reuses_its_own_connection() {
        keep_thread_connections();
        let (url, accepted) = stub(true).await;
        let client = stub_client(url, 5.0);
        for _ in 0..20 {
            let answer = client.extract(&Map::new(), RetryPolicy::default()).await;
            assert_eq!(answer.expect("answer").body, "{}");
        }
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    /// A worker thread keeps at most `max_idle_connections` idle connections: of three
    /// concurrent requests' connections one is kept, and the next three open two more.
    #[tokio::test]
    async fn issue_17_a_worker_thread_keeps_max_idle_connections() {
        keep_thread_connections();
        let (url, accepted) = stub(true).await;
        let upstream = UpstreamSettings {
            url,
            wait_scale: 0.0,
            max_idle_connections: 1,
            ..UpstreamSettings::default()
        };
        let client = Client::new(&upstream, ApiKey::new("test-key")).expect("client");
        let body = Map::new();
        for expected in [3, 5] {
            let (a, b, c) = tokio::join!(
                client.extract(&body, RetryPolicy::default()),
                client.extract(&body, RetryPolicy::default()),
                client.extract(&body, RetryPolicy::default()),
            );
            for answer in [a, b, c] {
                assert_eq!(answer.expect("answer").status, 200);
            }
            let opened = accepted.load(std::sync::atomic::Ordering::SeqCst);
            assert_eq!(opened, expected);
        }
    }

    /// A worker connection cut by the attempt timeout is closed, not reused; a server that
    /// closes each connection after one answer gets a new one for each request, without
    /// errors.
    #[tokio::test]
    async fn issue_17_worker_connections_cut_or_closed_are_not_reused() {
        keep_thread_connections();
        let (url, accepted) = stub(false).await;
        let client = stub_client(url, 0.1);
        let deadline = tokio::time::Instant::now() + Duration::from_millis(450);
        let error = client
            .extract_by(&Map::new(), RetryPolicy::default(), deadline)
            .await;
        let Err(ZyteError::Deadline { attempts, .. }) = error else {
            panic!("{error:?}");
        };
        assert!((4..=5).contains(&attempts), "{attempts} attempts");
        assert_eq!(
            accepted.load(std::sync::atomic::Ordering::SeqCst),
            attempts as usize
        );
        let (url, accepted) = stub_with(true, false).await;
        let client = stub_client(url, 5.0);
        for _ in 0..5 {
            let answer = client.extract(&Map::new(), RetryPolicy::default()).await;
            assert_eq!(answer.expect("answer").status, 200);
        }
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 5);
    }

    /// What [`raw_stub`] does once a request's head and body are read.
    #[derive(Clone, Copy)]
    enum RawAnswer {
        /// Answers `200 {}` (keep-alive, as far as the client can tell), then closes the
        /// connection, as a server whose idle timeout is shorter than the client's.
        ThenClose,
        /// Sends the head and 2 of the 10 body bytes it announces, then nothing more.
        StallMidBody,
        /// Answers `200 {"a":1}` in two writes 20 ms apart (the client reads the body in two
        /// chunks), and keeps the connection for the next request.
        InTwoParts,
    }

    /// A loopback HTTP/1.1 server written by hand (to misbehave where hyper's server would
    /// not), counting the connections it accepts.
    async fn raw_stub(mode: RawAnswer) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/v1/", listener.local_addr().expect("addr"));
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut chunk = [0u8; 4096];
                    loop {
                        let mut read = Vec::new();
                        // The head, then the body its content-length announces.
                        loop {
                            let text = String::from_utf8_lossy(&read).to_ascii_lowercase();
                            if let Some(end) = text.find("\r\n\r\n") {
                                let length = text
                                    .lines()
                                    .find_map(|l| l.strip_prefix("content-length:"))
                                    .and_then(|v| v.trim().parse::<usize>().ok())
                                    .unwrap_or(0);
                                if read.len() >= end + 4 + length {
                                    break;
                                }
                            }
                            match stream.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => read.extend_from_slice(&chunk[..n]),
                            }
                        }
                        let answer: &[u8] = match mode {
                            RawAnswer::ThenClose => {
                                b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"
                            }
                            RawAnswer::StallMidBody => {
                                b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{\""
                            }
                            RawAnswer::InTwoParts => {
                                b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\n{\"a\":"
                            }
                        };
                        if stream.write_all(answer).await.is_err() {
                            return;
                        }
                        match mode {
                            RawAnswer::ThenClose => return,
                            RawAnswer::StallMidBody => std::future::pending::<()>().await,
                            RawAnswer::InTwoParts => {
                                tokio::time::sleep(Duration::from_millis(20)).await;
                                if stream.write_all(b"1}").await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        });
        (url, accepted)
    }

    /// Regression (issue 17, worker connections): a worker connection that
    /// the server closed while it was idle is seen closed when it is taken, and the request
    /// goes on a new connection, with no error and no extra attempt.
    #[tokio::test]
    async fn issue_17_a_worker_connection_closed_while_idle_is_not_used() {
        keep_thread_connections();
        let (url, accepted) = raw_stub(RawAnswer::ThenClose).await;
        let client = stub_client(url, 5.0);
        // No retry of a network error: a request written on the closed connection would fail.
        let once = RetryPolicy {
            network_window_secs: 0.0,
            ..RetryPolicy::default()
        };
        for n in 1..=5 {
            let answer = client.extract(&Map::new(), once).await;
            assert_eq!(answer.expect("answer").body, "{}");
            assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), n);
            // The server's close reaches the idle connection.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Regression (issue 17, worker connections): a server that stalls in
    /// the middle of an answer's body is cut at the attempt timeout, each attempt on a new
    /// connection (the stalled one is closed, never reused).
    #[tokio::test]
    async fn issue_17_a_worker_connection_stalled_mid_body_is_cut_and_not_reused() {
        keep_thread_connections();
        let (url, accepted) = raw_stub(RawAnswer::StallMidBody).await;
        assert_each_attempt_cut_on_a_new_connection(url, &accepted).await;
    }

    /// Regression (issue 17, seventh round: the answer's body is no longer read by
    /// `collect`): an answer whose body arrives in two chunks is read whole, and its
    /// connection, whose answer was read to its end, is reused for the next request.
    #[tokio::test]
    async fn issue_17_an_answer_in_two_chunks_is_read_whole_and_its_connection_reused() {
        keep_thread_connections();
        let (url, accepted) = raw_stub(RawAnswer::InTwoParts).await;
        let client = stub_client(url, 5.0);
        for _ in 0..5 {
            let answer = client.extract(&Map::new(), RetryPolicy::default()).await;
            assert_eq!(answer.expect("answer").body, r#"{"a":1}"#);
        }
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    /// A CONNECT proxy on a free loopback port: it records each CONNECT's head, answers 200,
    /// and splices the tunnel to the target it names.
    async fn connect_proxy() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let heads = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = heads.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                        if client.read(&mut byte).await.unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let target = head
                        .split_whitespace()
                        .nth(1)
                        .unwrap_or_default()
                        .to_owned();
                    seen.lock().expect("heads").push(head);
                    let Ok(mut upstream) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    if client
                        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                        .await
                        .is_ok()
                    {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                    }
                });
            }
        });
        (url, heads)
    }

    /// Regression (issue 17): the hyper client that replaced reqwest must keep using the proxy
    /// the environment names (reqwest read `HTTP(S)_PROXY`), with its credentials, and honour
    /// `NO_PROXY`.
    #[tokio::test]
    async fn issue_17_the_environments_proxy_is_used_as_a_tunnel() {
        proxy_is_used_as_a_tunnel().await;
    }

    /// [`issue_17_the_environments_proxy_is_used_as_a_tunnel`] on a gateway worker's thread,
    /// whose connections are its own.
    #[tokio::test]
    async fn issue_17_a_worker_thread_uses_the_proxy_too() {
        keep_thread_connections();
        proxy_is_used_as_a_tunnel().await;
    }

    async fn proxy_is_used_as_a_tunnel() {
        let (emulator, _) = client(1.0).await;
        let (proxy, heads) = connect_proxy().await;
        let with_credentials = proxy.replace("http://", "http://user:secret@");
        let upstream = UpstreamSettings {
            url: emulator.base_url(),
            ..UpstreamSettings::default()
        };
        let body = json!({"url": "https://example.com/", "httpResponseBody": true});
        let body = body.as_object().cloned().unwrap_or_default();

        let proxies = Matcher::builder().all(with_credentials).build();
        let proxied =
            Client::with_proxies(&upstream, ApiKey::new("test-key"), &proxies).expect("client");
        for _ in 0..3 {
            let answer = proxied.extract(&body, RetryPolicy::default()).await;
            assert_eq!(answer.expect("answer through the proxy").status, 200);
        }
        {
            let heads = heads.lock().expect("heads");
            // One tunnel, reused by the pooled connection, to the emulator's address.
            assert_eq!(heads.len(), 1, "{heads:?}");
            let host = emulator.base_url().replace("http://", "");
            let host = host
                .trim_end_matches('/')
                .split('/')
                .next()
                .unwrap_or_default();
            assert!(
                heads[0].starts_with(&format!("CONNECT {host} ")),
                "{}",
                heads[0]
            );
            let lower = heads[0].to_ascii_lowercase();
            assert!(
                lower.contains("proxy-authorization: basic dxnlcjpzzwnyzxq="),
                "{lower}"
            );
        }

        // NO_PROXY naming the endpoint's host: direct, the proxy sees nothing more.
        let proxies = Matcher::builder()
            .all(proxy)
            .no("127.0.0.1,localhost")
            .build();
        let direct =
            Client::with_proxies(&upstream, ApiKey::new("test-key"), &proxies).expect("client");
        let answer = direct.extract(&body, RetryPolicy::default()).await;
        assert_eq!(answer.expect("direct answer").status, 200);
        assert_eq!(heads.lock().expect("heads").len(), 1);
    }
}
