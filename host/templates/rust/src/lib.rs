//! The session config `{{name}}`: Zyte API session management for {{site}}.
//!
//! Every hook is listed below. A hook left commented out behaves exactly like the default
//! (`session_host_sdk::base`), which is what the uncommented body calls: uncomment one and
//! change it. `#[session_host_sdk::config]` tells the host which hooks the impl defines, so
//! that it answers the others itself without calling the config (each call costs a few µs). Build with `session-host plugin build`, then watch it work with
//! `session-host plugin trace https://{{site}}/ --configs dist` and `session-host plugin test`.

#[allow(unused_imports, reason = "the hooks below use them once uncommented")]
use session_host_sdk::{Address, InitError, Params, PoolSpec, Request, Response, SessionConfig, UrlRules, Verdict, base};

/// The config. Keep no state in it: the host reuses and recycles instances; state that must
/// outlive a call goes into `session_host_sdk::session_data`.
#[derive(Debug, Default)]
pub struct Config;

#[session_host_sdk::config]
impl SessionConfig for Config {
    /// The URLs this config handles.
    fn rules(&self) -> UrlRules {
        UrlRules::new().include("{{site}}")
    }

    // /// Whether session management applies to `request`.
    // fn enabled(&self, request: &Request) -> Result<bool, String> {
    //     Ok(base::enabled(request))
    // }

    // /// Whether sessions are cookie jars kept by the host.
    // fn cookie_mode(&self, request: &Request) -> Result<bool, String> {
    //     Ok(base::cookie_mode(request))
    // }

    // /// The pool `request` goes to.
    // fn pool(&self, request: &Request) -> Result<PoolSpec, String> {
    //     base::pool(request)
    // }

    // /// The location sessions are initialised with (empty: none).
    // fn location(&self, request: &Request) -> Result<Address, String> {
    //     Ok(base::location(request))
    // }

    // /// Session initialisation parameters (may hold `url`, the init URL).
    // fn params(&self, request: &Request) -> Result<Params, String> {
    //     base::params(self, request)
    // }

    // /// Initialises a session; `Ok(true)` adds it to the pool.
    // fn init_session(&self, session_id: &str, request: &Request) -> Result<bool, InitError> {
    //     base::init_session(self, session_id, request)
    // }

    // /// Checks a response: keep the session, discard it, or close the pool.
    // fn check(&self, response: &Response, request: &Request) -> Result<Verdict, String> {
    //     base::check(self, response, request)
    // }

    // /// Changes a request before it is sent (`Some` replaces it).
    // fn process_request(&self, request: &Request) -> Result<Option<Request>, String> {
    //     Ok(base::process_request(request))
    // }
}

session_host_sdk::export_config!(Config);
