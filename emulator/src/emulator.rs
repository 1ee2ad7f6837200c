//! The emulator's shared state and the `/v1/extract` pipeline, independent of sockets.
//!
//! Pipeline of one request, each step able to end it with a problem:
//! 1. authentication ([`crate::auth`]);
//! 2. the 5 MiB body limit;
//! 3. parsing, validation and combination rules ([`crate::wire`]);
//! 4. site lookup and one fault draw ([`crate::faults`]): reset, 429, 503, 500 and 521 end the
//!    request here, before any session is touched;
//! 5. the session ([`crate::sessions`]);
//! 6. bans: an injected 520, the site's `after_uses` limit for the session, or its ban
//!    probability;
//! 7. rendering ([`crate::page`]) and the 200 body.
//!
//! Latency: the site's latency sample (emulated time) is waited for every outcome after step 3
//! except 429 and 503, which Zyte API answers at once. Validation and auth errors never wait.
//! Every request is counted in [`crate::stats`], resets under status 0.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::rng::RequestRng;
use base64::Engine as _;
use http::HeaderValue;
use rand::Rng;

use crate::actions::{self, Stage};
use crate::clock::Clock;
use crate::config::EmulatorConfig;
use crate::error::EmulatorError;
use crate::faults::{Fault, pick_layered};
use crate::page::{Rendered, Renderer};
use crate::policy::Policy;
use crate::problem::Problem;
use crate::rng::RequestRngs;
use crate::sessions::{
    Acquire, Finish, SessionError, SessionKind, SessionRef, SessionTable, SessionView,
};
use crate::site::{SiteTable, Target};
use crate::stats::{Record, Stats, StatsSnapshot};
use crate::wire::response::{ExtractResponse, SCREENSHOT_PNG, SessionEcho};
use crate::wire::{self, ExtractRequest};

/// Content type of a 200.
pub const JSON: &str = "application/json";
/// Content type of an error.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// What to send back for one request.
#[derive(Debug)]
pub enum Outcome {
    /// An HTTP response.
    Reply(Reply),
    /// Reset the connection instead of answering.
    Reset,
}

/// An HTTP response, before it meets the socket.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// `application/json` or `application/problem+json`.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
    /// The `request-id` header (32 hex characters).
    pub request_id: String,
    /// `Retry-After` seconds.
    pub retry_after: Option<u32>,
    /// Whether to send `WWW-Authenticate`.
    pub www_authenticate: bool,
    /// Real time to wait before answering.
    pub delay: Option<Duration>,
    /// Whether to trickle the body out (the slow-body fault).
    pub slow_body: bool,
}

/// What a request did, for stats and the reply.
#[derive(Default)]
struct Track {
    host: Option<String>,
    used_session: bool,
    banned: bool,
    delay: Duration,
    slow_body: bool,
    reset: bool,
}

/// The emulator's state, shared by all connections.
#[derive(Debug)]
pub struct Emulator {
    /// Server-wide rules.
    pub policy: Policy,
    /// Emulated time.
    pub clock: Clock,
    sites: SiteTable,
    api_keys: HashSet<String>,
    sessions: SessionTable,
    stats: Stats,
    rngs: RequestRngs,
    counter: AtomicU64,
}

impl Emulator {
    /// Builds the state for a validated configuration.
    pub fn new(config: &EmulatorConfig) -> Result<Emulator, EmulatorError> {
        config.validate()?;
        let sites =
            SiteTable::compile(&config.scenario).map_err(|message| EmulatorError::Scenario {
                origin: "<config>".into(),
                message,
            })?;
        Ok(Emulator {
            policy: config.scenario.policy.clone(),
            clock: Clock::new(config.time_scale),
            sites,
            api_keys: config.api_keys.iter().cloned().collect(),
            sessions: SessionTable::default(),
            stats: Stats::default(),
            rngs: RequestRngs::new(config.seed),
            counter: AtomicU64::new(0),
        })
    }

    /// A fresh request id for responses outside `/v1/extract`.
    pub fn request_id(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("{:032x}", self.rngs.for_counter(n).random::<u128>())
    }

    /// The current stats.
    pub fn snapshot(&self) -> StatsSnapshot {
        let now = self.clock.now();
        let (sessions, counters) = self.sessions.snapshot(now, &self.policy);
        self.stats.snapshot(now.as_secs_f64(), sessions, &counters)
    }

