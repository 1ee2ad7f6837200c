//! The Rust SDK for session-host session configs.
//!
//! A session config is a WebAssembly component holding the site-specific logic of Zyte API
//! session management for the URLs its rules select (the contract is `wit/session-config.wit`,
//! world `session-config`). With this crate, a config is a type implementing [`SessionConfig`],
//! exported with [`export_config!`] from a `cdylib` crate built for `wasm32-unknown-unknown`.
//!
//! Where to start:
//! - [`SessionConfig`]: the hooks, each defaulting to the reference behaviour of scrapy-zyte-api
//!   0.36.0; [`base`] holds those defaults for overrides that want `super()`.
//! - [`LocationSessionConfig`] (module [`location`]): location-specific params and checks.
//! - Typed helpers: [`Params`] (Zyte API request params), [`RawResponse`] (the response body:
//!   status, decoded body, actions, cookies), [`Address`], [`UrlRules`], headers on [`Request`],
//!   [`session_data`] (per-session storage), [`log`] and the [`info!`]-style macros, [`url`],
//!   [`base64`].
//! - [`download`]: sending requests from a custom [`SessionConfig::init_session`].
//! - [`testing`]: values for native unit tests of a config's pure parts.
//!
//! # Example
//!
//! A config for `shop.example` that initialises sessions on the home page with a cheap HTTP
//! request, keeps a token found there, and sends it with every request of the session:
//!
//! ```
//! use session_host_sdk::{
//!     Params, RawResponse, Request, Response, UrlRules, SessionConfig, Verdict, base, session_data, url,
//! };
//!
//! #[derive(Default)]
//! struct Shop;
//!
//! impl SessionConfig for Shop {
//!     fn rules(&self) -> UrlRules {
//!         UrlRules::new().include("shop.example")
//!     }
//!
//!     fn params(&self, request: &Request) -> Result<Params, String> {
//!         let origin = url::origin(&request.url).ok_or("the request URL has no origin")?;
//!         Ok(Params::new().with("url", format!("{origin}/")).with("httpResponseBody", true))
//!     }
//!
//!     fn check(&self, response: &Response, request: &Request) -> Result<Verdict, String> {
//!         if !request.is_init {
//!             return base::check(self, response, request);
//!         }
//!         let raw = RawResponse::from_response(response)?;
//!         let html = raw.html().map_err(|e| e.to_string())?;
//!         let token = html.as_deref().and_then(|html| html.split("data-token=\"").nth(1)?.split('"').next());
//!         match token {
//!             Some(token) => session_data::set("token", token).map(|()| Verdict::Keep),
//!             None => Ok(Verdict::Discard),
//!         }
//!     }
//!
//!     fn process_request(&self, request: &Request) -> Result<Option<Request>, String> {
//!         let Some(token) = session_data::get("token") else { return Ok(None) };
//!         let mut request = request.clone();
//!         request.set_header("x-token", token);
//!         Ok(Some(request))
//!     }
//! }
//!
//! session_host_sdk::export_config!(Shop);
//! # fn main() {}
//! ```
//!
//! # Building
//!
//! `example-configs/build` builds the example configs (and is the recipe for new ones):
//! `wasm32-unknown-unknown`, release profile, `panic = "abort"`. The result is a core module
//! whose custom section carries the component type; the host turns it into a component when it
//! loads it. The SDK installs its allocator, [`arena::CallArena`] (feature `call-arena`, on by
//! default), a bump arena for the blocks of a hook call.

#[expect(missing_docs, reason = "generated: the WIT documents the world's items, not the namespaces")]
pub mod bindings;

pub mod address;
pub mod arena;
pub mod base;
pub mod base64;
mod config;
pub mod export;
mod json;
pub mod location;
pub mod log;
mod params;
mod request;
mod response;
pub mod rules;
pub mod session_data;
pub mod testing;
pub mod url;

pub use bindings::session_host::config::download::download;
pub use bindings::session_host::config::types::{
    Address, ApiError, DownloadError, Header, Hooks, InitError, Level, PoolSpec, Request, Response, SessionControls,
    UrlRules, Verdict,
};
pub use config::SessionConfig;
pub use location::LocationSessionConfig;
pub use params::Params;
pub use response::{ActionResult, ActionStatus, RawResponse, ResponseCookie};
/// Put on `impl SessionConfig for T { ... }`: declares to the host the hooks the impl defines,
/// so that it answers the others itself, without calling the config (WIT 0.1.1 `overrides`).
/// Without it, a config declares every hook (always correct, but each hook then costs a call).
///
/// ```
/// use session_host_sdk::{Hooks, Request, SessionConfig, UrlRules};
///
/// #[derive(Default)]
/// struct Shop;
///
/// #[session_host_sdk::config]
/// impl SessionConfig for Shop {
///     fn rules(&self) -> UrlRules {
///         UrlRules::new().include("shop.example")
///     }
///     fn enabled(&self, _request: &Request) -> Result<bool, String> {
///         Ok(true)
///     }
/// }
///
/// assert_eq!(<Shop as SessionConfig>::OVERRIDES, Hooks::ENABLED);
/// ```
pub use session_host_sdk_macros::config;

/// Short name of [`UrlRules`] (the WIT's `url-rules`), after the `rules` hook that returns it.
pub type Rules = UrlRules;

/// The repository README's Rust snippet, compiled as a doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
