//! [`LocationSessionConfig`]: location-specific init params and checks, like the reference's
//! `LocationSessionConfig` (section 6).
//!
//! Shape: a sub-trait of [`SessionConfig`] with two extra hooks, [`location_params`] and
//! [`location_check`], plus two dispatch functions, [`params`] and [`check`], that a config
//! wires into its `SessionConfig::params` and `SessionConfig::check`:
//!
//! - `params(request)`: when `config.location(request)` is empty, [`base::params`]; otherwise
//!   `config.location_params(request, &location)`.
//! - `check(response, request)`: when the location is empty, [`base::check`]; otherwise
//!   `config.location_check(response, request, &location)`.
//!
//! Policy: the dispatch lives in the config's own `SessionConfig` impl (two one-line methods)
//! rather than in a wrapper type, so that every path goes through it: the default
//! [`SessionConfig::init_session`] and any custom one call `self.params()` and `self.check()`,
//! and a wrapper would be invisible to them. The defaults of the two extra hooks are the plain
//! behaviour, [`base::params`] and [`base::check`] (never `self.params()`, which would recurse).
//!
//! [`location_params`]: LocationSessionConfig::location_params
//! [`location_check`]: LocationSessionConfig::location_check
//!
//! ```
//! use session_host_sdk::{Address, LocationSessionConfig, Params, Request, Response, SessionConfig, Verdict, location};
//!
//! struct Grocery;
//!
//! impl SessionConfig for Grocery {
//!     fn params(&self, request: &Request) -> Result<Params, String> {
//!         location::params(self, request)
//!     }
//!     fn check(&self, response: &Response, request: &Request) -> Result<Verdict, String> {
//!         location::check(self, response, request)
//!     }
//! }
//!
//! impl LocationSessionConfig for Grocery {
//!     fn location_params(&self, _request: &Request, location: &Address) -> Result<Params, String> {
//!         let postal_code = location.postal_code.as_deref().ok_or("a postal code is required")?;
//!         Ok(Params::new()
//!             .with("url", "https://grocery.example/set-zip")
//!             .with("browserHtml", true)
//!             .with_action(serde_json::json!({"action": "type", "selector": {"type": "css", "value": "#zip"}, "text": postal_code})))
//!     }
//! }
//! ```

use crate::{Address, Params, Request, Response, SessionConfig, Verdict, base};

/// A [`SessionConfig`] with location-specific init params and checks. See the module docs for
/// the wiring its `SessionConfig` impl needs.
pub trait LocationSessionConfig: SessionConfig {
    /// Init params for sessions with the non-empty `location`. Default: [`base::params`], the
    /// plain `SessionConfig` behaviour (`browserHtml` plus a `setLocation` action).
    fn location_params(&self, request: &Request, location: &Address) -> Result<Params, String> {
        let _ = location;
        base::params(self, request)
    }

    /// Checks a response for a session with the non-empty `location`. Default: [`base::check`],
    /// the plain `SessionConfig` behaviour.
    fn location_check(&self, response: &Response, request: &Request, location: &Address) -> Result<Verdict, String> {
        let _ = location;
        base::check(self, response, request)
    }
}

/// `SessionConfig::params` of a location config: [`LocationSessionConfig::location_params`] when
/// the location is set, else [`base::params`].
pub fn params<C: LocationSessionConfig + ?Sized>(config: &C, request: &Request) -> Result<Params, String> {
    let location = config.location(request)?;
    if location.is_empty() { base::params(config, request) } else { config.location_params(request, &location) }
}

/// `SessionConfig::check` of a location config: [`LocationSessionConfig::location_check`] when
/// the location is set, else [`base::check`].
pub fn check<C: LocationSessionConfig + ?Sized>(
    config: &C,
    response: &Response,
    request: &Request,
) -> Result<Verdict, String> {
    let location = config.location(request)?;
    if location.is_empty() {
        base::check(config, response, request)
    } else {
        config.location_check(response, request, &location)
    }
}
