//! Getting a session for a request, creating sessions, and replacing them (reference 5.4–5.7,
//! 5.11). The async edge around [`super::pool`]'s rules.

use std::sync::Arc;
use std::time::Duration;

use super::downloader::InitDownloader;
use super::pool::{Choice, Lease, Session};
use super::{Config, EngineError, Inner};
use crate::plugin::{CallEnv, DownloadError, HookError, InitError, Request};
use crate::session_data::SessionData;
use crate::zyte::retry::secs;

/// Longest back-off between failed inits.
const MAX_INIT_BACKOFF: Duration = Duration::from_secs(60);

/// What a request needs to get and create sessions of its pool.
#[derive(Clone)]
pub(super) struct PoolCtx {
    pub config: Config,
    pub pool: String,
    pub cookie_mode: bool,
    /// The triggering request (its URL and controls drive inits).
    pub request: Request,
}

/// How an init attempt ended (reference 5.7's table).
#[derive(Debug, PartialEq)]
pub(super) enum InitOutcome {
    /// The session is usable.
    Passed,
    /// A bad init, counted under this stat.
    Bad(&'static str, String),
    /// Over the session limit or a creation error: wait and retry, not counted.
    Retry(&'static str),
    /// Close the pool with this reason.
    Close(String),
}

/// Classifies what `init-session` returned.
pub(super) fn classify_init(result: Result<Result<bool, InitError>, HookError>) -> InitOutcome {
    use InitOutcome::*;
    match result {
        Ok(Ok(true)) => Passed,
        Ok(Ok(false)) => Bad("init/check-failed", "the init check failed".into()),
        Ok(Err(InitError::ParamError(m))) => Bad("init/param-error", m),
        Ok(Err(InitError::CheckError(m))) => Bad("init/check-error", m),
        Ok(Err(InitError::Download(DownloadError::Api(e)))) => match e.problem_type.as_deref() {
            Some("/problem/over-session-limit") => Retry("init/over-limit"),
            Some("/problem/session-creation-error") => Retry("init/server-error"),
            _ => Bad("init/failed", format!("Zyte API answered {}", e.status)),
        },
        Ok(Err(InitError::Download(e))) => Bad("init/failed", format!("{e:?}")),
        Ok(Err(InitError::Failed(m))) => Bad("init/failed", m),
        Ok(Err(InitError::ClosePool(reason))) => Close(reason),
        Err(e) => Bad("init/failed", e.to_string()),
    }
}

/// The back-off after the `n`-th consecutive failed init.
pub(super) fn init_backoff(base: f64, n: u32) -> Duration {
    secs(base * 2f64.powi(n.saturating_sub(1).min(16) as i32)).min(MAX_INIT_BACKOFF)
}

impl Inner {
    /// A session for the request: its own new one while the pool's initial creations last,
    /// else one from rotation.
    pub(super) async fn acquire(self: &Arc<Self>, ctx: &PoolCtx) -> Result<Lease, EngineError> {
        let notify = self
            .notify(&ctx.pool)
            .ok_or_else(|| EngineError::BadInput(format!("unknown pool {:?}", ctx.pool)))?;
        let mut empty_since = None;
        loop {
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let (choice, initial, retired) = self.choose(&ctx.pool, ctx.cookie_mode)?;
            for sid in retired {
                self.spawn_replacement(ctx.clone(), sid);
            }
            if initial {
                return self.create(ctx, true).await;
            }
            let wait = match choice {
                Choice::Ready(lease) => return Ok(lease),
                Choice::Wait(wait) => wait,
                Choice::Busy => Duration::from_secs(1),
                Choice::Empty => self.empty_wait(&ctx.pool, &mut empty_since)?,
            };
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One rotation step; `cookie_mode` pools skip proactive retirement, since Zyte API does
    /// not expire their local cookie jars.
    fn choose(
        &self,
        id: &str,
        cookie_mode: bool,
    ) -> Result<(Choice, bool, Vec<String>), EngineError> {
        if let Some(closed) = self.closed(id) {
            return Err(closed);
        }
        let now = self.clock.now();
        let rotation = self.rotation;
        let step = self.with_pool_quiet(id, |p| {
            if p.take_initial() {
                return (Choice::Empty, true, Vec::new());
            }
            let retired = match cookie_mode {
                true => Vec::new(),
                false => p.retire_expiring(now, &rotation),
            };
            (p.choose(now, &rotation, rand::random()), false, retired)
        });
        step.ok_or_else(|| EngineError::BadInput(format!("unknown pool {id:?}")))
    }

    /// How long to wait on an empty pool, or the reference's "could not get a session" error.
    fn empty_wait(
        &self,
        id: &str,
        since: &mut Option<std::time::Instant>,
    ) -> Result<Duration, EngineError> {
        let s = &self.settings;
        let now = self.clock.now();
        let started = *since.get_or_insert(now);
        let budget = s.queue_wait_time.max(0.0) * f64::from(s.queue_max_attempts.max(1) - 1);
        if now.duration_since(started).as_secs_f64() >= budget {
            return Err(EngineError::NoSession {
                pool: id.to_owned(),
                message: format!(
                    "Could not get a session from pool {id:?} after {} attempts, waiting at least {} seconds between attempts (queue_max_attempts × queue_wait_time). Its sessions are all being created or replaced: check the pool's status and the init errors in the log.",
                    s.queue_max_attempts, s.queue_wait_time
                ),
            });
        }
        Ok(secs(s.queue_wait_time))
    }

    /// Creates a session until one passes (reference 5.5); with `for_use` the triggering
    /// request holds it and first waits the pool's delay.
    pub(super) async fn create(
        self: &Arc<Self>,
        ctx: &PoolCtx,
        for_use: bool,
    ) -> Result<Lease, EngineError> {
        loop {
            if let Some(closed) = self.closed(&ctx.pool) {
                return Err(closed);
            }
            let sid = uuid::Uuid::new_v4().to_string();
            let data = SessionData::new();
            let downloader = Arc::new(InitDownloader::new(
                self.client.clone(),
                sid.clone(),
                self.settings.retry_policy,
            ));
            let env = CallEnv {
                defaults: self.defaults.clone(),
                session: Some(data.clone()),
                downloader: Some(downloader.clone()),
                cookie_mode: ctx.cookie_mode,
            };
            let result = ctx.config.init_session(env, &sid, &ctx.request).await;
            match classify_init(result) {
                InitOutcome::Passed => {
                    self.stats.inc(&ctx.pool, "init/check-passed");
                    let cookies = if ctx.cookie_mode {
                        downloader.last_cookies()
                    } else {
                        Vec::new()
                    };
                    return Ok(self.add(ctx, sid, data, cookies, for_use).await);
                }
                InitOutcome::Retry(stat) => {
                    self.stats.inc(&ctx.pool, stat);
                    tracing::warn!(pool = %ctx.pool, stat, "session initialization failed; retrying after creation_retry_delay");
                    sleep_secs(self.settings.creation_retry_delay).await;
                }
                InitOutcome::Close(reason) => return Err(self.close(&ctx.pool, &reason)),
                InitOutcome::Bad(stat, why) => {
                    self.stats.inc(&ctx.pool, stat);
                    tracing::warn!(pool = %ctx.pool, stat, %why, "session initialization failed");
                    let close =
                        self.with_pool(&ctx.pool, |p| p.bad_init().then_some(p.bad_inits()));
                    match close.flatten() {
                        Some(_) => return Err(self.close(&ctx.pool, "bad_session_inits")),
                        None => self.backoff(&ctx.pool).await,
                    }
                }
            }
        }
    }

    async fn backoff(&self, id: &str) {
        let n = self.with_pool_quiet(id, |p| p.bad_inits()).unwrap_or(1);
        let pause = init_backoff(self.settings.init_failure_backoff, n);
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }

    async fn add(
        &self,
        ctx: &PoolCtx,
        sid: String,
        data: SessionData,
        cookies: Vec<serde_json::Value>,
        for_use: bool,
    ) -> Lease {
        let now = self.clock.now();
        let session = Session::new(sid.clone(), now, data, cookies.clone());
        // Reference 5.5: the new session waits `first` (the triggering request, if any, sleeps
        // it), then is queued at that time plus `next`. Queuing it at `now + next` let a waiting
        // request share its first use (issue 14).
        let added = self.with_pool(&ctx.pool, |p| {
            let first = p.options.next_delay(rand::random());
            let next = p.options.next_delay(rand::random());
            (p.add(session, first + next, for_use), first)
        });
        let (lease, first) = added.unwrap_or((
            Lease {
                session_id: sid,
                cookies,
            },
            Duration::ZERO,
        ));
        if for_use && !first.is_zero() {
            tokio::time::sleep(first).await;
        }
        lease
    }

    /// Retires `sid` (once, however many requests report it) and creates a replacement in the
    /// background, triggered by the failing request (reference 5.11).
    pub(super) fn refresh(self: &Arc<Self>, ctx: &PoolCtx, sid: &str, reason: &str) {
        let now = self.clock.now();
        if self.with_pool(&ctx.pool, |p| p.retire(sid, reason, now)) == Some(true) {
            self.spawn_replacement(ctx.clone(), sid.to_owned());
        }
    }

    fn spawn_replacement(self: &Arc<Self>, ctx: PoolCtx, old: String) {
        let inner = self.clone();
        tokio::spawn(async move {
            if let Err(e) = inner.create(&ctx, false).await {
                tracing::warn!(pool = %ctx.pool, %old, "could not replace a session: {e}");
            }
        });
    }
}

async fn sleep_secs(seconds: f64) {
    let pause = secs(seconds);
    if !pause.is_zero() {
        tokio::time::sleep(pause).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::ApiError;

    fn api(problem: &str) -> Result<Result<bool, InitError>, HookError> {
        Ok(Err(InitError::Download(DownloadError::Api(ApiError {
            status: 422,
            problem_type: Some(problem.into()),
            body: String::new(),
        }))))
    }

    #[test]
    fn init_outcomes_follow_the_reference_table() {
        use InitOutcome::*;
        assert_eq!(classify_init(Ok(Ok(true))), Passed);
        assert!(matches!(
            classify_init(Ok(Ok(false))),
            Bad("init/check-failed", _)
        ));
        let param = Ok(Err(InitError::ParamError("x".into())));
        assert!(matches!(classify_init(param), Bad("init/param-error", _)));
        let check = Ok(Err(InitError::CheckError("x".into())));
        assert!(matches!(classify_init(check), Bad("init/check-error", _)));
        assert_eq!(
            classify_init(api("/problem/over-session-limit")),
            Retry("init/over-limit")
        );
        assert_eq!(
            classify_init(api("/problem/session-creation-error")),
            Retry("init/server-error")
        );
        assert!(matches!(
            classify_init(api("/download/domain-forbidden")),
            Bad("init/failed", _)
        ));
        let close = Ok(Err(InitError::ClosePool("mine".into())));
        assert_eq!(classify_init(close), Close("mine".into()));
    }

    #[test]
    fn init_backoff_doubles_and_is_capped() {
        assert_eq!(init_backoff(1.0, 1), Duration::from_secs(1));
        assert_eq!(init_backoff(1.0, 3), Duration::from_secs(4));
        assert_eq!(init_backoff(1.0, 30), Duration::from_secs(60));
        assert_eq!(init_backoff(0.0, 5), Duration::ZERO);
        assert_eq!(init_backoff(f64::NAN, 5), Duration::ZERO);
    }
}
