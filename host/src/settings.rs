//! Session settings: the `[sessions]` table of `session-host.toml`.
//!
//! Each key mirrors a `ZYTE_API_SESSION_*` setting of scrapy-zyte-api 0.36.0 (reference
//! section 2), in snake_case without the prefix, with the same default. Unknown keys and wrong
//! types are errors that name the key; the TOML parser reports them with their line.
//!
//! ```
//! use session_host::settings::SessionSettings;
//! let s = SessionSettings::from_toml_str("enabled = true\npool_size = 4").unwrap();
//! assert!(s.enabled);
//! assert_eq!(s.pool_size, 4);
//! assert_eq!(s.max_bad_inits, 8);
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

/// A postal address (the four fields Zyte API's `setLocation` takes), in its JSON spelling.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Location {
    /// ISO 3166-1 alpha-2 country code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_country: Option<String>,
    /// Website-specific region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_region: Option<String>,
    /// Postal code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// Street address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
}

impl Location {
    /// Whether no field is set: "no location" in the reference's truthiness tests.
    pub fn is_empty(&self) -> bool {
        self.fields().iter().all(|f| f.is_none())
    }

    /// The four fields in the reference's fixed order (`ADDRESS_FIELDS`).
    pub fn fields(&self) -> [&Option<String>; 4] {
        [
            &self.address_country,
            &self.address_region,
            &self.postal_code,
            &self.street_address,
        ]
    }
}

/// Options of one pool; a field left out falls back to the global setting.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolOptions {
    /// Number of sessions.
    pub size: Option<u32>,
    /// Minimum seconds between uses of one session.
    pub delay: Option<f64>,
    /// Whether each delay is multiplied by a random factor in [0.5, 1.5).
    pub randomize_delay: Option<bool>,
}

/// The four built-in retry policies (docs/reference.md §5.19), by their names in settings and
/// requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RetryPolicyName {
    /// python-zyte-api's default policy: retries 520/521 itself.
    Default,
    /// python-zyte-api's aggressive policy.
    Aggressive,
    /// The default policy, but 520/521 are never retried: the session layer swaps the session.
    #[default]
    SessionDefault,
    /// The aggressive policy, but 520/521 are never retried.
    SessionAggressive,
}

impl RetryPolicyName {
    /// Every built-in policy.
    pub const ALL: [RetryPolicyName; 4] = [
        Self::Default,
        Self::Aggressive,
        Self::SessionDefault,
        Self::SessionAggressive,
    ];

    /// Its name in settings and requests.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Aggressive => "aggressive",
            Self::SessionDefault => "session-default",
            Self::SessionAggressive => "session-aggressive",
        }
    }

    /// The built-in policy called `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// The policy for requests without sessions that corresponds to this one (the reference's
    /// `ZYTE_API_RETRY_POLICY` beside `ZYTE_API_SESSION_RETRY_POLICY`): `session-default` →
    /// `default`, `session-aggressive` → `aggressive`.
    pub fn without_sessions(self) -> Self {
        match self {
            Self::SessionDefault | Self::Default => Self::Default,
            Self::SessionAggressive | Self::Aggressive => Self::Aggressive,
        }
    }
}

/// Longest `request_timeout` accepted: one day. A longer deadline would keep a request and its
/// session lease for longer than any Zyte API session lives.
pub const MAX_REQUEST_TIMEOUT_SECS: f64 = 86_400.0;

/// Parses `request_timeout`: a number of seconds, more than 0 and at most
/// [`MAX_REQUEST_TIMEOUT_SECS`] (issue 12: 0, a negative, NaN or a huge value is an error that
/// names the field, not a request that never times out or times out at once).
fn request_timeout<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let value = f64::deserialize(d)?;
    if value > 0.0 && value <= MAX_REQUEST_TIMEOUT_SECS {
        return Ok(value);
    }
    Err(serde::de::Error::custom(format!(
        "`request_timeout` must be more than 0 and at most {MAX_REQUEST_TIMEOUT_SECS} seconds (one day), got {value}"
    )))
}

