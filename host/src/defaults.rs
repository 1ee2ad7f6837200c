//! The built-in default session config: scrapy-zyte-api's `SessionConfig` (docs/reference.md §6).
//!
//! Guests reach these through the WIT `defaults` interface, exactly like `super()` in Python,
//! and a URL that no loaded config claims is served by them alone. They follow the reference's
//! precedence (section 4) and algorithms (5.2, 5.7, 5.8) including its quirks, except where noted:
//!
//! - A default never calls a guest hook (the component model forbids re-entering a running
//!   guest). Where the reference's default calls an overridable method, the guest passes that
//!   method's result in (`location` to [`DefaultConfig::params`] and [`DefaultConfig::check`]),
//!   and the cookie mode of an init request is the one the engine decided for the triggering
//!   request ([`DefaultConfig::init_request`]).
//! - Netlocs come from the `url` crate's WHATWG parsing: the host is lower-cased and punycoded
//!   like Scrapy's, but a default port (`:443` on https) is dropped where Scrapy would keep it.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::{Map, Value, json};

use crate::engine::{ConfigHooks, DEFAULT_NAME, HookFuture};
use crate::plugin::{
    Address, CallEnv, Defaults, Hook, HookError, HookErrorKind, InitError, PoolSpec,
    ProcessedRequest, Request, Response, SessionControls, UrlRules, Verdict,
};
use crate::settings::{Location, SessionSettings};
use crate::wire;

/// The prefix of the action error Zyte API returns where `setLocation` is not supported.
pub const UNSUPPORTED_SET_LOCATION: &str = "Action setLocation not supported ";

/// The close reason for an unsupported `setLocation` (docs/reference.md §9).
pub const UNSUPPORTED_SET_LOCATION_REASON: &str = "unsupported_set_location";

/// The reference's default priority of a rule.
pub const DEFAULT_PRIORITY: i32 = 500;

/// The default `SessionConfig`, bound to the host's session settings.
///
/// Cheap to clone; clones share the `[n]` pool-index registry.
#[derive(Debug, Clone, Default)]
pub struct DefaultConfig {
    settings: Arc<SessionSettings>,
    param_pools: Arc<Mutex<ParamPools>>,
}

impl DefaultConfig {
    /// Defaults that read `settings`.
    pub fn new(settings: Arc<SessionSettings>) -> Self {
        let cap = settings.max_param_pools.saturating_mul(2);
        Self {
            settings,
            param_pools: Arc::new(Mutex::new(ParamPools::with_capacity(cap))),
        }
    }

    /// The settings these defaults read.
    pub fn settings(&self) -> &SessionSettings {
        &self.settings
    }

    /// The index of a param set within its netloc, assigned at first sight.
    fn param_pool_index(&self, netloc: &str, params: &Map<String, Value>) -> usize {
        let key = canonical_json(&Value::Object(params.clone()));
        let (index, new) = self.param_pools.lock().index(netloc, &key);
        if new {
            // Not at info as the reference does: a client's params may hold anything (issue 13).
            let params = wire::truncated(&key);
            tracing::debug!(
                "Session pool {netloc}[{index}] uses these session initialization parameters: {params}"
            );
        }
        index
    }
}

/// The `[n]` indices of param sets per netloc (docs/reference.md §5.2), bounded (issue 13).
///
/// # Policy
///
/// - A param set is kept as a 64-bit keyed hash (SipHash with a per-process random key) of its
///   canonical JSON, never as its text; a collision (about 10^-13 for 2,000 sets) would share
///   a pool.
/// - At most twice `max_param_pools` sets are remembered, the least recently used forgotten
///   first; the engine bounds the live params pools to `max_param_pools`, so a forgotten set's
///   pool has been evicted (unless it was in use all along). A forgotten set seen again gets a
///   new index; indices of a netloc are never reused while it has a remembered set.
#[derive(Debug)]
struct ParamPools {
    hasher: std::hash::RandomState,
    netlocs: HashMap<String, NetlocSets>,
    order: std::collections::BTreeMap<u64, (String, u64)>,
    tick: u64,
    cap: usize,
}

#[derive(Debug, Default)]
struct NetlocSets {
    next: usize,
    /// Hash → (index, last use).
    sets: HashMap<u64, (usize, u64)>,
}

impl Default for ParamPools {
    fn default() -> Self {
        Self::with_capacity(SessionSettings::default().max_param_pools * 2)
    }
}

