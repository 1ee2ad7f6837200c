//! Which config serves a URL, and one call site per hook whether the config is a guest or the
//! built-in default.
//!
//! Selection (simpler than the reference's url-matcher, section 7): a config's include patterns
//! are read as domains (the part before any `/`, `?`, `#` or `:`), and match the URL's host
//! itself or any subdomain. A config whose exclude patterns match (same reading, plus a path
//! prefix when the pattern has one) is skipped. Among matching configs the highest priority
//! wins, then the first loaded. Configs with no include patterns are universal: they apply only
//! where no domain rule matches. Otherwise the built-in [`DefaultConfig`] serves the URL.

use std::sync::Arc;

use crate::defaults::DefaultConfig;
use crate::plugin::{
    CallEnv, Downloader, Hook, HookError, HookErrorKind, InitError, Plugin, PoolSpec,
    ProcessedRequest, Request, Response, Verdict,
};

/// The name of the built-in default config in errors and [`super::ServedBy`].
pub const DEFAULT_NAME: &str = "default";

/// The loaded configs, in load order. Swapped whole on reload.
#[derive(Default)]
pub struct ConfigSet {
    plugins: Vec<Arc<Plugin>>,
}

impl ConfigSet {
    /// A set of `plugins`, in priority order of ties.
    pub fn new(plugins: Vec<Arc<Plugin>>) -> Self {
        Self { plugins }
    }

    /// The config for `url`.
    pub fn select(&self, url: &str) -> Config {
        let Ok(parsed) = url::Url::parse(url) else {
            return Config::Default;
        };
        let host = parsed.host_str().unwrap_or_default();
        let path = parsed.path();
        let pick = |universal: bool| {
            self.plugins
                .iter()
                .filter(|p| p.rules().include.is_empty() == universal)
                .filter(|p| universal || p.rules().include.iter().any(|i| matches(i, host, None)))
                .filter(|p| {
                    !p.rules()
                        .exclude
                        .iter()
                        .any(|e| matches(e, host, Some(path)))
                })
                .fold(None::<&Arc<Plugin>>, |best, p| match best {
                    Some(b) if b.rules().priority >= p.rules().priority => Some(b),
                    _ => Some(p),
                })
        };
        match pick(false).or_else(|| pick(true)) {
            Some(plugin) => Config::Guest(plugin.clone()),
            None => Config::Default,
        }
    }
}

/// Whether `pattern` matches `host` (domain or subdomain) and, when `path` is given and the
/// pattern has a path, whether the path starts with it.
pub fn matches(pattern: &str, host: &str, path: Option<&str>) -> bool {
    let pattern = pattern
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let end = pattern.find(['/', '?', '#', ':']).unwrap_or(pattern.len());
    let domain = pattern[..end].to_ascii_lowercase();
    if domain.is_empty() {
        return false;
    }
    let host_ok = host == domain
        || host
            .strip_suffix(domain.as_str())
            .is_some_and(|rest| rest.ends_with('.'));
    let prefix = pattern[end..].split(['?', '#']).next().unwrap_or_default();
    let path_ok = match path {
        Some(path) if prefix.starts_with('/') => path.starts_with(prefix),
        _ => true,
    };
    host_ok && path_ok
}

/// The config serving a request.
#[derive(Clone)]
pub enum Config {
    /// The built-in default.
    Default,
    /// A loaded guest.
    Guest(Arc<Plugin>),
}

impl Config {
    /// Its name.
    pub fn name(&self) -> &str {
        match self {
            Config::Default => DEFAULT_NAME,
            Config::Guest(p) => p.name(),
        }
    }

    /// The `enabled` hook.
    pub async fn enabled(&self, env: CallEnv, r: &Request) -> Result<bool, HookError> {
        match self {
            Config::Default => Ok(env.defaults.enabled(r)),
            Config::Guest(p) => p.enabled(env, r).await,
        }
    }

    /// The `cookie-mode` hook.
    pub async fn cookie_mode(&self, env: CallEnv, r: &Request) -> Result<bool, HookError> {
        match self {
            Config::Default => Ok(env.defaults.cookie_mode(r)),
            Config::Guest(p) => p.cookie_mode(env, r).await,
        }
    }

    /// The `pool` hook.
    pub async fn pool(&self, env: CallEnv, r: &Request) -> Result<PoolSpec, HookError> {
        match self {
            Config::Default => env
                .defaults
                .pool(r)
                .map_err(|m| default_error(Hook::Pool, m)),
            Config::Guest(p) => p.pool(env, r).await,
        }
    }

    /// The `process-request` hook.
    pub async fn process_request(
        &self,
        env: CallEnv,
        r: &Request,
    ) -> Result<Option<ProcessedRequest>, HookError> {
        match self {
            Config::Default => Ok(None),
            Config::Guest(p) => p.process_request(env, r).await,
        }
    }

    /// The `check` hook.
    pub async fn check(
        &self,
        env: CallEnv,
        response: &Response,
        r: &Request,
    ) -> Result<Verdict, HookError> {
        match self {
            Config::Default => {
                let location = env.defaults.location(r);
                Ok(env.defaults.check(response, r, &location))
            }
            Config::Guest(p) => p.check(env, response, r).await,
        }
    }

    /// The `init-session` hook; `env.downloader` must be set.
    pub async fn init_session(
        &self,
        env: CallEnv,
        session_id: &str,
        r: &Request,
    ) -> Result<Result<bool, InitError>, HookError> {
        match self {
            Config::Default => Ok(default_init(&env, session_id, r).await),
            Config::Guest(p) => p.init_session(env, session_id, r).await,
        }
    }
}

/// The reference's default `init_session` (5.7): params by precedence, one download, the
/// default check of the init response.
async fn default_init(env: &CallEnv, session_id: &str, r: &Request) -> Result<bool, InitError> {
    let defaults: &DefaultConfig = &env.defaults;
    let params = defaults
        .preset_init_params(r)
        .unwrap_or_else(|| defaults.params(&defaults.location(r)));
    let init = defaults
        .init_request(session_id, r, &params, env.cookie_mode)
        .map_err(InitError::ParamError)?;
    let Some(downloader) = env.downloader.as_ref() else {
        return Err(InitError::Failed("no downloader".into()));
    };
    let response = Downloader::download(downloader.as_ref(), init.clone())
        .await
        .map_err(InitError::Download)?;
    match defaults.check(&response, &init, &defaults.location(&init)) {
        Verdict::Keep => Ok(true),
        Verdict::Discard => Ok(false),
        Verdict::ClosePool(reason) => Err(InitError::ClosePool(reason)),
    }
}

fn default_error(hook: Hook, message: String) -> HookError {
    HookError {
        config: DEFAULT_NAME.into(),
        hook,
        kind: HookErrorKind::Guest(message),
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn include_patterns_match_domains_and_subdomains() {
        assert!(matches("example.com", "example.com", None));
        assert!(matches("example.com", "shop.example.com", None));
        assert!(matches("example.com/products", "www.example.com", None));
        assert!(matches("https://Example.com:443", "example.com", None));
        assert!(!matches("example.com", "myexample.com", None));
        assert!(!matches("", "example.com", None));
    }

    #[test]
    fn exclude_patterns_honour_a_path_prefix() {
        assert!(matches(
            "example.com/private",
            "example.com",
            Some("/private/x")
        ));
        assert!(!matches(
            "example.com/private",
            "example.com",
            Some("/public")
        ));
        assert!(matches("example.com", "example.com", Some("/public")));
    }
}