    /// Forgets sessions, counters and RNG occurrence counts (not the clock).
    pub fn reset(&self) {
        self.sessions.reset();
        self.stats.reset();
        self.rngs.reset();
    }

    /// Handles one `/v1/extract` request.
    pub fn extract(
        &self,
        authorization: Option<&HeaderValue>,
        body: &[u8],
        too_large: bool,
    ) -> Outcome {
        let mut rng = self.rngs.for_body(body);
        let request_id = format!("{:032x}", rng.random::<u128>());
        let mut track = Track::default();
        let result = self.run(authorization, body, too_large, &mut rng, &mut track);
        let (status, problem) = match &result {
            Ok(_) => (200, None),
            Err(problem) => (problem.status, Some(problem.kind)),
        };
        let record = Record {
            host: track.host.as_deref(),
            status: if track.reset { 0 } else { status },
            problem: if track.reset { None } else { problem },
            used_session: track.used_session,
            banned: track.banned,
        };
        self.stats.record(&record);
        if track.reset {
            return Outcome::Reset;
        }
        let delay = self.clock.real_wait(track.delay);
        Outcome::Reply(match result {
            Ok(body) => json_reply(body, request_id, delay, track.slow_body),
            Err(problem) => problem_reply(&problem, request_id, delay),
        })
    }

    fn run(
        &self,
        authorization: Option<&HeaderValue>,
        body: &[u8],
        too_large: bool,
        rng: &mut RequestRng,
        track: &mut Track,
    ) -> Result<Vec<u8>, Problem> {
        let key = crate::auth::api_key(authorization, &self.api_keys)?;
        if too_large {
            let detail = format!(
                "The request body exceeds the limit of {} bytes (5 MiB).",
                wire::MAX_BODY_BYTES
            );
            return Err(Problem::invalid_with_status(
                self.policy.body_too_large_status,
                detail,
            ));
        }
        let request = wire::parse_and_check(body, &self.policy)?;
        track.host = Some(request.host.clone());
        let target = self.sites.resolve(&request.host);
        let site = &target.site;
        let [own, global] = &site.faults;
        let fault = if own.is_zero() && global.is_zero() {
            None
        } else {
            pick_layered(&[own, global], rng.random())
        };
        track.delay = site.spec.latency.sample(rng);
        self.early_fault(fault, track)?;
        track.slow_body = fault == Some(Fault::SlowBody);
        let session = self.acquire_session(&key, &request, target, rng)?;
        track.used_session = session.is_some();
        let banned = fault == Some(Fault::E520) || self.site_bans(target, session.as_ref(), rng);
        if banned {
            track.banned = true;
            self.finish_session(&key, session.as_ref(), true, None);
            return Err(Problem::website_ban(self.policy.retry_after_secs));
        }
        let renderer = Renderer {
            sites: &self.sites,
            seed: self.rngs.seed(),
            policy: &self.policy,
        };
        let page = renderer.render(&request, session.as_ref(), rng);
        self.finish_session(&key, session.as_ref(), false, page.location.clone());
        Ok(self.response(&request, &page, session.as_ref()))
    }

    /// Faults that end a request before its session is looked up.
    fn early_fault(&self, fault: Option<Fault>, track: &mut Track) -> Result<(), Problem> {
        let retry_after = self.policy.retry_after_secs;
        let problem = match fault {
            Some(Fault::Reset) => {
                track.reset = true;
                Problem::server_internal()
            }
            Some(Fault::E429) => Problem::over_user_limit(retry_after),
            Some(Fault::E503) => Problem::over_global_limit(retry_after),
            Some(Fault::E500) => Problem::server_internal(),
            Some(Fault::E521) => Problem::internal_download_error(),
            _ => return Ok(()),
        };
        if matches!(fault, Some(Fault::E429 | Fault::E503)) {
            track.delay = Duration::ZERO;
        }
        Err(problem)
    }

