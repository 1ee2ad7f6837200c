//! Getting a session for a request, creating sessions, and replacing them (docs/reference.md
//! §5.4–5.7,
//! 5.11). The async edge around [`super::pool`]'s rules.

use std::sync::Arc;
use std::time::Duration;

use super::clock::Deadline;
use super::downloader::InitDownloader;
use super::guard::{Creating, Held};
use super::pool::{Choice, Session};
use super::stats::SessionStat;
use super::{Config, EngineError, Inner, timed_out};
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
    /// Keeps the pool from eviction while the request (or a replacement it spawned) runs.
    pub _pin: crate::store::PoolPin,
    pub cookie_mode: bool,
    /// The triggering request (its URL and controls drive inits).
    pub request: Request,
    /// The retry policy of its upstream calls, inits included.
    pub retry_policy: crate::zyte::RetryPolicy,
}

/// How an init attempt ended (docs/reference.md §5.7's table).
#[derive(Debug, PartialEq)]
pub(super) enum InitOutcome {
    /// The session is usable.
    Passed,
    /// A bad init, counted under this stat.
    Bad(SessionStat, String),
    /// Over the session limit or a creation error: wait and retry, not counted.
    Retry(SessionStat),
    /// Close the pool with this reason.
    Close(String),
}

/// Classifies what `init-session` returned.
pub(super) fn classify_init(result: Result<Result<bool, InitError>, HookError>) -> InitOutcome {
    use InitOutcome::*;
    match result {
        Ok(Ok(true)) => Passed,
        Ok(Ok(false)) => Bad(SessionStat::InitCheckFailed, "the init check failed".into()),
        Ok(Err(InitError::ParamError(m))) => Bad(SessionStat::InitParamError, m),
        Ok(Err(InitError::CheckError(m))) => Bad(SessionStat::InitCheckError, m),
        Ok(Err(InitError::Download(DownloadError::Api(e)))) => match e.problem_type.as_deref() {
            Some("/problem/over-session-limit") => Retry(SessionStat::InitOverLimit),
            Some("/problem/session-creation-error") => Retry(SessionStat::InitServerError),
            _ => Bad(
                SessionStat::InitFailed,
                format!("Zyte API answered {}", e.status),
            ),
        },
        Ok(Err(InitError::Download(e))) => Bad(SessionStat::InitFailed, format!("{e:?}")),
        Ok(Err(InitError::Failed(m))) => Bad(SessionStat::InitFailed, m),
        Ok(Err(InitError::ClosePool(reason))) => Close(reason),
        Err(e) => Bad(SessionStat::InitFailed, e.to_string()),
    }
}

/// The back-off after the `n`-th consecutive failed init.
pub(super) fn init_backoff(base: f64, n: u32) -> Duration {
    secs(base * 2f64.powi(n.saturating_sub(1).min(16) as i32)).min(MAX_INIT_BACKOFF)
}

impl Inner {
    /// A session for the request: its own new one while the pool's initial creations last,
    /// else one from rotation. Every wait ends at `deadline` at the latest.
    pub(super) async fn acquire(
        self: &Arc<Self>,
        ctx: &PoolCtx,
        deadline: Deadline,
    ) -> Result<Held, EngineError> {
        let notify = self
            .store
            .waiter(&ctx.pool)
            .ok_or_else(|| EngineError::BadInput(format!("unknown pool {:?}", ctx.pool)))?;
        let mut empty_since = None;
        loop {
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let (choice, initial, retired, data) = self.choose(&ctx.pool, ctx.cookie_mode).await?;
            for sid in retired {
                self.spawn_replacement(ctx.clone(), sid);
            }
            if initial {
                match self.create(ctx, true, deadline).await? {
                    Some(held) => return Ok(held),
                    None => continue,
                }
            }
            let (wait, why) = match choice {
                Choice::Ready(lease) => {
                    return Ok(Held::new(self, &ctx.pool, lease).with_data(data));
                }
                Choice::Wait(wait) => (wait, "its sessions are waiting out their delay"),
                Choice::Busy => (Duration::from_secs(1), "its sessions are all in use"),
                Choice::Empty => (
                    self.empty_wait(&ctx.pool, &mut empty_since)?,
                    "its sessions are all being created or replaced",
                ),
            };
            let wait = self
                .store
                .poll_interval()
                .map_or(wait, |poll| wait.min(poll));
            let woken = deadline.run(async {
                tokio::select! {
                    () = &mut notified => {}
                    () = tokio::time::sleep(wait) => {}
                }
            });
            if woken.await.is_err() {
                let doing = format!("waiting for a session of pool {:?}: {why}", ctx.pool);
                return Err(timed_out(Some(&ctx.pool), &deadline, doing));
            }
        }
    }