impl ParamPools {
    fn with_capacity(cap: usize) -> Self {
        Self {
            hasher: std::hash::RandomState::new(),
            netlocs: HashMap::new(),
            order: std::collections::BTreeMap::new(),
            tick: 0,
            cap,
        }
    }

    /// The index of `key` in `netloc`, and whether it is new.
    fn index(&mut self, netloc: &str, key: &str) -> (usize, bool) {
        use std::hash::BuildHasher;
        let hash = self.hasher.hash_one(key);
        self.tick += 1;
        let tick = self.tick;
        if let Some((index, used)) = self
            .netlocs
            .get_mut(netloc)
            .and_then(|n| n.sets.get_mut(&hash))
        {
            self.order.remove(used);
            *used = tick;
            let index = *index;
            self.order.insert(tick, (netloc.to_owned(), hash));
            return (index, false);
        }
        while self.order.len() >= self.cap.max(1) {
            self.forget_oldest();
        }
        let sets = self.netlocs.entry(netloc.to_owned()).or_default();
        let index = sets.next;
        sets.next += 1;
        sets.sets.insert(hash, (index, tick));
        self.order.insert(tick, (netloc.to_owned(), hash));
        (index, true)
    }

    fn forget_oldest(&mut self) {
        let Some((_, (netloc, hash))) = self.order.pop_first() else {
            return;
        };
        if let Some(sets) = self.netlocs.get_mut(&netloc) {
            sets.sets.remove(&hash);
            if sets.sets.is_empty() {
                self.netlocs.remove(&netloc);
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.order.len()
    }
}

/// The WIT `defaults` import, and the built-in default config serving URLs no guest claims.
impl Defaults for DefaultConfig {
    /// A universal rule with the reference's default priority.
    fn rules(&self) -> UrlRules {
        UrlRules {
            include: Vec::new(),
            exclude: Vec::new(),
            priority: DEFAULT_PRIORITY,
            instead_of: None,
        }
    }

    /// The request's `enabled` control, else the setting (docs/reference.md §4.4).
    fn enabled(&self, request: &Request) -> bool {
        request.controls.enabled.unwrap_or(self.settings.enabled)
    }

    /// The request's `cookie-mode` control, else the setting (docs/reference.md §4.4).
    fn cookie_mode(&self, request: &Request) -> bool {
        request
            .controls
            .cookie_mode
            .unwrap_or(self.settings.cookie_mode)
    }

    /// The request's location control when present (even if empty), else the setting.
    fn location(&self, request: &Request) -> Address {
        match &request.controls.location {
            Some(address) => address.clone(),
            None => address_of(&self.settings.location),
        }
    }

    /// Pool id derivation (docs/reference.md §5.2): pool control > params control (`netloc[n]`) >
    /// location control (`netloc@fields`) > netloc.
    ///
    /// Improves on the reference (issue 13): a pool the request names gets the id
    /// `client_pool_prefix` + its id (`client/shop.example`), so a request's options only ever
    /// apply to pools of requests, never to a site's or a config's pool.
    fn pool(&self, request: &Request) -> Result<PoolSpec, String> {
        let controls = &request.controls;
        if let Some(pool) = controls.pool.as_ref().filter(|p| !p.id.is_empty()) {
            let mut spec = pool.clone();
            spec.id = format!("{}{}", self.settings.client_pool_prefix, pool.id);
            return Ok(spec);
        }
        let mut netloc = netloc(&request.url)?;
        if self.settings.keep_default_port {
            netloc.push_str(&default_port_as_written(&request.url));
        }
        if let Some(params) = truthy_params(controls)? {
            return Ok(wire::pool_spec(format!(
                "{netloc}[{}]",
                self.param_pool_index(&netloc, &params)
            )));
        }
        if let Some(address) = controls.location.as_ref().filter(|a| !is_empty(a)) {
            let fields = present_fields(address).collect::<Vec<_>>().join(",");
            return Ok(wire::pool_spec(format!("{netloc}@{fields}")));
        }
        Ok(wire::pool_spec(netloc))
    }

    /// Default init parameters: `{"browserHtml": true}`, plus a `setLocation` action when
    /// `location` is not empty.
    fn params(&self, location: &Address) -> String {
        if is_empty(location) {
            return json!({"browserHtml": true}).to_string();
        }
        let address = serde_json::to_value(location_of(location)).unwrap_or_default();
        json!({"browserHtml": true, "actions": [{"action": "setLocation", "address": address}]})
            .to_string()
    }

    /// Init parameters that beat the config's `params` hook (docs/reference.md §4.1): the params
    /// control, else the `params` setting unless the request has a non-empty location control.
    fn preset_init_params(&self, request: &Request) -> Option<String> {
        let controls = &request.controls;
        if let Ok(Some(params)) = truthy_params(controls) {
            return Some(Value::Object(params).to_string());
        }
        let has_location = controls.location.as_ref().is_some_and(|a| !is_empty(a));
        (!has_location && !self.settings.params.is_empty())
            .then(|| Value::Object(self.settings.params.clone()).to_string())
    }

    /// Builds the init request for `session_id` from init `params` (docs/reference.md §5.7 steps
    /// 2–4).
    ///
    /// `cookie_mode` is the mode the engine decided for the triggering request. In cookie mode
    /// `responseCookies` is forced on and `session` is set to `null`, which tells the host's
    /// `download` not to add a Zyte API session.
    fn init_request(
        &self,
        session_id: &str,
        request: &Request,
        params: &str,
        cookie_mode: bool,
    ) -> Result<Request, String> {
        let mut params = wire::parse_object(params, "init params")?;
        let url = match params.remove("url") {
            None => request.url.clone(),
            Some(Value::String(url)) => url,
            Some(other) => {
                return Err(format!(
                    "init params `url` must be a string, got {}",
                    wire::json_kind(&other)
                ));
            }
        };
        if cookie_mode {
            if params
                .get("responseCookies")
                .is_some_and(|v| v != &Value::Bool(true))
            {
                tracing::error!(url = %request.url, "cookie session init params set responseCookies to a false value; forcing it to true");
            }
            params.insert("responseCookies".into(), Value::Bool(true));
            params.insert("session".into(), Value::Null);
        }
        let controls = SessionControls {
            params: request.controls.params.clone(),
            location: request.controls.location.clone(),
            ..wire::no_controls()
        };
        let mut init = wire::request_from_body(url, &params, controls);
        init.session_id = Some(session_id.to_owned());
        init.is_init = true;
        Ok(init)
    }

    /// The default check (docs/reference.md §5.8), given the location the config chose for
    /// `request`.
    ///
    /// Only the `actions` of the response are read: the parse skips every other field (the
    /// body, the HTML) without building it, and a body without the text `"actions"` (any HTTP
    /// response) is not parsed at all. A body that is not JSON has no actions.
    fn check(&self, response: &Response, request: &Request, location: &Address) -> Verdict {
        let actions = if response.body.contains("\"actions\"") {
            serde_json::from_str::<ActionsOnly>(&response.body)
                .map(|b| b.actions)
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let located = !is_empty(location);
        let set_location = actions
            .iter()
            .find(|a| a.action.as_deref() == Some("setLocation"))
            .filter(|_| located);
        if set_location.is_some_and(|a| {
            a.error
                .as_deref()
                .unwrap_or_default()
                .starts_with(UNSUPPORTED_SET_LOCATION)
        }) {
            tracing::error!(url = %request.url, "Stopping the pool: tried to use the setLocation action on an unsupported website");
            return Verdict::ClosePool(UNSUPPORTED_SET_LOCATION_REASON.into());
        }
        if self.settings.init_action_failure_invalidates_session
            && request.is_init
            && !actions.is_empty()
        {
            return verdict(
                !actions
                    .iter()
                    .any(|a| a.status.as_deref() == Some("returned")),
            );
        }
        match set_location {
            Some(action) => verdict(action.status.as_deref() == Some("success")),
            None => Verdict::Keep,
        }
    }
}

/// The built-in default config: serves a URL no loaded config claims, answering every hook
/// with the [`Defaults`] of the call's [`CallEnv`], like a guest that overrides nothing. Its
/// hooks never fail except `pool` on a URL without a host; `process-request` changes nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuiltIn;

impl ConfigHooks for BuiltIn {
    fn name(&self) -> &str {
        DEFAULT_NAME
    }
    fn enabled<'a>(&'a self, env: CallEnv, r: &'a Request) -> HookFuture<'a, bool> {
        Box::pin(std::future::ready(Ok(env.defaults.enabled(r))))
    }
    fn cookie_mode<'a>(&'a self, env: CallEnv, r: &'a Request) -> HookFuture<'a, bool> {
        Box::pin(std::future::ready(Ok(env.defaults.cookie_mode(r))))
    }
    fn pool<'a>(&'a self, env: CallEnv, r: &'a Request) -> HookFuture<'a, PoolSpec> {
        let pool = env.defaults.pool(r).map_err(|message| HookError {
            config: DEFAULT_NAME.into(),
            hook: Hook::Pool,
            kind: HookErrorKind::Guest(message),
        });
        Box::pin(std::future::ready(pool))
    }
    fn process_request<'a>(
        &'a self,
        _env: CallEnv,
        _r: &'a Request,
    ) -> HookFuture<'a, Option<ProcessedRequest>> {
        Box::pin(std::future::ready(Ok(None)))
    }
    fn check<'a>(
        &'a self,
        env: CallEnv,
        response: &'a Response,
        r: &'a Request,
    ) -> HookFuture<'a, Verdict> {
        let location = env.defaults.location(r);
        Box::pin(std::future::ready(Ok(env
            .defaults
            .check(response, r, &location))))
    }
    fn init_session<'a>(
        &'a self,
        env: CallEnv,
        session_id: &'a str,
        r: &'a Request,
    ) -> HookFuture<'a, Result<bool, InitError>> {
        Box::pin(async move { Ok(default_init(&env, session_id, r).await) })
    }
}