/// The `[sessions]` settings. Defaults are the reference's.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionSettings {
    /// `ZYTE_API_SESSION_ENABLED`: whether requests use sessions unless they say otherwise.
    pub enabled: bool,
    /// `ZYTE_API_SESSION_COOKIE_MODE`.
    pub cookie_mode: bool,
    /// `ZYTE_API_SESSION_PARAMS`: init parameters for every pool (see docs/reference.md §4.1).
    pub params: Map<String, Value>,
    /// `ZYTE_API_SESSION_LOCATION`: the default location.
    pub location: Location,
    /// `ZYTE_API_SESSION_INIT_ACTION_FAILURE_INVALIDATES_SESSION`.
    pub init_action_failure_invalidates_session: bool,
    /// `ZYTE_API_SESSION_POOL_SIZE`.
    pub pool_size: u32,
    /// `ZYTE_API_SESSION_POOLS`: per-pool options, the highest precedence.
    pub pools: BTreeMap<String, PoolOptions>,
    /// `ZYTE_API_SESSION_POOL_SIZES`, deprecated: per-pool sizes, merged into [`Self::pools`]
    /// where a pool there sets no `size` (the reference's `setdefault`), with the reference's
    /// deprecation warning ([`Self::with_deprecated_merged`]).
    pub pool_sizes: BTreeMap<String, u32>,
    /// `ZYTE_API_SESSION_DELAY`, in seconds.
    pub delay: f64,
    /// `ZYTE_API_SESSION_RANDOMIZE_DELAY`.
    pub randomize_delay: bool,
    /// `ZYTE_API_SESSION_MAX_BAD_INITS`: consecutive failed inits that close a pool.
    pub max_bad_inits: u32,
    /// `ZYTE_API_SESSION_MAX_BAD_INITS_PER_POOL`.
    pub max_bad_inits_per_pool: BTreeMap<String, u32>,
    /// `ZYTE_API_SESSION_MAX_CHECK_FAILURES`.
    pub max_check_failures: u32,
    /// `ZYTE_API_SESSION_MAX_ERRORS`: 520/521 answers tolerated per session.
    pub max_errors: u32,
    /// `ZYTE_API_SESSION_QUEUE_MAX_ATTEMPTS`.
    pub queue_max_attempts: u32,
    /// `ZYTE_API_SESSION_QUEUE_WAIT_TIME`, in seconds.
    pub queue_wait_time: f64,
    /// `ZYTE_API_SESSION_CREATION_RETRY_DELAY`, in seconds.
    pub creation_retry_delay: f64,
    /// `ZYTE_API_SESSION_RETRY_POLICY`: the retry policy of every request that names none
    /// (`sessionManagement.retryPolicy`), by name: one of [`RetryPolicyName`]'s
    /// (`session-default` by default) or of [`Self::retry_policies`]. Requests without sessions
    /// use a built-in session policy's counterpart ([`RetryPolicyName::without_sessions`]) and
    /// a custom policy as it is.
    pub retry_policy: String,
    /// Not in the reference, whose policies are Python objects: custom retry policies by name
    /// (`[sessions.retry_policies.NAME]`), for `retry_policy` and for requests to choose. A name
    /// may not be a built-in one's.
    pub retry_policies: BTreeMap<String, crate::zyte::RetryPolicy>,
    /// `ZYTE_API_SESSION_STATS_PER_POOL`.
    pub stats_per_pool: bool,
    /// Scrapy's `RETRY_TIMES`: how many times a request is retried with another session after a
    /// failed check, an expired session or a 520/521 (so at most `retry_times + 1` attempts).
    pub retry_times: u32,
    /// Not in the reference: requests one session may serve at once. Default 4; 0 means no
    /// limit, the reference's behaviour.
    pub max_session_concurrency: u32,
    /// Not in the reference: a session is retired proactively when its next possible use comes
    /// this many seconds or less before Zyte API's 15-minute lifetime ends (default 0: only a
    /// session that cannot be used again within its lifetime). Negative or ≥ 900 disables it,
    /// the reference's behaviour.
    pub retire_before_lifetime: f64,
    /// Not in the reference: the same for Zyte API's 2-minute idle limit, for sessions no
    /// request is using (default 0). Negative or ≥ 120 disables it, the reference's behaviour.
    pub retire_before_idle: f64,
    /// Not in the reference: the back-off after a failed init, in seconds, doubled for each
    /// consecutive failure of the pool and capped at 60 s (default 1; 0 disables it, the
    /// reference's behaviour).
    pub init_failure_backoff: f64,
    /// Not in the reference's defaults: whether a pool id keeps a default port spelled out in
    /// the URL (`https://example.com:443/` → `example.com:443`), as the reference does. Default
    /// false: the port is dropped, so one site is one pool.
    pub keep_default_port: bool,
    /// Not in the reference (issue 12): seconds within which every request is answered, with
    /// a response or a `timeout` problem (default 600, as the gateway's). Also bounds each
    /// background session replacement. The gateway's and `run`'s `--request-timeout-secs`
    /// override it for their requests. More than 0 and at most one day
    /// ([`MAX_REQUEST_TIMEOUT_SECS`]); anything else is an error naming the field.
    #[serde(deserialize_with = "request_timeout")]
    pub request_timeout: f64,
    /// Not in the reference (issue 13): the largest pool `size`. A request naming its own pool
    /// with a larger `size` gets a 400 `bad-request` problem naming this setting; a larger size
    /// from a config, `pools` or `pool_size` is clamped to it, with a warning. Default 1,000:
    /// each session costs an init and counts against Zyte API's active-session limit.
    pub max_pool_size: u32,
    /// Not in the reference (issue 13): the most pools kept at once, of every kind. A new pool
    /// past it evicts the least recently used evictable pool ([`Self::pool_idle_timeout`]),
    /// else the request gets a 429 `too-many-pools` problem naming this setting. Default 10,000.
    pub max_pools: usize,
    /// Not in the reference (issue 13): the most pools named by requests at once
    /// (`sessionManagement.pool`, the `zyte_api_session_pool` control), with eviction as for
    /// [`Self::max_pools`]. Default 1,000.
    pub max_client_pools: usize,
    /// Not in the reference (issue 13): the most params pools (`netloc[n]`, from the params
    /// control) at once, and the most param sets the built-in default remembers. Default 1,000.
    pub max_param_pools: usize,
    /// Not in the reference (issue 13): the most location pools (`netloc@fields`) at once.
    /// Default 1,000.
    pub max_location_pools: usize,
    /// Not in the reference (issue 13): seconds after its last request that a pool no request
    /// is using becomes evictable: it is dropped, with its sessions, when a new pool needs its
    /// place, and at most two such pools are swept at each new pool. Default 900 (Zyte API's
    /// session lifetime: by then none of its sessions is usable anyway). Pools of `pools` with
    /// a `size` are never evicted.
    pub pool_idle_timeout: f64,
    /// Not in the reference (issue 13): the prefix of the id of a pool a request names, so that a
    /// request can never use, or set the options of, a site's or a config's pool (`{"id":
    /// "shop.example"}` is the pool `client/shop.example`). Default `client/`; `""` restores
    /// the reference, where a request's pool id and options are taken as they are (any client
    /// can then resize or close a site's pool: do not use it on a shared gateway).
    pub client_pool_prefix: String,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            cookie_mode: false,
            params: Map::new(),
            location: Location::default(),
            init_action_failure_invalidates_session: true,
            pool_size: 8,
            pools: BTreeMap::new(),
            pool_sizes: BTreeMap::new(),
            delay: 0.0,
            randomize_delay: true,
            max_bad_inits: 8,
            max_bad_inits_per_pool: BTreeMap::new(),
            max_check_failures: 1,
            max_errors: 1,
            queue_max_attempts: 60,
            queue_wait_time: 1.0,
            creation_retry_delay: 60.0,
            retry_policy: RetryPolicyName::SessionDefault.as_str().into(),
            retry_policies: BTreeMap::new(),
            stats_per_pool: false,
            retry_times: 2,
            max_session_concurrency: 4,
            retire_before_lifetime: 0.0,
            retire_before_idle: 0.0,
            init_failure_backoff: 1.0,
            keep_default_port: false,
            request_timeout: 600.0,
            max_pool_size: 1_000,
            max_pools: 10_000,
            max_client_pools: 1_000,
            max_param_pools: 1_000,
            max_location_pools: 1_000,
            pool_idle_timeout: 900.0,
            client_pool_prefix: "client/".into(),
        }
    }
}

