//! The [`Downloader`] a session's `init-session` sends its requests through.
//!
//! Each request gets `session: {"id": <the session being created>}` unless its params set
//! `session` already (kept as is) or set it to `null` (removed: cookie mode, docs/reference.md
//! §5.7). It is sent with the session retry policy. The `responseCookies` of the last response are
//! kept: in cookie mode they become the new session's jar. Every request is bounded by the creating
//! request's deadline ([`InitDownloader::with_deadline`]); whether it was hit is kept, so that an
//! init cut short is not counted as a bad init (issue 12).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::future::BoxFuture;
use parking_lot::Mutex;
use serde_json::{Value, json};

use super::cookies;
use crate::plugin::{DownloadError, Downloader, Request, Response};
use crate::wire;
use crate::zyte::Client;
use crate::zyte::RetryPolicy;

/// Sends the init requests of one session.
pub struct InitDownloader {
    client: Client,
    session_id: String,
    policy: RetryPolicy,
    last_cookies: Arc<Mutex<Vec<Value>>>,
    deadline: tokio::time::Instant,
    deadline_hit: Arc<AtomicBool>,
}

impl InitDownloader {
    /// A downloader for session `session_id`.
    pub fn new(client: Client, session_id: String, policy: RetryPolicy) -> Self {
        Self {
            client,
            session_id,
            policy,
            last_cookies: Arc::default(),
            deadline: tokio::time::Instant::now() + crate::zyte::retry::MAX_WAIT,
            deadline_hit: Arc::default(),
        }
    }

    /// Bounds every download by `deadline` (default: one day from now).
    pub fn with_deadline(mut self, deadline: tokio::time::Instant) -> Self {
        self.deadline = deadline;
        self
    }

    /// Whether a download ran out of time.
    pub fn deadline_hit(&self) -> bool {
        self.deadline_hit.load(Ordering::Relaxed)
    }

    /// The `responseCookies` of the last response.
    pub fn last_cookies(&self) -> Vec<Value> {
        self.last_cookies.lock().clone()
    }
}

impl Downloader for InitDownloader {
    fn download(&self, request: Request) -> BoxFuture<'static, Result<Response, DownloadError>> {
        let (client, policy) = (self.client.clone(), self.policy);
        let (sid, jar) = (self.session_id.clone(), self.last_cookies.clone());
        let (deadline, hit) = (self.deadline, self.deadline_hit.clone());
        Box::pin(async move {
            let mut body = wire::body_from_request(&request).map_err(DownloadError::Refused)?;
            body.insert("url".into(), Value::String(request.url.clone()));
            match body.get("session") {
                Some(Value::Null) => drop(body.remove("session")),
                Some(_) => {}
                None => drop(body.insert("session".into(), json!({ "id": sid }))),
            }
            let answer = match client.extract_by(&body, policy, deadline).await {
                Ok(answer) => answer,
                Err(e) => {
                    if matches!(e, crate::zyte::ZyteError::Deadline { .. }) {
                        hit.store(true, Ordering::Relaxed);
                    }
                    return Err(e.to_download_error());
                }
            };
            *jar.lock() = cookies::response_cookies(&answer.body);
            Ok(Response {
                status: answer.status,
                body: answer.body,
            })
        })
    }
}