/// The reference's default `init_session` (5.7): params by precedence, one download, the
/// default check of the init response.
pub(crate) async fn default_init(
    env: &CallEnv,
    session_id: &str,
    r: &Request,
) -> Result<bool, InitError> {
    let defaults = env.defaults.as_ref();
    let params = defaults
        .preset_init_params(r)
        .unwrap_or_else(|| defaults.params(&defaults.location(r)));
    let init = defaults
        .init_request(session_id, r, &params, env.cookie_mode)
        .map_err(InitError::ParamError)?;
    let Some(downloader) = env.downloader.as_ref() else {
        return Err(InitError::Failed("no downloader".into()));
    };
    let response = downloader
        .download(init.clone())
        .await
        .map_err(InitError::Download)?;
    match defaults.check(&response, &init, &defaults.location(&init)) {
        Verdict::Keep => Ok(true),
        Verdict::Discard => Ok(false),
        Verdict::ClosePool(reason) => Err(InitError::ClosePool(reason)),
    }
}

/// The part of a Zyte API response the default check reads.
#[derive(serde::Deserialize)]
struct ActionsOnly {
    #[serde(default)]
    actions: Vec<ActionResult>,
}

/// One entry of a response's `actions`; fields of unexpected types make the parse fail, which
/// reads as "no actions".
#[derive(serde::Deserialize)]
struct ActionResult {
    action: Option<String>,
    status: Option<String>,
    error: Option<String>,
}

