//! Which config serves a URL, and one call site per hook whether the config is a guest or the
//! built-in default.
//!
//! Selection follows the reference's url-matcher and web-poet semantics ([`crate::rules`]): each
//! loaded config contributes one rule (its `rules` export, or its sidecar's override), and the
//! rules are compiled once per [`ConfigSet`], so a request costs one bucket lookup. A URL no
//! rule matches is served by the built-in default ([`BuiltIn`]).
//!
//! A [`ConfigSet`] is immutable and swapped whole (the engine keeps it in an `ArcSwap`): a
//! request resolves its config once, at its start, and finishes on that version even if the
//! set is replaced meanwhile.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;

use futures::future::BoxFuture;

use super::observe::{HookObserver, Observed};
use crate::defaults::BuiltIn;
use crate::plugin::{
    CallEnv, GuestConfig, HookError, Hooks, InitError, PoolSpec, ProcessedRequest, Request,
    Response, UrlRules, Verdict,
};
use crate::rules::{Rule, RuleSet, RulesError, Selection};

/// The name of the built-in default config in errors and [`super::ServedBy`].
pub const DEFAULT_NAME: &str = "default";

/// One loaded config and what the set knows about it.
#[derive(Clone)]
pub struct ConfigEntry {
    /// The loaded guest.
    pub plugin: Arc<GuestConfig>,
    /// The rules in force: the guest's `rules` export, or its sidecar's override.
    pub rules: UrlRules,
    /// Its version: the first 16 hex digits of the SHA-256 of the `.wasm` file (and of the
    /// sidecar, when there is one). Empty for configs loaded from memory.
    pub version: String,
    /// The file it was loaded from.
    pub source: Option<PathBuf>,
    /// When this version was loaded.
    pub loaded_at: SystemTime,
}

impl ConfigEntry {
    /// Its rules in force as a [`Rule`] with `id`.
    pub fn rule(&self, id: u64) -> Rule {
        let r = &self.rules;
        Rule {
            id,
            name: self.plugin.name().to_owned(),
            include: r.include.clone(),
            exclude: r.exclude.clone(),
            priority: i64::from(r.priority),
            instead_of: r.instead_of.clone(),
        }
    }

    /// An entry for `plugin` with its own rules, no version and no file.
    pub fn new(plugin: Arc<GuestConfig>) -> Self {
        Self {
            rules: plugin.rules().clone(),
            plugin,
            version: String::new(),
            source: None,
            loaded_at: SystemTime::now(),
        }
    }
}

/// A config file that failed to load (or to join the set), for the status endpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigProblem {
    /// The config's name (the file stem).
    pub config: String,
    /// The file.
    pub file: PathBuf,
    /// What went wrong, as a message naming the cause.
    pub error: String,
    /// The version still serving instead (the last good one), if any.
    pub serving: Option<String>,
}

/// The loaded configs, their compiled rules, and the files that failed to load. Immutable;
/// swapped whole on reload.
#[derive(Default)]
pub struct ConfigSet {
    entries: Vec<ConfigEntry>,
    /// Entry index by config name. foldhash (issue 17): the names are the operator's, not a
    /// client's (see the policy on `engine::pool::Pool`'s session map).
    by_name: foldhash::HashMap<String, usize>,
    rules: RuleSet,
    problems: Vec<ConfigProblem>,
    observer: Option<Arc<dyn HookObserver>>,
}

impl ConfigSet {
    /// A set of `entries`. Rule ids follow the order of `entries` (a later entry wins ties of
    /// priority and specificity, like a later registration in web-poet); names must be unique
    /// (a later entry with a taken name replaces the earlier one).
    ///
    /// # Errors
    /// The rules do not compile: an include pattern without a domain, or an `instead_of` cycle.
    pub fn new(entries: Vec<ConfigEntry>) -> Result<Self, RulesError> {
        let mut unique: Vec<ConfigEntry> = Vec::with_capacity(entries.len());
        for entry in entries {
            match unique
                .iter_mut()
                .find(|e| e.plugin.name() == entry.plugin.name())
            {
                Some(slot) => *slot = entry,
                None => unique.push(entry),
            }
        }
        // Ids count from 1, like web-poet's registrations.
        let rules = RuleSet::compile((1..).zip(&unique).map(|(id, e)| e.rule(id)))?;
        let by_name = unique
            .iter()
            .enumerate()
            .map(|(i, e)| (e.plugin.name().to_owned(), i))
            .collect();
        Ok(Self {
            entries: unique,
            by_name,
            rules,
            problems: Vec::new(),
            observer: None,
        })
    }