/// A settings file that could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// Not valid TOML, an unknown key or a wrong type or value; the message names the key.
    #[error("invalid session settings: {0}")]
    Toml(#[from] toml::de::Error),
    /// Keys that are valid alone but not together.
    #[error("invalid session settings: `{field}` {problem}")]
    Invalid {
        /// The key, e.g. `[sessions] retry_policy`.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// An unknown retry policy name: what it may be instead.
pub fn unknown_retry_policy(
    name: &str,
    custom: &BTreeMap<String, crate::zyte::RetryPolicy>,
) -> String {
    let names: Vec<&str> = (RetryPolicyName::ALL.iter().map(|p| p.as_str()))
        .chain(custom.keys().map(String::as_str))
        .collect();
    format!(
        "names no retry policy: {name:?}; expected one of: {}",
        names.join(", ")
    )
}

/// The reference's warning for the deprecated `pool_sizes` (`ZYTE_API_SESSION_POOL_SIZES`).
pub const POOL_SIZES_DEPRECATED: &str = "pool_sizes (ZYTE_API_SESSION_POOL_SIZES) is deprecated, use pools (ZYTE_API_SESSION_POOLS) instead";

impl SessionSettings {
    /// Parses the body of a `[sessions]` table.
    pub fn from_toml_str(text: &str) -> Result<Self, SettingsError> {
        let settings: Self = toml::from_str(text)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks what the parser cannot: `retry_policy` names a policy, and no custom policy
    /// takes a built-in name.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if let Some(name) =
            (self.retry_policies.keys()).find(|n| RetryPolicyName::parse(n).is_some())
        {
            return Err(SettingsError::Invalid {
                field: format!("[sessions.retry_policies.{name}]"),
                problem: "takes the name of a built-in policy; choose another name".into(),
            });
        }
        if self.retry_policy(&self.retry_policy).is_none() {
            return Err(SettingsError::Invalid {
                field: "[sessions] retry_policy".into(),
                problem: unknown_retry_policy(&self.retry_policy, &self.retry_policies),
            });
        }
        Ok(())
    }

    /// The retry policy called `name`, built-in or custom, for requests with sessions, and for
    /// those without.
    pub fn retry_policy(&self, name: &str) -> Option<RetryPolicies> {
        if let Some(builtin) = RetryPolicyName::parse(name) {
            return Some(RetryPolicies {
                with_sessions: builtin.into(),
                without_sessions: builtin.without_sessions().into(),
            });
        }
        let custom = *self.retry_policies.get(name)?;
        Some(RetryPolicies {
            with_sessions: custom,
            without_sessions: custom,
        })
    }

    /// These settings with the deprecated `pool_sizes` moved into `pools` (a pool's own `size`
    /// wins), warning once if it was set, as the reference does at start-up.
    pub fn with_deprecated_merged(mut self) -> Self {
        if self.pool_sizes.is_empty() {
            return self;
        }
        tracing::warn!("{POOL_SIZES_DEPRECATED}");
        for (id, size) in std::mem::take(&mut self.pool_sizes) {
            let options = self.pools.entry(id).or_default();
            options.size.get_or_insert(size);
        }
        self
    }
}

/// A retry policy as requests with and without sessions apply it ([`SessionSettings::retry_policy`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicies {
    /// For requests with sessions.
    pub with_sessions: crate::zyte::RetryPolicy,
    /// For requests without sessions.
    pub without_sessions: crate::zyte::RetryPolicy,
}

/// The `[upstream]` table: where and how Zyte API is reached.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamSettings {
    /// The Zyte API base URL (default `https://api.zyte.com/v1/`); `ZYTE_API_URL` overrides it.
    pub url: String,
    /// Timeout of one attempt, in seconds (default 320, like python-zyte-api).
    pub timeout_secs: f64,
    /// Multiplier of every retry wait (default 1; 0 in tests).
    pub wait_scale: f64,
    /// Idle connections kept per host (default 64).
    pub max_idle_connections: usize,
}

