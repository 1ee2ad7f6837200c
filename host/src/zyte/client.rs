//! The HTTP client: one `reqwest` connection pool, a timeout per attempt, and the retry loop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{Map, Value};

use super::error::{ZyteError, problem_type};
use super::key::ApiKey;
use super::retry::{self, Decision, ErrorClass, RetryPolicy, RetryState};
use crate::settings::UpstreamSettings;
use crate::telemetry;

/// The kinds of transport errors, as [`transport`] starts its messages and [`outcome`] reads
/// them back for the metrics label.
const TIMEOUT: &str = "timeout";
const CONNECT: &str = "connection failed";
const OTHER: &str = "transport error";

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

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    endpoint: url::Url,
    /// `Basic base64(KEY:)`, built once (issue 17: not per request), marked sensitive so that
    /// hyper never logs or indexes it; its `Debug` prints `Sensitive`.
    authorization: reqwest::header::HeaderValue,
    wait_scale: f64,
}

/// The `Authorization` header for `key`: HTTP Basic with the key as the user name and an empty
/// password, as Zyte API expects.
fn authorization(key: &ApiKey) -> Result<reqwest::header::HeaderValue, ClientError> {
    use base64::Engine as _;
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:", key.expose()));
    let mut value = reqwest::header::HeaderValue::try_from(format!("Basic {credentials}"))
        .map_err(|_| ClientError::Http("the Zyte API key cannot form a header".into()))?;
    value.set_sensitive(true);
    Ok(value)
}

impl Client {
    /// A client for `settings` (its `url` as is), authenticating with `key`.
    pub fn new(settings: &UpstreamSettings, key: ApiKey) -> Result<Self, ClientError> {
        let base = settings.url.clone();
        let endpoint = url::Url::parse(&base)
            .and_then(|u| u.join("extract"))
            .map_err(|e| ClientError::Url {
                url: base.clone(),
                message: e.to_string(),
            })?;
        let http = reqwest::Client::builder()
            .timeout(retry::secs(settings.timeout_secs).max(Duration::from_millis(1)))
            .pool_max_idle_per_host(settings.max_idle_connections)
            // Redirects are never followed (issue #13): Zyte API does not redirect, and a
            // redirect followed would send the request body to a host the operator did not
            // name. A 3xx is an upstream error like any other unexpected status.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ClientError::Http(e.to_string()))?;
        let inner = Inner {
            http,
            endpoint,
            authorization: authorization(&key)?,
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
        self.inner.endpoint.as_str()
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
        let policy = policy.into();
        let bytes =
            Bytes::from(serde_json::to_vec(body).map_err(|e| ZyteError::Invalid(e.to_string()))?);
        let started = Instant::now();
        let mut state = RetryState::default();
        let mut last = None;
        loop {
            let attempts = state.attempts() + 1;
            let out_of_time = |last| ZyteError::Deadline { attempts, last };
            let attempt_started = telemetry::started();
            let cut = tokio::time::timeout_at(deadline, self.attempt(bytes.clone())).await;
            let result = cut.unwrap_or_else(|_| Err(out_of_time(last.take().map(Box::new))));
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

    async fn attempt(&self, body: Bytes) -> Result<ApiResponse, ZyteError> {
        let inner = &self.inner;
        let answer = inner
            .http
            .post(inner.endpoint.clone())
            .header(reqwest::header::AUTHORIZATION, inner.authorization.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                reqwest::header::HeaderValue::from_static("application/json"),
            )
            .body(body)
            .send()
            .await
            .map_err(transport)?;
        let status = answer.status().as_u16();
        let request_id = answer
            .headers()
            .get("request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = answer.text().await.map_err(transport)?;
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

fn transport(error: reqwest::Error) -> ZyteError {
    let kind = if error.is_timeout() {
        TIMEOUT
    } else if error.is_connect() {
        CONNECT
    } else {
        OTHER
    };
    ZyteError::Transport(format!("{kind}: {}", error.without_url()))
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
        assert!(start.elapsed() < Duration::from_millis(500));
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
        assert!(took >= Duration::from_millis(300) && took < Duration::from_millis(450));
        let calls = emulator.stats().requests.total;
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(emulator.stats().requests.total, calls);
    }
}
