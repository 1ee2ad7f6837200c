//! One request through the engine: config, enabled, pool, then attempts with sessions until a
//! response passes its check or the retry budget runs out (docs/reference.md §5.3, §5.9, §5.10).

use std::sync::Arc;

use serde_json::{Map, Value};

use super::clock::Deadline;
use super::guard::Held;
use super::lifecycle::PoolCtx;
use super::pool::Lease;
use super::route::Matched;
use super::stats::SessionStat;
use super::{
    EngineError, EngineRequest, EngineResponse, Inner, ServedBy, cookies, pool_spec, timed_out,
};
use crate::defaults;
use crate::plugin::{CallEnv, HookError, Request, Response, Verdict};
use crate::session_data::SessionData;
use crate::settings::{RetryPolicies, unknown_retry_policy};
use crate::store::Failure;
use crate::wire::{self, ViewChanges};
use crate::zyte::{RetryPolicy, ZyteError};

const DISABLED: &str = "scrapy-zyte-api/sessions/use/disabled";
const SESSION_EXPIRED: &str = "/problem/session-expired";

/// How one attempt with a session ended.
enum Attempt {
    Done(EngineResponse),
    Fail(EngineError),
    /// Retry with another session; the error to report if the budget is spent.
    Retry(Reason, EngineError),
}

#[derive(Clone, Copy)]
enum Reason {
    SessionExpired,
    DownloadError,
}

impl Reason {
    fn stat(self) -> &'static str {
        match self {
            Reason::SessionExpired => "retry/reason_count/session_expired",
            Reason::DownloadError => "retry/reason_count/download_error",
        }
    }
}

impl Inner {
    /// Answers `request` by `deadline`: every wait inside ends at the deadline at the latest,
    /// and whatever still runs then is dropped (its guards give back what it held).
    pub(super) async fn execute(
        self: &Arc<Self>,
        request: EngineRequest,
        deadline: Deadline,
    ) -> Result<EngineResponse, EngineError> {
        // Boxed: the request's state machine (every hook call, the upstream attempt) is
        // kilobytes, and unboxed it was copied into each wrapping future in turn (issue 17:
        // 9k instructions of `memcpy` per request by callgrind, against one allocation).
        let until = Box::pin(self.execute_until(request, deadline));
        match deadline.run(until).await {
            Ok(result) => result,
            Err(_) => Err(timed_out(None, &deadline, "running the request")),
        }
    }