    /// One rotation step; `cookie_mode` pools skip proactive retirement, since Zyte API does
    /// not expire their local cookie jars.
    /// The pool's closed state comes with the step, in the same store step.
    async fn choose(
        &self,
        id: &str,
        cookie_mode: bool,
    ) -> Result<(Choice, bool, Vec<String>, Option<SessionData>), EngineError> {
        let now = self.clock.now();
        let u = rand::random();
        let step = self.store.lease(id, now, &self.rotation, !cookie_mode, u);
        let step = step.await;
        let step = step.ok_or_else(|| EngineError::BadInput(format!("unknown pool {id:?}")))?;
        match step.closed {
            Some(reason) => Err(super::closed_error(id, reason)),
            None => Ok((step.choice, step.create, step.retired, step.data)),
        }
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

    /// Creates a session until one passes (docs/reference.md §5.5) or `deadline` passes; with
    /// `for_use` the triggering request holds it (`Some`) and first waits the pool's delay. A
    /// creation that ends without a session gives its slot back ([`Creating`]).
    pub(super) async fn create(
        self: &Arc<Self>,
        ctx: &PoolCtx,
        for_use: bool,
        deadline: Deadline,
    ) -> Result<Option<Held>, EngineError> {
        let creating = Creating::new(self, &ctx.pool);
        let out_of_time = |doing: &str| timed_out(Some(&ctx.pool), &deadline, doing);
        loop {
            if let Some(closed) = self.closed(&ctx.pool).await {
                return Err(closed);
            }
            let sid = uuid::Uuid::new_v4().to_string();
            let data = SessionData::new();
            let downloader = Arc::new(
                InitDownloader::new(self.client.clone(), sid.clone(), ctx.retry_policy)
                    .with_deadline(deadline.instant()),
            );
            let env = CallEnv {
                defaults: self.defaults.clone(),
                session: Some(data.clone()),
                downloader: Some(downloader.clone()),
                cookie_mode: ctx.cookie_mode,
            };
            let init = ctx.config.init_session(env, &sid, &ctx.request);
            let result = deadline.run(init).await;
            let result = match result {
                Ok(result) if !downloader.deadline_hit() => result,
                _ => return Err(out_of_time("initialising a session")),
            };
            match classify_init(result) {
                InitOutcome::Passed => {
                    self.count(&ctx.pool, SessionStat::InitCheckPassed);
                    let cookies = if ctx.cookie_mode {
                        downloader.last_cookies()
                    } else {
                        Vec::new()
                    };
                    // The slot is marked done once the store has the session (`add`): a
                    // request cancelled while a remote store adds it gives the slot back (a
                    // store caps give-backs at the sessions missing), never loses it.
                    let session = (sid, data, cookies);
                    return self.add(ctx, session, creating, for_use, deadline).await;
                }
                InitOutcome::Retry(stat) => {
                    self.count(&ctx.pool, stat);
                    tracing::warn!(pool = %ctx.pool, stat = stat.as_str(), "session initialization failed; retrying after creation_retry_delay");
                    let pause = secs(self.settings.creation_retry_delay);
                    if deadline.sleep(pause).await.is_err() {
                        let doing = "waiting creation_retry_delay to retry a session creation";
                        return Err(out_of_time(doing));
                    }
                }
                InitOutcome::Close(reason) => return Err(self.close(&ctx.pool, &reason).await),
                InitOutcome::Bad(stat, why) => {
                    self.count(&ctx.pool, stat);
                    tracing::warn!(pool = %ctx.pool, stat = stat.as_str(), %why, "session initialization failed");
                    match self.store.bad_init(&ctx.pool).await {
                        Some((_, true)) => {
                            return Err(self.close(&ctx.pool, "bad_session_inits").await);
                        }
                        _ => self.backoff(&ctx.pool, &deadline).await?,
                    }
                }
            }
        }
    }

    async fn backoff(&self, id: &str, deadline: &Deadline) -> Result<(), EngineError> {
        let n = self.store.bad_inits(id).await.unwrap_or(1);
        let pause = init_backoff(self.settings.init_failure_backoff, n);
        deadline.sleep(pause).await.map_err(|_| {
            let doing = format!("backing off {pause:?} after {n} failed session init(s)");
            timed_out(Some(id), deadline, doing)
        })
    }

    /// Adds a session whose init passed; with `for_use` the triggering request holds it, after
    /// the pool's delay (bounded by `deadline`).
    async fn add(
        self: &Arc<Self>,
        ctx: &PoolCtx,
        (sid, data, cookies): (String, SessionData, Vec<serde_json::Value>),
        creating: Creating,
        for_use: bool,
        deadline: Deadline,
    ) -> Result<Option<Held>, EngineError> {
        let now = self.clock.now();
        let session = Session::new(sid.clone(), now, data, cookies.clone());
        // Reference 5.5: the new session waits `first` (the triggering request, if any, sleeps
        // it), then is queued at that time plus `next`. Queuing it at `now + next` let a waiting
        // request share its first use (issue 14).
        let Some(options) = self.store.options(&ctx.pool).await else {
            return Ok(None);
        };
        let first = options.next_delay(rand::random());
        let next = options.next_delay(rand::random());
        let added = self.store.add(&ctx.pool, session, first + next, for_use);
        let added = added.await;
        creating.done();
        let Some(lease) = added.filter(|_| for_use) else {
            return Ok(None);
        };
        let held = Held::new(self, &ctx.pool, lease);
        if deadline.sleep(first).await.is_err() {
            let doing = format!(
                "waiting the pool's delay ({first:?}) before the first use of its new session"
            );
            return Err(timed_out(Some(&ctx.pool), &deadline, doing));
        }
        Ok(Some(held))
    }

    /// Retires `sid` (once, however many requests report it) and creates a replacement in the
    /// background, triggered by the failing request as it was sent (docs/reference.md §5.11): the
    /// one
    /// `process-request` returned, not the original (issue 14), without its session id, as
    /// for every init.
    pub(super) async fn refresh(
        self: &Arc<Self>,
        ctx: &PoolCtx,
        (sid, sent): (&str, &Request),
        reason: &str,
    ) {
        let now = self.clock.now();
        if self.store.retire(&ctx.pool, sid, reason, now).await {
            let mut request = sent.clone();
            request.session_id = None;
            let ctx = PoolCtx {
                request,
                ..ctx.clone()
            };
            self.spawn_replacement(ctx, sid.to_owned());
        }
    }

    /// The replacement is bounded like a request: by the `request_timeout` setting.
    fn spawn_replacement(self: &Arc<Self>, ctx: PoolCtx, old: String) {
        let inner = self.clone();
        let deadline = Deadline::after(self.request_budget());
        tokio::spawn(async move {
            if let Err(e) = inner.create(&ctx, false, deadline).await {
                tracing::warn!(pool = %ctx.pool, %old, "could not replace a session: {e}");
            }
        });
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
            Bad(SessionStat::InitCheckFailed, _)
        ));
        let param = Ok(Err(InitError::ParamError("x".into())));
        assert!(matches!(
            classify_init(param),
            Bad(SessionStat::InitParamError, _)
        ));
        let check = Ok(Err(InitError::CheckError("x".into())));
        assert!(matches!(
            classify_init(check),
            Bad(SessionStat::InitCheckError, _)
        ));
        assert_eq!(
            classify_init(api("/problem/over-session-limit")),
            Retry(SessionStat::InitOverLimit)
        );
        assert_eq!(
            classify_init(api("/problem/session-creation-error")),
            Retry(SessionStat::InitServerError)
        );
        assert!(matches!(
            classify_init(api("/download/domain-forbidden")),
            Bad(SessionStat::InitFailed, _)
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

    mod issue_12 {
        //! Each wait kind of a request hitting its deadline, against the in-process emulator.

        use std::time::{Duration, Instant};

        use serde_json::json;

        use super::super::PoolCtx;
        use crate::engine::{Config, Deadline, Engine, EngineError, EngineRequest};
        use crate::settings::SessionSettings;

        const SLOW: &str = "[[site]]\ndomain = \"slow.test\"\nlatency = { kind = \"fixed\", ms = 20000 }\n\n[[site]]\ndomain = \"*\"\n";

        /// An engine on an emulator (real time) with the built-in scenario, or `slow.test`.
        async fn engine(
            settings: SessionSettings,
            slow: bool,
        ) -> (zyte_emulator::RunningEmulator, Engine) {
            let scenario = match slow {
                true => zyte_emulator::Scenario::from_toml_str(SLOW).expect("scenario"),
                false => zyte_emulator::Scenario::builtin(),
            };
            crate::engine::test_engine(scenario, settings).await
        }

        /// An engine on an emulator (real time) with `scenario`, given as TOML.
        async fn engine_on(
            scenario: &str,
            settings: SessionSettings,
        ) -> (zyte_emulator::RunningEmulator, Engine) {
            let scenario = zyte_emulator::Scenario::from_toml_str(scenario).expect("scenario");
            crate::engine::test_engine(scenario, settings).await
        }

        fn get(url: &str) -> EngineRequest {
            let body = json!({"url": url, "httpResponseBody": true});
            let mut request = EngineRequest::new(body.as_object().cloned().unwrap_or_default());
            request.controls.enabled = Some(true);
            request
        }

        async fn timed_out(engine: &Engine, url: &str, ms: u64) -> (String, Duration) {
            let start = Instant::now();
            let deadline = Deadline::after(Duration::from_millis(ms));
            let result = engine.execute_by(get(url), deadline).await;
            let took = start.elapsed();
            match result {
                Err(e @ EngineError::Timeout { .. }) => (e.to_string(), took),
                other => panic!("not a timeout: {other:?}"),
            }
        }

        fn in_flight(engine: &Engine) -> u32 {
            let pools = engine.pools();
            pools
                .iter()
                .flat_map(|p| &p.sessions)
                .map(|s| s.in_flight)
                .sum()
        }

        #[tokio::test]
        async fn issue_12_the_init_backoff_past_the_deadline_fails_at_once() {
            let settings = SessionSettings {
                init_failure_backoff: 30.0,
                ..SessionSettings::default()
            };
            let (_emulator, engine) = engine(settings, false).await;
            let (error, took) = timed_out(&engine, "https://e520.example/", 2000).await;
            assert!(error.contains("backing off"), "{error}");
            assert!(took < Duration::from_millis(1000), "{took:?}");
            assert_eq!(
                engine.pools()[0].pending_initial,
                8,
                "the slot was given back"
            );
        }

        #[tokio::test]
        async fn issue_12_the_creation_retry_delay_past_the_deadline_fails_at_once() {
            // Every session creation fails with `/problem/session-creation-error`, which is
            // retried after `creation_retry_delay`: 30 s, past a 2 s deadline.
            let scenario =
                "[policy]\nsession_creation_error_rate = 1.0\n\n[[site]]\ndomain = \"*\"\n";
            let settings = SessionSettings {
                creation_retry_delay: 30.0,
                ..SessionSettings::default()
            };
            let (_emulator, engine) = engine_on(scenario, settings).await;
            let (error, took) = timed_out(&engine, "https://example.com/", 2000).await;
            assert!(error.contains("creation_retry_delay"), "{error}");
            assert!(took < Duration::from_millis(1000), "{took:?}");
            assert_eq!(
                engine
                    .stats()
                    .get("scrapy-zyte-api/sessions/init/server-error"),
                1
            );
            assert_eq!(
                engine.pools()[0].pending_initial,
                8,
                "the slot was given back"
            );
        }

        #[tokio::test]
        async fn issue_12_a_background_replacement_ends_at_the_request_timeout() {
            let settings = SessionSettings {
                pool_size: 1,
                request_timeout: 0.4,
                ..SessionSettings::default()
            };
            let (_emulator, engine) = engine(settings, true).await;
            let inner = engine.inner.clone();
            let spec = crate::engine::pool_spec("slow.test");
            let (pool, pin) = inner.register(&spec).await.expect("room for the pool");
            // The pool's one slot is taken, as by the session the replacement replaces.
            let now = inner.clock.now();
            let step = inner.store.lease(&pool, now, &inner.rotation, false, 0.0);
            let step = step.await;
            assert!(step.is_some_and(|s| s.create));
            let pending = || engine.pools()[0].pending_initial;
            assert_eq!(pending(), 0);
            let url = "https://slow.test/".to_owned();
            let ctx = PoolCtx {
                config: Config::Default,
                pool,
                _pin: pin,
                cookie_mode: false,
                request: crate::wire::request_from_body(
                    url,
                    &Default::default(),
                    crate::wire::no_controls(),
                ),
                retry_policy: crate::zyte::RetryPolicy::SESSION_DEFAULT,
            };
            let started = Instant::now();
            // Its init takes 20 s upstream; the replacement gives its slot back at 0.4 s.
            inner.spawn_replacement(ctx, "old".into());
            while pending() == 0 {
                assert!(started.elapsed() < Duration::from_secs(2), "never ended");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let took = started.elapsed();
            assert!(took >= Duration::from_millis(400), "{took:?}");
            assert!(took < Duration::from_millis(900), "{took:?}");
            assert!(engine.pools()[0].sessions.is_empty());
        }

        #[tokio::test]
        async fn issue_12_the_delay_and_the_wait_for_a_session_end_at_the_deadline() {
            let settings = SessionSettings {
                delay: 60.0,
                pool_size: 2,
                ..SessionSettings::default()
            };
            let (_emulator, engine) = engine(settings, false).await;
            let (error, took) = timed_out(&engine, "https://example.com/", 2000).await;
            assert!(error.contains("pool's delay"), "{error}");
            assert!(took < Duration::from_millis(1000), "{took:?}");
            assert_eq!(in_flight(&engine), 0, "the lease was released");
            // The second request creates the other session, the third waits for one.
            let _ = timed_out(&engine, "https://example.com/", 2000).await;
            let (error, took) = timed_out(&engine, "https://example.com/", 300).await;
            assert!(error.contains("waiting for a session"), "{error}");
            assert!(took >= Duration::from_millis(300), "{took:?}");
            assert!(took < Duration::from_millis(500), "{took:?}");
            assert_eq!(in_flight(&engine), 0);
        }

        #[tokio::test]
        async fn issue_12_an_upstream_attempt_is_cut_at_the_deadline_and_a_drop_frees_the_lease() {
            let settings = SessionSettings {
                pool_size: 1,
                ..SessionSettings::default()
            };
            let (_emulator, engine) = engine(settings, true).await;
            let (error, took) = timed_out(&engine, "https://slow.test/", 400).await;
            assert!(error.contains("initialising a session"), "{error}");
            assert!(took < Duration::from_millis(600), "{took:?}");
            assert_eq!(
                engine.pools()[0].pending_initial,
                1,
                "the slot was given back"
            );
            // Dropped mid-init: the slot comes back as well.
            let deadline = Deadline::after(Duration::from_secs(60));
            let task = tokio::spawn({
                let engine = engine.clone();
                async move { engine.execute_by(get("https://slow.test/"), deadline).await }
            });
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert_eq!(engine.pools()[0].pending_initial, 0);
            task.abort();
            let _ = task.await;
            assert_eq!(engine.pools()[0].pending_initial, 1);
        }
    }
}
