//! session-host: Zyte API session management with site logic in sandboxed WebAssembly.
//!
//! Where to start:
//! - [`plugin`]: the runtime that loads session configs and runs their hooks;
//! - [`defaults`]: the built-in default config (scrapy-zyte-api's `SessionConfig`);
//! - [`settings`]: the `[sessions]` settings;
//! - [`wire`]: how a Zyte API request body maps to the request a guest sees;
//! - [`session_data`]: the per-session storage guests use;
//! - [`zyte`]: the Zyte API client and its retry policies;
//! - [`engine`]: the session engine (pools, lifecycle, checks, retries), the library API the
//!   front ends call;
//! - [`store`]: where pool and session state lives, behind the [`store::PoolStore`] seam;
//! - [`gateway`]: the Zyte-API-compatible HTTP front end (`session-host serve`).
//! - [`session_management`] and [`problem`]: what the front ends share: the `sessionManagement`
//!   field of a request body, and the problem details of every error;
//! - [`batch`]: batch runs (`session-host run`): input, answers, resumption.
//! - [`secret`]: the one type that keeps keys out of logs and compares them in constant time;
//! - [`telemetry`]: the Prometheus metrics they record, and the recorder a front end installs.
//!
//! # Glossary
//!
//! - **config** (a *session config*): the logic for one site. In code it is one of:
//!   - a guest: a WebAssembly component implementing the WIT world `session-config`, loaded as a
//!     [`plugin::GuestConfig`];
//!   - the config serving a request, guest or the built-in default
//!     ([`defaults::DefaultConfig`]): [`engine::Config`];
//!   - a configs folder: the `.wasm` files (and their sidecars) that [`configs`] loads and
//!     watches, compiled into an [`engine::ConfigSet`].
//! - **settings**: the host's own TOML file (`session-host.toml`, [`settings::HostSettings`]),
//!   never called a config.
//! - **sidecar**: `NAME.toml` beside `NAME.wasm`, overriding that config's rules and limits.
//! - **hook**: one export of the world (`enabled`, `pool`, `check`, …), [`plugin::Hook`].
//! - **pool**: a set of Zyte API sessions used for one site (or one params set, location or
//!   explicit id); **session**: one Zyte API session id, with its cookies and session data;
//!   **lease**: one request's use of a session.
//! - **the reference**: scrapy-zyte-api 0.36.0's plugin-managed sessions, whose behaviour this
//!   host reproduces and improves on. Doc comments cite it as "(reference N.N)", meaning section
//!   N.N of `docs/reference.md` in this repository.

pub mod authoring;
pub mod batch;
mod body;
pub mod configs;
pub mod defaults;
pub mod engine;
pub mod gateway;
pub mod plugin;
pub mod problem;
pub mod rules;
pub mod secret;
pub mod session_data;
pub mod session_management;
pub mod settings;
pub mod store;
pub mod telemetry;
pub mod wire;
pub mod zyte;