fn verdict(keep: bool) -> Verdict {
    if keep {
        Verdict::Keep
    } else {
        Verdict::Discard
    }
}

/// The request's params control, when it is a non-empty object.
fn truthy_params(controls: &SessionControls) -> Result<Option<Map<String, Value>>, String> {
    match &controls.params {
        None => Ok(None),
        Some(text) => {
            Ok(Some(wire::parse_object(text, "the params control")?).filter(|m| !m.is_empty()))
        }
    }
}

/// The URL's netloc for pool ids: `host[:port]`.
///
/// Improves on the reference, whose netloc keeps `userinfo@` (docs/reference.md §5.2): credentials
/// in a URL would become a pool id, and so reach `/status`, `/metrics` labels and logs (issue #13).
/// Two URLs differing only in their userinfo now share a pool; a config that needs them apart names
/// its pools itself.
pub fn netloc(url: &str) -> Result<String, String> {
    match simple_netloc(url) {
        Some(netloc) => Ok(netloc),
        None => parsed_netloc(url),
    }
}

/// The netloc of a URL simple enough to read without the parser (issue 17: the parse was 3.5k
/// instructions of every sessions-on request): `http://` or `https://`, a host of lower-case
/// ASCII letters, digits, dots and hyphens whose labels are not empty, neither start nor end
/// with `-`, hold no `--` (so no IDNA `xn--` label), and whose last label starts with a letter
/// (so no IPv4 address), an optional port of digits, then `/`, `?`, `#` or the end; and nothing
/// in the whole URL below `!`, above `~`, nor `%`, `@` or `\`. WHATWG parsing keeps such a host
/// as written and drops the scheme's default port, which is what this returns; every other URL
/// goes to the parser ([`parsed_netloc`]), and a property test checks that both agree.
fn simple_netloc(url: &str) -> Option<String> {
    let (rest, default_port) = match url.strip_prefix("https://") {
        Some(rest) => (rest, 443),
        None => (url.strip_prefix("http://")?, 80),
    };
    let plain = |b: &u8| b.is_ascii_graphic() && !matches!(b, b'%' | b'@' | b'\\');
    if !url.as_bytes().iter().all(plain) {
        return None;
    }
    // One pass over the authority: the host's labels, then the port's digits.
    let bytes = rest.as_bytes();
    let (mut host_end, mut end) = (None, bytes.len());
    let (mut label_start, mut previous) = (0, b'.');
    for (i, &b) in bytes.iter().enumerate() {
        if matches!(b, b'/' | b'?' | b'#') {
            end = i;
            break;
        }
        if host_end.is_some() {
            if !b.is_ascii_digit() {
                return None;
            }
            continue;
        }
        match b {
            b'a'..=b'z' | b'0'..=b'9' => {}
            b'-' if previous != b'.' && previous != b'-' => {}
            b'.' | b':' if previous != b'.' && previous != b'-' => {
                if b == b':' {
                    host_end = Some(i);
                } else {
                    label_start = i + 1;
                }
            }
            _ => return None,
        }
        previous = b;
    }
    let host_end = host_end.unwrap_or(end);
    // The host ends like a label ends (not after `.` or `-`), and its last label starts with a
    // letter: not a number, so not an IPv4 address.
    if host_end == 0
        || matches!(bytes[host_end - 1], b'.' | b'-')
        || !bytes.get(label_start)?.is_ascii_lowercase()
        || label_start >= host_end
    {
        return None;
    }
    let host = &rest[..host_end];
    if host_end == end {
        return Some(host.to_owned());
    }
    match rest[host_end + 1..end].parse::<u16>().ok()? {
        n if n == default_port => Some(host.to_owned()),
        n => Some(format!("{host}:{n}")),
    }
}