    /// A set of `plugins` with their own rules, in registration order.
    ///
    /// # Errors
    /// As [`ConfigSet::new`].
    pub fn from_plugins(plugins: Vec<Arc<GuestConfig>>) -> Result<Self, RulesError> {
        Self::new(plugins.into_iter().map(ConfigEntry::new).collect())
    }

    /// The same set, its hook calls seen by `observer` (`plugin trace` and `plugin test`; see
    /// [`super::observe`]).
    #[must_use]
    pub fn with_observer(mut self, observer: Arc<dyn HookObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The same set, reporting `problems`.
    #[must_use]
    pub fn with_problems(mut self, problems: Vec<ConfigProblem>) -> Self {
        self.problems = problems;
        self
    }

    /// The config for `url`.
    pub fn select(&self, url: &str) -> Config {
        let config = match self.rules.resolve(url).and_then(|name| self.get(name)) {
            Some(entry) => Config::Guest(entry.plugin.clone()),
            None => Config::Default,
        };
        match &self.observer {
            None => config,
            Some(observer) => Config::Observed(Arc::new(Observed {
                inner: config,
                observer: observer.clone(),
            })),
        }
    }

    /// The config for `url`, with the matching pattern and the configs it beat and why.
    pub fn explain(&self, url: &str) -> Selection {
        self.rules.select(url)
    }

    /// The entry of config `name`.
    pub fn get(&self, name: &str) -> Option<&ConfigEntry> {
        self.by_name.get(name).map(|&i| &self.entries[i])
    }

    /// Every loaded config, in registration order.
    pub fn entries(&self) -> &[ConfigEntry] {
        &self.entries
    }

    /// The files that failed to load when this set was built.
    pub fn problems(&self) -> &[ConfigProblem] {
        &self.problems
    }

    /// A serializable account of the set, for status endpoints.
    pub fn status(&self) -> ConfigsStatus {
        ConfigsStatus {
            configs: self.entries.iter().map(ConfigStatus::of).collect(),
            problems: self.problems.clone(),
        }
    }
}

/// [`ConfigSet::status`]: what `GET /status` shows about configs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigsStatus {
    /// The configs serving, in registration order.
    pub configs: Vec<ConfigStatus>,
    /// Files that failed to load; a config that had a good version keeps serving it.
    pub problems: Vec<ConfigProblem>,
}

/// One serving config.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigStatus {
    /// Its name (file stem).
    pub name: String,
    /// Its version (content hash prefix; empty when loaded from memory).
    pub version: String,
    /// The file it came from.
    pub file: Option<PathBuf>,
    /// Seconds since the Unix epoch at which this version was loaded.
    pub loaded_at: f64,
    /// Include patterns in force.
    pub include: Vec<String>,
    /// Exclude patterns in force.
    pub exclude: Vec<String>,
    /// Priority in force.
    pub priority: i32,
    /// The config it replaces (`null`: the built-in default).
    pub instead_of: Option<String>,
    /// Hook calls made so far.
    pub calls: u64,
    /// Hook calls that failed (trap, timeout, CPU or memory limit).
    pub failures: u64,
}

impl ConfigStatus {
    fn of(entry: &ConfigEntry) -> Self {
        use std::sync::atomic::Ordering::Relaxed;
        let counters = entry.plugin.counters();
        Self {
            name: entry.plugin.name().to_owned(),
            version: entry.version.clone(),
            file: entry.source.clone(),
            loaded_at: entry
                .loaded_at
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or_default(),
            include: entry.rules.include.clone(),
            exclude: entry.rules.exclude.clone(),
            priority: entry.rules.priority,
            instead_of: entry.rules.instead_of.clone(),
            calls: counters.calls.load(Relaxed),
            failures: counters.failures.load(Relaxed),
        }
    }
}

/// A future returned by a hook of [`ConfigHooks`].
pub type HookFuture<'a, T> = BoxFuture<'a, Result<T, HookError>>;

/// The hooks the engine calls, answered alike by a loaded guest ([`GuestConfig`]) and by the
/// built-in default ([`BuiltIn`]): [`Config`] dispatches every hook through this one trait.
/// A hook that a config does not override falls back to the `defaults` in its [`CallEnv`].
pub trait ConfigHooks: Send + Sync {
    /// The config's name.
    fn name(&self) -> &str;
    /// The `enabled` hook.
    fn enabled<'a>(&'a self, env: CallEnv, r: &'a Request) -> HookFuture<'a, bool>;
    /// The `cookie-mode` hook.
    fn cookie_mode<'a>(&'a self, env: CallEnv, r: &'a Request) -> HookFuture<'a, bool>;
    /// The `pool` hook.
    fn pool<'a>(&'a self, env: CallEnv, r: &'a Request) -> HookFuture<'a, PoolSpec>;
    /// The `process-request` hook.
    fn process_request<'a>(
        &'a self,
        env: CallEnv,
        r: &'a Request,
    ) -> HookFuture<'a, Option<ProcessedRequest>>;
    /// The `check` hook.
    fn check<'a>(
        &'a self,
        env: CallEnv,
        response: &'a Response,
        r: &'a Request,
    ) -> HookFuture<'a, Verdict>;
    /// The `init-session` hook; `env.downloader` must be set.
    fn init_session<'a>(
        &'a self,
        env: CallEnv,
        session_id: &'a str,
        r: &'a Request,
    ) -> HookFuture<'a, Result<bool, InitError>>;
}