    fn acquire_session(
        &self,
        key: &str,
        request: &ExtractRequest,
        target: Target<'_>,
        rng: &mut RequestRng,
    ) -> Result<Option<SessionView>, Problem> {
        let opts = &request.opts;
        let init_location;
        let session_ref = match (&opts.session, &opts.session_context) {
            (Some(id), _) => SessionRef::User(*id),
            (None, Some(context)) => {
                init_location = self.context_location(request, target, rng);
                SessionRef::Context(context, init_location.as_deref())
            }
            (None, None) => return Ok(None),
        };
        let acquire = Acquire {
            key,
            host: &request.host,
            now: self.clock.now(),
        };
        self.sessions
            .acquire(session_ref, &acquire, &self.policy, rng)
            .map(Some)
            .map_err(|error| match error {
                SessionError::Expired => {
                    Problem::session_expired(self.policy.session_expired_status)
                }
                SessionError::OverLimit => Problem::over_session_limit(
                    self.policy.over_session_limit_status,
                    self.policy.max_active_sessions,
                ),
                SessionError::CreationError => Problem::session_creation_error(
                    self.policy.session_creation_error_status,
                    self.policy.retry_after_secs,
                ),
            })
    }

    /// The location a new Zyte-managed session gets from `sessionContextParameters.actions`.
    fn context_location(
        &self,
        request: &ExtractRequest,
        target: Target<'_>,
        rng: &mut RequestRng,
    ) -> Option<String> {
        if request.opts.context_actions.is_empty() {
            return None;
        }
        let unsupported = self.policy.unsupported_location_error(&request.host);
        let stage = Stage {
            domain: &request.host,
            support: &target.site.spec.set_location,
            capture: target.capture,
            fixed_location: None,
            unsupported_error: &unsupported,
            has_id: &|_| true,
        };
        actions::run(&request.opts.context_actions, &stage, rng).location
    }

    fn site_bans(
        &self,
        target: Target<'_>,
        session: Option<&SessionView>,
        rng: &mut RequestRng,
    ) -> bool {
        let ban = target.site.spec.ban;
        let used_up = match (ban.after_uses, session) {
            (Some(limit), Some(session)) => session.uses_before >= limit,
            _ => false,
        };
        used_up || (ban.probability > 0.0 && rng.random::<f64>() < ban.probability)
    }

    fn finish_session(
        &self,
        key: &str,
        session: Option<&SessionView>,
        banned: bool,
        location: Option<String>,
    ) {
        let Some(session) = session else { return };
        let outcome = Finish {
            now: self.clock.now(),
            banned,
            created_now: session.created_now,
            location,
        };
        self.sessions
            .finish(key, session.id, &outcome, &self.policy);
    }

    fn response(
        &self,
        request: &ExtractRequest,
        page: &Rendered,
        session: Option<&SessionView>,
    ) -> Vec<u8> {
        let opts = &request.opts;
        let echo =
            session.filter(|s| s.kind == SessionKind::User || self.policy.echo_session_for_context);
        ExtractResponse {
            url: &page.url,
            status_code: page.status,
            http_response_body: opts
                .http_response_body
                .then(|| base64::engine::general_purpose::STANDARD.encode(page.html.as_bytes())),
            http_response_headers: opts
                .http_response_headers
                .then_some(page.headers.as_slice()),
            browser_html: opts.browser_html.then_some(page.html.as_str()),
            screenshot: opts.screenshot.then_some(SCREENSHOT_PNG),
            actions: opts
                .browser_fields
                .contains(&"actions")
                .then_some(page.actions.as_slice()),
            response_cookies: opts.response_cookies.then_some(page.cookies.as_slice()),
            network_capture: opts.network_capture.then_some([]),
            session: echo.map(|s| SessionEcho {
                id: s.id.to_string(),
            }),
            echo_data: opts.echo_data.as_ref(),
            job_id: opts.job_id.as_deref(),
        }
        .to_json()
    }
}

/// The reply for a problem.
/// A 200 reply carrying `body` (JSON).
pub fn json_reply(
    body: Vec<u8>,
    request_id: String,
    delay: Option<Duration>,
    slow_body: bool,
) -> Reply {
    Reply {
        status: 200,
        content_type: JSON,
        body,
        request_id,
        retry_after: None,
        www_authenticate: false,
        delay,
        slow_body,
    }
}

/// A problem+json reply for `problem`.
pub fn problem_reply(problem: &Problem, request_id: String, delay: Option<Duration>) -> Reply {
    Reply {
        status: problem.status,
        content_type: PROBLEM_JSON,
        body: problem.to_json(),
        request_id,
        retry_after: problem.retry_after,
        www_authenticate: problem.is_auth_error(),
        delay,
        slow_body: false,
    }
}

#[cfg(test)]
#[path = "emulator_tests.rs"]
mod tests;