/// The environment variable that overrides [`UpstreamSettings::url`].
pub const URL_ENV: &str = "ZYTE_API_URL";

impl Default for UpstreamSettings {
    fn default() -> Self {
        Self {
            url: "https://api.zyte.com/v1/".into(),
            timeout_secs: 320.0,
            wait_scale: 1.0,
            max_idle_connections: 64,
        }
    }
}

impl UpstreamSettings {
    /// `ZYTE_API_URL` when set and not empty, else [`Self::url`].
    pub fn effective_url(&self) -> String {
        std::env::var(URL_ENV)
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| self.url.clone())
    }
}

/// The whole `session-host.toml`: `[sessions]`, `[plugins]` and `[upstream]`, each optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HostSettings {
    /// Session management.
    pub sessions: SessionSettings,
    /// Guest limits.
    pub plugins: crate::plugin::Limits,
    /// Zyte API.
    pub upstream: UpstreamSettings,
    /// Where pool state lives (`[store]`).
    pub store: StoreSettings,
}

/// `[store]`: where pool state lives. Without `url`, in this host's memory.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    /// `redis://[:password@]HOST:PORT/DB`: pools shared by every host on that Redis (issue
    /// 16). The password never reaches a log line or a message.
    pub url: Option<String>,
    /// Hosts share a pool only within one namespace: give hosts running different configs
    /// (a rollout) different ones (default empty).
    pub namespace: String,
    /// Seconds a session lease lasts unless renewed (default 30): a host killed with -9 frees
    /// its sessions within it.
    pub lease_ttl: f64,
    /// Seconds every Redis key of a pool, and of each of its sessions, lives past its last use
    /// (default 3,600), so that the keys of a pool no host uses any more vanish, counters
    /// included; a session unused that long is forgotten (Zyte API expired it long before). The
    /// pool bounds of `[sessions]` (`max_pools`, `max_client_pools`…) hold across the hosts
    /// of a namespace besides (issue 16).
    pub pool_ttl: f64,
    /// What a request gets while Redis does not answer (default `closed`).
    pub on_failure: OnFailure,
}

