//! [`SessionConfig`]: the hooks of a session config, one method per export of the WIT world.
//!
//! Policy: every method has a default that behaves exactly like the reference's
//! `SessionConfig` (scrapy-zyte-api 0.36.0) method, implemented in [`crate::base`]. A config
//! overrides what it needs; an override that wants the default's behaviour calls the
//! [`crate::base`] function with `self`, the way Python calls `super()`. Because defaults go
//! through `self`, an override of [`SessionConfig::location`] changes what the default
//! [`SessionConfig::params`] and [`SessionConfig::check`] see, and overrides of `params` and
//! `check` change what the default [`SessionConfig::init_session`] does, as in the reference.
//!
//! An `Err` is the equivalent of a Python exception raised by the hook: the host counts and
//! reports it like the reference does (e.g. `check` → `use/check-error`). A panic traps, which
//! the host treats the same way, after [`crate::export_config!`]'s panic hook has sent it the
//! message.
//!
//! Hooks take `&self`, but a config must not keep state between calls: the host reuses,
//! recycles and discards instances at will. State that must outlive a call goes into
//! [`crate::session_data`].

use crate::{Address, Hooks, InitError, Params, PoolSpec, Request, Response, UrlRules, Verdict, base};

/// The hooks of a session config. See the module docs.
pub trait SessionConfig {
    /// The hooks this config overrides, which the host calls; it answers the others itself,
    /// exactly as these defaults would (WIT 0.1.1 `overrides`). Default: every hook. Put
    /// [`crate::config`] (`#[session_host_sdk::config]`) on the impl to set it to the methods
    /// the impl defines; set it by hand only if an overridden method keeps the default's
    /// behaviour.
    const OVERRIDES: Hooks = Hooks::all();

    /// Which URLs this config handles. Called once, when the config loads; an optional sidecar
    /// `NAME.toml` overrides the result. Default: [`base::rules`], a universal rule with
    /// priority 500, which a real config almost always replaces with [`UrlRules::new`] and
    /// [`UrlRules::include`].
    fn rules(&self) -> UrlRules {
        base::rules()
    }

    /// Whether session management applies to `request`. Default: [`base::enabled`].
    fn enabled(&self, request: &Request) -> Result<bool, String> {
        Ok(base::enabled(request))
    }

    /// Whether sessions are cookie jars kept by the host instead of Zyte API sessions (reference
    /// 5.13). Default: [`base::cookie_mode`].
    fn cookie_mode(&self, request: &Request) -> Result<bool, String> {
        Ok(base::cookie_mode(request))
    }

    /// The pool `request` goes to; an `Err` closes the pool with `pool_error`. Default:
    /// [`base::pool`].
    fn pool(&self, request: &Request) -> Result<PoolSpec, String> {
        base::pool(request)
    }

    /// The location sessions for `request` are initialised with; an empty [`Address`] means
    /// none. Default: [`base::location`].
    fn location(&self, request: &Request) -> Result<Address, String> {
        Ok(base::location(request))
    }

    /// Session initialisation parameters; may hold `url`, the init URL (default: the
    /// triggering request's URL). Default: [`base::params`].
    fn params(&self, request: &Request) -> Result<Params, String> {
        base::params(self, request)
    }

    /// Initialises session `session_id`, triggered by `request`; `Ok(true)` adds it to the pool,
    /// `Ok(false)` is a failed check. A custom chain may call [`crate::download`] several times.
    /// Default: [`base::init_session`].
    fn init_session(&self, session_id: &str, request: &Request) -> Result<bool, InitError> {
        base::init_session(self, session_id, request)
    }

    /// Checks a successful Zyte API response to `request`, which used a session;
    /// `request.is_init` tells an init response from a use response. Default: [`base::check`].
    fn check(&self, response: &Response, request: &Request) -> Result<Verdict, String> {
        base::check(self, response, request)
    }

    /// Called after a session is assigned to `request` and before it is sent (never for init
    /// requests): `Some` replaces the request. Default: [`base::process_request`], no change.
    fn process_request(&self, request: &Request) -> Result<Option<Request>, String> {
        Ok(base::process_request(request))
    }

    /// [`SessionConfig::process_request`] given the request itself, which an override may change
    /// and return without copying it (issue 17: a copy of the request was a fifth of the
    /// `csrf-token` example's allocations). The export calls this method; its default passes a
    /// reference to [`SessionConfig::process_request`]. Override one of the two:
    /// [`crate::config`] declares the hook for either.
    ///
    /// ```
    /// use session_host_sdk::{Hooks, Request, SessionConfig, testing};
    ///
    /// struct ByValue;
    /// struct ByReference;
    ///
    /// #[session_host_sdk::config]
    /// impl SessionConfig for ByValue {
    ///     fn process_owned_request(&self, mut request: Request) -> Result<Option<Request>, String> {
    ///         request.set_header("x-token", "t");
    ///         Ok(Some(request))
    ///     }
    /// }
    ///
    /// #[session_host_sdk::config]
    /// impl SessionConfig for ByReference {
    ///     fn process_request(&self, request: &Request) -> Result<Option<Request>, String> {
    ///         let mut request = request.clone();
    ///         request.set_header("x-token", "t");
    ///         Ok(Some(request))
    ///     }
    /// }
    ///
    /// // issue 17: both declare the hook, and the export's call reaches both the same way.
    /// assert_eq!(<ByValue as SessionConfig>::OVERRIDES, Hooks::PROCESS_REQUEST);
    /// assert_eq!(<ByReference as SessionConfig>::OVERRIDES, Hooks::PROCESS_REQUEST);
    /// let sent = |config: &dyn Fn(Request) -> Result<Option<Request>, String>| {
    ///     config(testing::request("https://a.example/")).unwrap().unwrap().header("x-token").map(str::to_owned)
    /// };
    /// assert_eq!(sent(&|r| ByValue.process_owned_request(r)), Some("t".into()));
    /// assert_eq!(sent(&|r| ByReference.process_owned_request(r)), Some("t".into()));
    /// ```
    fn process_owned_request(&self, request: Request) -> Result<Option<Request>, String> {
        self.process_request(&request)
    }
}

impl From<bool> for Verdict {
    /// The reference's `check` returns a bool: `true` is [`Verdict::Keep`], `false`
    /// [`Verdict::Discard`].
    fn from(keep: bool) -> Verdict {
        if keep { Verdict::Keep } else { Verdict::Discard }
    }
}
