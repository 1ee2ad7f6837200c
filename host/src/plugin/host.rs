//! What the host gives a guest: the store data of an instance and the WIT imports.
//!
//! Each capability has its own lifecycle:
//! - **WASI p2** is linked (Python and JavaScript guests import it) but grants nothing: no
//!   preopened directories, no environment, no arguments, no network, closed stdin. Stdout and
//!   stderr go to bounded in-memory pipes that the runtime drains into the log after each call.
//! - **`defaults`**, **`session-data`** and **`download`** act on the [`CallEnv`] the caller
//!   passes to each hook call: the default config with the host's settings, the session's data
//!   (if the hook has a session), and the downloader (only during `init-session`).
//! - **`log`** writes to `tracing`, at most [`Limits::log_lines_per_call`] lines per call and 4 KiB
//!   per line.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::bindings::session_host::config::{defaults, download, log, session_data, types};
use super::{Address, DownloadError, Hook, Limits, PoolSpec, Request, Response, UrlRules, Verdict};
use crate::defaults::DefaultConfig;
use crate::session_data::SessionData;

/// Longest log line a guest may write, in bytes; also the longest guest text an error keeps.
const MAX_LOG_LINE: usize = 4096;

/// Sends a guest's `download` request to Zyte API.
///
/// The engine implements it with the session being initialised and its retry policy. The
/// returned future must not borrow the downloader.
pub trait Downloader: Send + Sync {
    /// Sends `request` and returns Zyte API's answer.
    fn download(&self, request: Request) -> BoxFuture<'static, Result<Response, DownloadError>>;
}

/// The WIT `defaults` import: the built-in default config, which a guest calls the way a
/// Python subclass calls `super()`. The embedder supplies it, as it supplies [`Downloader`];
/// the host's is [`DefaultConfig`]. A default never calls back into a guest, so methods whose
/// default depends on another hook take that hook's result (`location`) as an argument.
pub trait Defaults: Send + Sync {
    /// `defaults.rules`.
    fn rules(&self) -> UrlRules;
    /// `defaults.enabled`.
    fn enabled(&self, request: &Request) -> bool;
    /// `defaults.cookie-mode`.
    fn cookie_mode(&self, request: &Request) -> bool;
    /// `defaults.pool`.
    fn pool(&self, request: &Request) -> Result<PoolSpec, String>;
    /// `defaults.location`.
    fn location(&self, request: &Request) -> Address;
    /// `defaults.params`, given the location the config chose.
    fn params(&self, location: &Address) -> String;
    /// `defaults.preset-init-params`.
    fn preset_init_params(&self, request: &Request) -> Option<String>;
    /// `defaults.init-request`, in the cookie mode the engine decided for `request`.
    fn init_request(
        &self,
        session_id: &str,
        request: &Request,
        params: &str,
        cookie_mode: bool,
    ) -> Result<Request, String>;
    /// `defaults.check`, given the location the config chose for `request`.
    fn check(&self, response: &Response, request: &Request, location: &Address) -> Verdict;
}

/// What the host provides to one hook call.
#[derive(Clone)]
pub struct CallEnv {
    /// The built-in default config, for the `defaults` imports.
    pub defaults: Arc<dyn Defaults>,
    /// The data of the session the hook is called for, if any.
    pub session: Option<SessionData>,
    /// The downloader; `None` outside `init-session`.
    pub downloader: Option<Arc<dyn Downloader>>,
    /// The cookie mode the engine decided for the triggering request (used by
    /// `defaults.init-request`).
    pub cookie_mode: bool,
}

impl Default for CallEnv {
    /// Defaults with default settings, no session, no downloader, cookie mode off.
    fn default() -> Self {
        Self {
            defaults: Arc::new(DefaultConfig::default()),
            session: None,
            downloader: None,
            cookie_mode: false,
        }
    }
}

/// State of the call in progress.
pub(crate) struct CallState {
    pub(crate) hook: Hook,
    pub(crate) env: CallEnv,
    pub(crate) started: Instant,
    /// Time spent waiting on host imports, which does not count as guest CPU.
    pub(crate) host_wait: Duration,
    pub(crate) panic: Option<String>,
    pub(crate) cpu_exceeded: bool,
    log_lines: u32,
    downloads: u32,
}

impl CallState {
    /// The state of a call of `hook` that started at `started` (the one clock read of a call:
    /// its CPU budget, its wall-clock bound and its duration metric all count from it).
    pub(crate) fn new(hook: Hook, env: CallEnv, started: Instant) -> Self {
        Self {
            hook,
            env,
            started,
            host_wait: Duration::ZERO,
            panic: None,
            cpu_exceeded: false,
            log_lines: 0,
            downloads: 0,
        }
    }

    /// Guest time used by this call so far.
    pub(crate) fn guest_time(&self) -> Duration {
        self.started.elapsed().saturating_sub(self.host_wait)
    }
}

/// The data of one instance's store.
pub(crate) struct HostState {
    pub(crate) config: Arc<str>,
    pub(crate) limits: Arc<Limits>,
    pub(crate) call: CallState,
    pub(crate) memory: GuardedLimits,
    pub(crate) output: MemoryOutputPipe,
    pub(crate) output_logged: usize,
    wasi: WasiCtx,
    table: ResourceTable,
}

