//! session-host: Zyte API session management with site logic in sandboxed WebAssembly.
//!
//! Where to start:
//! - [`plugin`]: the runtime that loads session configs and runs their hooks;
//! - [`defaults`]: the built-in default config (scrapy-zyte-api's `SessionConfig`);
//! - [`settings`]: the `[sessions]` settings;
//! - [`wire`]: how a Zyte API request body maps to the request a guest sees;
//! - [`session_data`]: the per-session storage guests use.

pub mod defaults;
pub mod plugin;
pub mod session_data;
pub mod settings;
pub mod wire;