    /// [`Inner::execute`] without its timer, for a caller that drops the future at `deadline`
    /// itself ([`super::Engine::execute_guarded`]). Boxed for the reason above; returned boxed
    /// so that the caller awaits it without boxing a wrapper again.
    pub(super) fn execute_guarded(
        self: &Arc<Self>,
        request: EngineRequest,
        deadline: Deadline,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<EngineResponse, EngineError>> + Send + '_>>
    {
        Box::pin(self.execute_until(request, deadline))
    }

    async fn execute_until(
        self: &Arc<Self>,
        request: EngineRequest,
        deadline: Deadline,
    ) -> Result<EngineResponse, EngineError> {
        let policies = self.retry_policies(request.retry_policy.as_deref())?;
        let Matched {
            url,
            params,
            wit,
            config,
            enabled,
        } = self.matched(request).await?;
        if !enabled {
            return self
                .forward(params, url, policies.without_sessions, deadline)
                .await;
        }
        let cookie_mode = config.cookie_mode(self.env(None, false), &wit).await?;
        let (pool, pin) = match config.pool(self.env(None, cookie_mode), &wit).await {
            Ok(spec) => self.register(&spec).await?,
            Err(e) => return Err(self.pool_error(&url, &e).await),
        };
        let ctx = PoolCtx {
            config,
            pool,
            _pin: pin,
            cookie_mode,
            request: wit,
            retry_policy: policies.with_sessions,
        };
        self.attempts(&ctx, params, deadline).await
    }

    /// Attempts until one ends the request. `params` is the client's body without `url`, the
    /// map `ctx.request.params` was serialised from: the first attempt takes it rather than
    /// parse the text again (issue 17); a retry parses.
    async fn attempts(
        self: &Arc<Self>,
        ctx: &PoolCtx,
        params: Map<String, Value>,
        deadline: Deadline,
    ) -> Result<EngineResponse, EngineError> {
        let mut retries = 0;
        let mut params = Some(params);
        loop {
            let lease = self.acquire(ctx, deadline).await?;
            // Boxed (issue 17): the attempt's state (the upstream call, the hooks) is most of
            // the request's future, which was moved whole at each `.await` that wraps it;
            // boxed, only a pointer is (85.6k -> 85.1k instructions per request, sessions on).
            let attempt = Box::pin(self.attempt(ctx, &lease, params.take(), deadline)).await;
            drop(lease);
            let (reason, error) = match attempt {
                Attempt::Done(response) => return Ok(response),
                Attempt::Fail(error) => return Err(error),
                Attempt::Retry(reason, error) => (reason, error),
            };
            if retries >= self.settings.retry_times {
                self.stats.inc_global("retry/max_reached");
                return Err(error);
            }
            retries += 1;
            self.stats.inc_global("retry/count");
            self.stats.inc_global(reason.stat());
        }
    }

    /// Sends the request once with `lease`'s session and judges the answer. `known`, when
    /// given, is the map `ctx.request.params` was serialised from.
    async fn attempt(
        self: &Arc<Self>,
        ctx: &PoolCtx,
        lease: &Held,
        known: Option<Map<String, Value>>,
        deadline: Deadline,
    ) -> Attempt {
        let sid = &lease.session_id;
        let data = match lease.data() {
            Some(data) => Some(data.clone()),
            None => self.session_data(&ctx.pool, sid).await,
        };
        let env = self.env(data, ctx.cookie_mode);
        let mut request = ctx.request.clone();
        request.session_id = Some(sid.clone());
        // A request the guest replaced with new params comes with its body parsed by the
        // runtime; one with the params it was given (its views perhaps changed) is built from
        // the known map, or parsed when there is none (a retry). A request the guest left
        // alone has the known map's own views: the map is its body as it is (issue 17).
        let (request, body, replaced) =
            match ctx.config.process_request(env.clone(), &request).await {
                Ok(Some(processed)) => (processed.request, processed.body, true),
                Ok(None) => (request, None, false),
                Err(e) => return Attempt::Fail(e.into()),
            };
        // Views the guest changed are written back as the body is serialised (issue 17).
        let (body, changes) = match (body, known) {
            (Some(body), _) => (body, ViewChanges::default()),
            (None, Some(known)) if !replaced => (known, ViewChanges::default()),
            (None, Some(known)) => {
                let changes = wire::view_changes(&known, &request);
                (known, changes)
            }
            (None, None) => match wire::body_from_request(&request) {
                Ok(body) => (body, ViewChanges::default()),
                Err(e) => return Attempt::Fail(EngineError::BadInput(e)),
            },
        };
        let served_by = ServedBy {
            pool: ctx.pool.clone(),
            session_id: sid.clone(),
            config: ctx.config.name().to_owned(),
        };
        let body = match use_body(&body, changes, &request.url, ctx.cookie_mode, lease) {
            Ok(body) => body,
            Err(error) => {
                let sent = (sid.as_str(), &request);
                return self.upstream_error(ctx, sent, error, served_by).await;
            }
        };
        match self
            .client
            .extract_bytes_by(body, ctx.retry_policy, deadline.instant())
            .await
        {
            Ok(answer) => {
                let response = Response {
                    status: answer.status,
                    body: answer.body,
                };
                let verdict = ctx.config.check(env, &response, &request).await;
                let sent = (sid.as_str(), &request);
                self.judge(ctx, sent, verdict, response, served_by).await
            }
            Err(error @ ZyteError::Deadline { .. }) => {
                let doing = format!("waiting for Zyte API: {error}");
                Attempt::Fail(timed_out(Some(&ctx.pool), &deadline, doing))
            }
            Err(error) => {
                let sent = (sid.as_str(), &request);
                self.upstream_error(ctx, sent, error, served_by).await
            }
        }
    }

    /// Judges the answer to `sent`: the lease's session id, and the request as sent (what
    /// `process-request` returned, which a refresh's init gets).
    async fn judge(
        self: &Arc<Self>,
        ctx: &PoolCtx,
        sent: (&str, &Request),
        verdict: Result<Verdict, HookError>,
        response: Response,
        served_by: ServedBy,
    ) -> Attempt {
        let (pool, sid) = (&ctx.pool, sent.0);
        let gave_up = |reason: String| EngineError::GaveUp {
            pool: pool.clone(),
            attempts: self.settings.retry_times + 1,
            reason,
        };
        match classify_check(verdict) {
            CheckOutcome::Passed => {
                self.count(pool, SessionStat::UseCheckPassed);
                if ctx.cookie_mode {
                    let new = cookies::response_cookies(&response.body);
                    self.store.merge_cookies(pool, sid, new).await;
                }
                Attempt::Done(EngineResponse {
                    status: response.status,
                    body: response.body,
                    served_by: Some(served_by),
                })
            }
            CheckOutcome::Failed => {
                self.count(pool, SessionStat::UseCheckFailed);
                let (max, now) = (self.settings.max_check_failures, self.clock.now());
                let failure = Failure::Check;
                if self.store.count_failure(pool, sid, failure, max, now).await {
                    self.refresh(ctx, sent, "check failed").await;
                }
                Attempt::Retry(
                    Reason::SessionExpired,
                    gave_up("the session check failed".into()),
                )
            }
            CheckOutcome::Close(reason) => Attempt::Fail(self.close(pool, &reason).await),
            CheckOutcome::Error(e) => {
                self.count(pool, SessionStat::UseCheckError);
                tracing::error!("Unexpected error while checking session validity: {e}");
                self.refresh(ctx, sent, &format!("check error: {e}")).await;
                Attempt::Retry(Reason::SessionExpired, gave_up(e))
            }
        }
    }

    async fn upstream_error(
        self: &Arc<Self>,
        ctx: &PoolCtx,
        sent: (&str, &Request),
        error: ZyteError,
        served_by: ServedBy,
    ) -> Attempt {
        let (pool, sid) = (&ctx.pool, sent.0);
        let status = error.status();
        let reason = if error.problem_type() == Some(SESSION_EXPIRED) {
            self.count(pool, SessionStat::UseExpired);
            self.refresh(ctx, sent, "session expired").await;
            Reason::SessionExpired
        } else if let Some(s @ (520 | 521)) = status {
            self.count(pool, SessionStat::UseFailed);
            let (max, now) = (self.settings.max_errors, self.clock.now());
            let failure = Failure::Error(s);
            if self.store.count_failure(pool, sid, failure, max, now).await {
                self.refresh(ctx, sent, &format!("error {s}")).await;
            }
            Reason::DownloadError
        } else {
            let served_by = Some(served_by);
            return Attempt::Fail(EngineError::Upstream {
                error: Box::new(error),
                served_by,
            });
        };
        let served_by = Some(served_by);
        Attempt::Retry(
            reason,
            EngineError::Upstream {
                error: Box::new(error),
                served_by,
            },
        )
    }

    /// The retry policies of a request that names `chosen` (its own, applied as it is with
    /// and without sessions), or none (the `retry_policy` setting). An unknown name is bad
    /// input naming the field.
    pub(super) fn retry_policies(
        &self,
        chosen: Option<&str>,
    ) -> Result<RetryPolicies, EngineError> {
        let Some(name) = chosen else {
            let global = self.settings.retry_policy(&self.settings.retry_policy);
            return global.ok_or_else(|| {
                let problem = unknown_retry_policy(
                    &self.settings.retry_policy,
                    &self.settings.retry_policies,
                );
                EngineError::BadInput(format!("`[sessions] retry_policy` {problem}"))
            });
        };
        match self.settings.retry_policy(name) {
            Some(p) => Ok(RetryPolicies {
                without_sessions: p.with_sessions,
                ..p
            }),
            None => {
                let problem = unknown_retry_policy(name, &self.settings.retry_policies);
                Err(EngineError::BadInput(format!(
                    "`{}.retryPolicy` {problem}",
                    crate::session_management::FIELD
                )))
            }
        }
    }

    /// A request without sessions: sent as is, with the retry policy for requests without
    /// sessions.
    async fn forward(
        &self,
        mut body: Map<String, Value>,
        url: String,
        policy: RetryPolicy,
        deadline: Deadline,
    ) -> Result<EngineResponse, EngineError> {
        self.stats.inc_global(DISABLED);
        body.insert("url".into(), Value::String(url));
        let answer = self
            .client
            .extract_by(&body, policy, deadline.instant())
            .await;
        forwarded(answer, &deadline)
    }

    /// [`Self::forward`] for a body sent as it came, `url` included (issue 17).
    pub(super) async fn forward_bytes(
        &self,
        body: bytes::Bytes,
        policy: RetryPolicy,
        deadline: Deadline,
    ) -> Result<EngineResponse, EngineError> {
        self.stats.inc_global(DISABLED);
        let answer = self
            .client
            .extract_bytes_by(body, policy, deadline.instant())
            .await;
        forwarded(answer, &deadline)
    }

    /// The `pool` hook failed: close the URL's netloc pool with `pool_error` (docs/reference.md
    /// §5.2).
    async fn pool_error(&self, url: &str, error: &HookError) -> EngineError {
        tracing::error!("the pool hook failed: {error}");
        match defaults::netloc(url) {
            Ok(netloc) => match self.register(&pool_spec(&netloc)).await {
                Ok((id, _pin)) => self.close(&id, "pool_error").await,
                Err(e) => e,
            },
            Err(e) => EngineError::BadInput(e),
        }
    }

    async fn session_data(&self, pool: &str, sid: &str) -> Option<SessionData> {
        self.store.session_data(pool, sid).await
    }

    pub(super) fn env(&self, session: Option<SessionData>, cookie_mode: bool) -> CallEnv {
        CallEnv {
            defaults: self.defaults.clone(),
            session,
            downloader: None,
            cookie_mode,
        }
    }
}

/// The Zyte API body of a use request, serialised: `body` with the view `changes` written
/// back, its `url`, and the session (or, in cookie mode, the jar) added ([`wire::use_body`]).
/// A body that cannot be serialised is the error [`crate::zyte::Client::extract_by`] gives
/// for it.
fn use_body(
    body: &Map<String, Value>,
    changes: ViewChanges<'_>,
    url: &str,
    cookie_mode: bool,
    lease: &Lease,
) -> Result<bytes::Bytes, ZyteError> {
    let addition = if cookie_mode {
        wire::UseAddition::Cookies(&lease.cookies)
    } else {
        wire::UseAddition::Session(&lease.session_id)
    };
    let bytes = wire::use_body(body, changes, url, addition);
    bytes
        .map(bytes::Bytes::from)
        .map_err(|e| ZyteError::Invalid(e.to_string()))
}

/// The engine's answer to a request forwarded without sessions.
fn forwarded(
    answer: Result<crate::zyte::ApiResponse, ZyteError>,
    deadline: &Deadline,
) -> Result<EngineResponse, EngineError> {
    match answer {
        Ok(answer) => Ok(EngineResponse {
            status: answer.status,
            body: answer.body,
            served_by: None,
        }),
        Err(error @ ZyteError::Deadline { .. }) => {
            let doing = format!("waiting for Zyte API: {error}");
            Err(timed_out(None, deadline, doing))
        }
        Err(error) => Err(EngineError::Upstream {
            error: Box::new(error),
            served_by: None,
        }),
    }
}

/// How a use request's check ended (docs/reference.md §5.9): the pure twin of
/// [`super::lifecycle::classify_init`].
#[derive(Debug, PartialEq)]
pub(super) enum CheckOutcome {
    /// The response stands; the session stays.
    Passed,
    /// The check failed: retry with another session, count it against this one.
    Failed,
    /// The guest closes the pool with this reason.
    Close(String),
    /// The check itself failed: retry, and replace the session at once.
    Error(String),
}

/// Classifies what `check` returned.
pub(super) fn classify_check(verdict: Result<Verdict, HookError>) -> CheckOutcome {
    match verdict {
        Ok(Verdict::Keep) => CheckOutcome::Passed,
        Ok(Verdict::Discard) => CheckOutcome::Failed,
        Ok(Verdict::ClosePool(reason)) => CheckOutcome::Close(reason),
        Err(e) => CheckOutcome::Error(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_outcomes_follow_the_verdict() {
        assert_eq!(classify_check(Ok(Verdict::Keep)), CheckOutcome::Passed);
        assert_eq!(classify_check(Ok(Verdict::Discard)), CheckOutcome::Failed);
        let close = Ok(Verdict::ClosePool("mine".into()));
        assert_eq!(classify_check(close), CheckOutcome::Close("mine".into()));
    }
}