impl StoreSettings {
    /// Checks the durations: each a positive number of seconds.
    ///
    /// # Errors
    /// [`SettingsError::Invalid`] naming the field.
    pub fn validate(&self) -> Result<(), SettingsError> {
        for (field, value) in [("lease_ttl", self.lease_ttl), ("pool_ttl", self.pool_ttl)] {
            let ok = Duration::try_from_secs_f64(value).is_ok_and(|d| !d.is_zero());
            if !ok {
                return Err(SettingsError::Invalid {
                    field: format!("[store] {field}"),
                    problem: format!("must be a positive number of seconds, got {value}"),
                });
            }
        }
        Ok(())
    }
}

/// `[store] on_failure`: the policy while Redis does not answer (issue 16).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    /// Fail closed: every request of a shared pool is a 503 `store-unavailable` problem until
    /// Redis answers again; pool bounds and delays never break.
    #[default]
    Closed,
    /// Serve from this host's own in-memory pools until Redis answers again, then go back to
    /// the shared ones: requests go on, but each host may create up to `size` sessions of its
    /// own meanwhile, and the per-session delay holds per host only.
    Local,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            url: None,
            namespace: String::new(),
            lease_ttl: 30.0,
            pool_ttl: 3600.0,
            on_failure: OnFailure::Closed,
        }
    }
}