impl HostState {
    pub(crate) fn new(config: Arc<str>, limits: Arc<Limits>) -> Self {
        let output = MemoryOutputPipe::new(limits.output_bytes);
        let wasi = WasiCtxBuilder::new()
            .stdout(output.clone())
            .stderr(output.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let memory = GuardedLimits::new(limits.memory_bytes);
        Self {
            config,
            limits,
            call: CallState::new(Hook::Rules, CallEnv::default(), Instant::now()),
            memory,
            output,
            output_logged: 0,
            wasi,
            table: ResourceTable::new(),
        }
    }

    /// Logs what the guest wrote to stdout or stderr since the last drain, bounded.
    /// Returns whether the output buffer is more than half full.
    pub(crate) fn drain_output(&mut self) -> bool {
        let contents = self.output.contents();
        if contents.len() > self.output_logged {
            let fresh = String::from_utf8_lossy(&contents[self.output_logged..]);
            for line in fresh.lines().take(self.limits.log_lines_per_call as usize) {
                tracing::info!(config = %self.config, hook = %self.call.hook, "guest output: {}", truncate(line));
            }
            self.output_logged = contents.len();
        }
        contents.len() * 2 > self.limits.output_bytes
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// [`StoreLimits`] that remember whether a memory growth was refused, so that the trap which
/// usually follows can be reported as a memory-limit error.
pub(crate) struct GuardedLimits {
    inner: StoreLimits,
    pub(crate) refused: bool,
}

impl GuardedLimits {
    fn new(memory_bytes: usize) -> Self {
        let inner = StoreLimitsBuilder::new().memory_size(memory_bytes).build();
        Self {
            inner,
            refused: false,
        }
    }
}

impl ResourceLimiter for GuardedLimits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.inner.memory_growing(current, desired, maximum)?;
        self.refused |= !allowed;
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }
}

pub(crate) fn truncate(text: &str) -> &str {
    if text.len() <= MAX_LOG_LINE {
        return text;
    }
    let mut end = MAX_LOG_LINE;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl types::Host for HostState {}

impl defaults::Host for HostState {
    fn rules(&mut self) -> wasmtime::Result<UrlRules> {
        Ok(self.call.env.defaults.rules())
    }

    fn enabled(&mut self, request: Request) -> wasmtime::Result<bool> {
        Ok(self.call.env.defaults.enabled(&request))
    }

    fn cookie_mode(&mut self, request: Request) -> wasmtime::Result<bool> {
        Ok(self.call.env.defaults.cookie_mode(&request))
    }

    fn pool(&mut self, request: Request) -> wasmtime::Result<Result<PoolSpec, String>> {
        Ok(self.call.env.defaults.pool(&request))
    }

    fn location(&mut self, request: Request) -> wasmtime::Result<Address> {
        Ok(self.call.env.defaults.location(&request))
    }

    fn params(&mut self, _request: Request, location: Address) -> wasmtime::Result<String> {
        Ok(self.call.env.defaults.params(&location))
    }

    fn preset_init_params(&mut self, request: Request) -> wasmtime::Result<Option<String>> {
        Ok(self.call.env.defaults.preset_init_params(&request))
    }

    fn init_request(
        &mut self,
        session_id: String,
        request: Request,
        params: String,
    ) -> wasmtime::Result<Result<Request, String>> {
        let env = &self.call.env;
        Ok(env
            .defaults
            .init_request(&session_id, &request, &params, env.cookie_mode))
    }

    fn check(
        &mut self,
        response: Response,
        request: Request,
        location: Address,
    ) -> wasmtime::Result<Verdict> {
        Ok(self.call.env.defaults.check(&response, &request, &location))
    }

    fn process_request(&mut self, _request: Request) -> wasmtime::Result<Option<Request>> {
        Ok(None)
    }
}

impl download::Host for HostState {
    async fn download(&mut self, request: Request) -> Result<Response, DownloadError> {
        let Some(downloader) = self.call.env.downloader.clone() else {
            return Err(DownloadError::Refused(format!(
                "download is only available to init-session, with a session being created (this call to {} has none)",
                self.call.hook
            )));
        };
        if self.call.downloads >= self.limits.max_downloads_per_init {
            let max = self.limits.max_downloads_per_init;
            return Err(DownloadError::Refused(format!(
                "this init-session already made {max} downloads, the limit"
            )));
        }
        self.call.downloads += 1;
        let waited = Instant::now();
        let result = downloader.download(request).await;
        self.call.host_wait += waited.elapsed();
        result
    }
}

impl session_data::Host for HostState {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.call.env.session.as_ref().and_then(|s| s.get(&key)))
    }

    fn set(&mut self, key: String, value: String) -> wasmtime::Result<Result<(), String>> {
        Ok(match &self.call.env.session {
            Some(session) => session.set(&key, &value),
            None => Err(format!(
                "hook {} has no session, so it cannot store session data",
                self.call.hook
            )),
        })
    }

    fn remove(&mut self, key: String) -> wasmtime::Result<()> {
        if let Some(session) = &self.call.env.session {
            session.remove(&key);
        }
        Ok(())
    }

    fn keys(&mut self) -> wasmtime::Result<Vec<String>> {
        Ok(self
            .call
            .env
            .session
            .as_ref()
            .map(SessionData::keys)
            .unwrap_or_default())
    }
}

impl log::Host for HostState {
    fn log(&mut self, level: types::Level, message: String) -> wasmtime::Result<()> {
        self.call.log_lines += 1;
        if self.call.log_lines > self.limits.log_lines_per_call {
            return Ok(());
        }
        let (config, hook, message) = (&self.config, self.call.hook, truncate(&message));
        match level {
            types::Level::Trace => tracing::trace!(%config, %hook, "{message}"),
            types::Level::Debug => tracing::debug!(%config, %hook, "{message}"),
            types::Level::Info => tracing::info!(%config, %hook, "{message}"),
            types::Level::Warn => tracing::warn!(%config, %hook, "{message}"),
            types::Level::Error => tracing::error!(%config, %hook, "{message}"),
        }
        Ok(())
    }

    fn report_panic(&mut self, message: String) -> wasmtime::Result<()> {
        self.call.panic = Some(truncate(&message).to_owned());
        Ok(())
    }
}