/// [`netloc`] by the WHATWG parser.
fn parsed_netloc(url: &str) -> Result<String, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("invalid URL: {e}"))?;
    let host = parsed.host_str().ok_or("the URL has no host")?;
    Ok(match parsed.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

/// `:PORT` when `url` spells out its scheme's default port (which WHATWG parsing drops), else
/// empty: what `keep_default_port` adds back to the netloc, as the reference keeps it.
pub fn default_port_as_written(url: &str) -> String {
    let parsed = url::Url::parse(url).ok();
    if parsed.as_ref().and_then(url::Url::port).is_some() {
        return String::new();
    }
    let rest = url.split_once("://").map_or("", |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    match host_port.rsplit_once(':') {
        Some((host, port))
            if !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && (!host.starts_with('[') || host.ends_with(']')) =>
        {
            format!(":{port}")
        }
        _ => String::new(),
    }
}

/// JSON text with object keys sorted at every level: the identity of a param set.
pub fn canonical_json(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<_> = map.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&map[k])))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(value).to_string()
}

/// Whether an address has no field: the reference's "no location".
pub fn is_empty(address: &Address) -> bool {
    present_fields(address).next().is_none()
}

fn present_fields(address: &Address) -> impl Iterator<Item = &str> {
    [
        &address.address_country,
        &address.address_region,
        &address.postal_code,
        &address.street_address,
    ]
    .into_iter()
    .filter_map(|f| f.as_deref())
}

/// The WIT address of a settings location.
pub fn address_of(location: &Location) -> Address {
    Address {
        address_country: location.address_country.clone(),
        address_region: location.address_region.clone(),
        postal_code: location.postal_code.clone(),
        street_address: location.street_address.clone(),
    }
}

/// The settings location (JSON spelling) of a WIT address.
pub fn location_of(address: &Address) -> Location {
    Location {
        address_country: address.address_country.clone(),
        address_region: address.address_region.clone(),
        postal_code: address.postal_code.clone(),
        street_address: address.street_address.clone(),
    }
}

#[cfg(test)]
mod tests;