impl HostSettings {
    /// Parses a whole settings file.
    pub fn from_toml_str(text: &str) -> Result<Self, SettingsError> {
        let settings: Self = toml::from_str(text)?;
        settings.sessions.validate()?;
        settings.store.validate()?;
        Ok(settings)
    }

    /// Reads and parses the settings file at `path`.
    pub fn load(path: &std::path::Path) -> Result<Self, SettingsFileError> {
        let text = std::fs::read_to_string(path).map_err(|e| SettingsFileError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::from_toml_str(&text).map_err(|e| SettingsFileError::Parse {
            path: path.display().to_string(),
            source: e,
        })
    }
}

/// A settings file that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SettingsFileError {
    /// The file could not be read.
    #[error("cannot read {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// The file is not valid settings.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong, naming the key.
        source: SettingsError,
    },
}

#[cfg(test)]
mod tests {
    #[test]
    fn host_settings_parse_every_table() {
        let s = HostSettings::from_toml_str(
            "[sessions]\nenabled = true\n[plugins]\nhook_cpu_ms = 7\n[upstream]\nurl = \"http://x/v1/\"\nwait_scale = 0.0",
        )
        .unwrap();
        assert!(s.sessions.enabled);
        assert_eq!(s.plugins.hook_cpu_ms, 7);
        assert_eq!(
            (s.upstream.url.as_str(), s.upstream.wait_scale),
            ("http://x/v1/", 0.0)
        );
        assert_eq!(
            HostSettings::from_toml_str("").unwrap(),
            HostSettings::default()
        );
    }

    #[test]
    fn issue_16_store_pool_ttl_parses_and_a_bad_one_is_named() {
        let s = HostSettings::from_toml_str("[store]\npool_ttl = 60.5").unwrap();
        assert_eq!(s.store.pool_ttl, 60.5);
        assert_eq!(HostSettings::default().store.pool_ttl, 3600.0);
        for bad in ["0", "-1", "1e300", "nan"] {
            let text = format!("[store]\npool_ttl = {bad}");
            let err = HostSettings::from_toml_str(&text).unwrap_err().to_string();
            assert!(err.contains("[store] pool_ttl"), "{bad}: {err}");
        }
        let err = HostSettings::from_toml_str("[store]\npool_ttl = \"1h\"").unwrap_err();
        assert!(err.to_string().contains("pool_ttl"), "{err}");
        let err = HostSettings::from_toml_str("[store]\nlease_ttl = 0").unwrap_err();
        assert!(err.to_string().contains("[store] lease_ttl"), "{err}");
    }