impl ConfigHooks for GuestConfig {
    fn name(&self) -> &str {
        GuestConfig::name(self)
    }
    // A hook the host answers gets a ready future, not the boxed state machine of a guest
    // call (issue 17: building and copying that was 1-2k instructions per hook).
    fn enabled<'a>(&'a self, env: CallEnv, r: &'a Request) -> HookFuture<'a, bool> {
        match self.answered_by_host(&env, r, Hooks::ENABLED) {
            Some(answer) => Box::pin(std::future::ready(Ok(answer))),
            None => Box::pin(GuestConfig::enabled(self, env, r)),
        }
    }
    fn cookie_mode<'a>(&'a self, env: CallEnv, r: &'a Request) -> HookFuture<'a, bool> {
        match self.answered_by_host(&env, r, Hooks::COOKIE_MODE) {
            Some(answer) => Box::pin(std::future::ready(Ok(answer))),
            None => Box::pin(GuestConfig::cookie_mode(self, env, r)),
        }
    }
    fn pool<'a>(&'a self, env: CallEnv, r: &'a Request) -> HookFuture<'a, PoolSpec> {
        match self.pool_by_host(&env, r) {
            Some(answer) => Box::pin(std::future::ready(answer)),
            None => Box::pin(GuestConfig::pool(self, env, r)),
        }
    }
    fn process_request<'a>(
        &'a self,
        env: CallEnv,
        r: &'a Request,
    ) -> HookFuture<'a, Option<ProcessedRequest>> {
        Box::pin(GuestConfig::process_request(self, env, r))
    }
    fn check<'a>(
        &'a self,
        env: CallEnv,
        response: &'a Response,
        r: &'a Request,
    ) -> HookFuture<'a, Verdict> {
        Box::pin(GuestConfig::check(self, env, response, r))
    }
    fn init_session<'a>(
        &'a self,
        env: CallEnv,
        session_id: &'a str,
        r: &'a Request,
    ) -> HookFuture<'a, Result<bool, InitError>> {
        Box::pin(GuestConfig::init_session(self, env, session_id, r))
    }
}

/// The config serving a request.
#[derive(Clone)]
pub enum Config {
    /// The built-in default.
    Default,
    /// A loaded guest.
    Guest(Arc<GuestConfig>),
    /// Either of the above, its calls observed ([`super::observe`]).
    Observed(Arc<Observed>),
}

impl Config {
    /// The hooks of this config.
    pub fn hooks(&self) -> &dyn ConfigHooks {
        match self {
            Config::Default => &BuiltIn,
            Config::Guest(p) => p.as_ref(),
            Config::Observed(o) => o.as_ref(),
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        self.hooks().name()
    }

    /// The `enabled` hook.
    pub async fn enabled(&self, env: CallEnv, r: &Request) -> Result<bool, HookError> {
        self.hooks().enabled(env, r).await
    }

    /// The `cookie-mode` hook.
    pub async fn cookie_mode(&self, env: CallEnv, r: &Request) -> Result<bool, HookError> {
        self.hooks().cookie_mode(env, r).await
    }

    /// The `pool` hook.
    pub async fn pool(&self, env: CallEnv, r: &Request) -> Result<PoolSpec, HookError> {
        self.hooks().pool(env, r).await
    }

    /// The `process-request` hook.
    pub async fn process_request(
        &self,
        env: CallEnv,
        r: &Request,
    ) -> Result<Option<ProcessedRequest>, HookError> {
        self.hooks().process_request(env, r).await
    }

    /// The `check` hook.
    pub async fn check(
        &self,
        env: CallEnv,
        response: &Response,
        r: &Request,
    ) -> Result<Verdict, HookError> {
        self.hooks().check(env, response, r).await
    }

    /// The `init-session` hook; `env.downloader` must be set.
    pub async fn init_session(
        &self,
        env: CallEnv,
        session_id: &str,
        r: &Request,
    ) -> Result<Result<bool, InitError>, HookError> {
        self.hooks().init_session(env, session_id, r).await
    }
}
