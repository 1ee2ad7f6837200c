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
//! - [`gateway`]: the Zyte-API-compatible HTTP front end (`session-host serve`).
//! - [`session_management`] and [`problem`]: what the front ends share: the `sessionManagement`
//!   field of a request body, and the problem details of every error;
//! - [`batch`]: batch runs (`session-host run`): input, answers, resumption.
//! - [`telemetry`]: the Prometheus metrics they record, and the recorder a front end installs.

pub mod batch;
pub mod configs;
pub mod defaults;
pub mod engine;
pub mod gateway;
pub mod plugin;
pub mod problem;
pub mod rules;
pub mod session_data;
pub mod session_management;
pub mod settings;
pub mod telemetry;
pub mod wire;
pub mod zyte;