    #[test]
    fn host_settings_name_bad_keys() {
        for (text, key) in [
            ("[upstream]\nurll = \"x\"", "urll"),
            ("[upstream]\ntimeout_secs = \"x\"", "timeout_secs"),
            ("[plugins]\nhook_cpu_ms = -1", "hook_cpu_ms"),
            ("[sessionz]", "sessionz"),
            ("[sessions]\nretry_times = true", "retry_times"),
        ] {
            let err = HostSettings::from_toml_str(text).unwrap_err().to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
    }

    use super::*;

    #[test]
    fn defaults_match_the_reference() {
        let s = SessionSettings::default();
        assert_eq!(
            (s.pool_size, s.max_bad_inits, s.queue_max_attempts),
            (8, 8, 60)
        );
        assert_eq!((s.max_check_failures, s.max_errors), (1, 1));
        assert_eq!(s.creation_retry_delay, 60.0);
        assert!(s.init_action_failure_invalidates_session && s.randomize_delay);
    }

    #[test]
    fn issue_14_pool_sizes_merge_under_pools() {
        let s =
            SessionSettings::from_toml_str("pool_sizes = { a = 2, b = 3 }\n[pools.b]\nsize = 1")
                .unwrap()
                .with_deprecated_merged();
        assert!(s.pool_sizes.is_empty());
        assert_eq!((s.pools["a"].size, s.pools["b"].size), (Some(2), Some(1)));
    }

    #[test]
    fn issue_12_request_timeout_must_be_positive_and_at_most_a_day() {
        for bad in ["0", "0.0", "-1", "1e9", "86401", "nan", "inf"] {
            let text = format!("[sessions]\nrequest_timeout = {bad}\n");
            let err = HostSettings::from_toml_str(&text).unwrap_err().to_string();
            assert!(err.contains("request_timeout"), "{bad}: {err}");
            assert!(err.contains("at most 86400"), "{bad}: {err}");
            assert!(err.contains("line 2"), "{bad}: {err}");
        }
        for good in ["0.001", "600", "86400"] {
            let text = format!("request_timeout = {good}\n");
            assert!(SessionSettings::from_toml_str(&text).is_ok(), "{good}");
        }
    }

    #[test]
    fn issue_12_a_bad_request_timeout_names_the_file_and_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("session-host.toml");
        std::fs::write(&path, "[sessions]\nrequest_timeout = -5\n").unwrap();
        let err = HostSettings::load(&path).unwrap_err().to_string();
        assert!(err.contains("session-host.toml"), "{err}");
        assert!(err.contains("request_timeout"), "{err}");
    }

    #[test]
    fn issue_14_custom_retry_policies_parse_and_resolve() {
        let s = SessionSettings::from_toml_str(
            "retry_policy = \"patient\"\n[retry_policies.patient]\ndownload_attempts = 6\n",
        )
        .unwrap();
        let patient = s.retry_policy("patient").unwrap();
        assert_eq!(patient.with_sessions.download_attempts, 6);
        assert_eq!(patient.with_sessions.undocumented_attempts, 2, "default's");
        assert_eq!(patient.without_sessions, patient.with_sessions);
        let builtin = s.retry_policy("session-aggressive").unwrap();
        assert_eq!(
            builtin.with_sessions,
            crate::zyte::RetryPolicy::SESSION_AGGRESSIVE
        );
        assert_eq!(
            builtin.without_sessions,
            crate::zyte::RetryPolicy::AGGRESSIVE
        );
        assert!(s.retry_policy("nope").is_none());
    }

    #[test]
    fn issue_14_bad_retry_policies_name_the_field() {
        for (text, field) in [
            ("retry_policy = \"nope\"", "retry_policy"),
            (
                "[retry_policies.default]\nx402_attempts = 1",
                "retry_policies.default",
            ),
            (
                "[retry_policies.mine]\ndownload_attemps = 1",
                "download_attemps",
            ),
        ] {
            let err = SessionSettings::from_toml_str(text)
                .unwrap_err()
                .to_string();
            assert!(err.contains(field), "{text}: {err}");
        }
        let err = SessionSettings::from_toml_str("retry_policy = \"nope\"")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "expected one of: default, aggressive, session-default, session-aggressive"
            ),
            "{err}"
        );
    }

    #[test]
    fn unknown_key_is_named() {
        let err = SessionSettings::from_toml_str("pool_sise = 3").unwrap_err();
        assert!(err.to_string().contains("pool_sise"), "{err}");
    }

    #[test]
    fn wrong_type_is_named() {
        let err = SessionSettings::from_toml_str("pool_size = \"big\"").unwrap_err();
        assert!(err.to_string().contains("pool_size"), "{err}");
    }

    #[test]
    fn location_and_pools_parse() {
        let s = SessionSettings::from_toml_str(
            "location = { postalCode = \"10001\" }\n[pools.\"example.com\"]\nsize = 2",
        )
        .unwrap();
        assert_eq!(s.location.postal_code.as_deref(), Some("10001"));
        assert_eq!(s.pools["example.com"].size, Some(2));
    }
}
