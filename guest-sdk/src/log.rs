//! Logging into the host's log, tagged by the host with the config and the hook.
//!
//! Policy (from the WIT `log` interface): each message is truncated to 4 KiB and each hook call
//! may log at most 64 lines; the host drops and counts the rest. The macros
//! ([`crate::info!`] and friends) format like `format!`; the functions take a ready message.
//! `wasm32-unknown-unknown` has no stderr, so `println!`/`eprintln!` output is lost: use these.
//!
//! ```no_run
//! use session_host_sdk::{info, log};
//! info!("token found for {}", "csrf.example");
//! log::warn("no token in the init response");
//! ```

pub use crate::bindings::session_host::config::log::report_panic;

use crate::Level;
use crate::bindings::session_host::config::log as host;

/// Writes `message` at `level`.
pub fn log(level: Level, message: &str) {
    host::log(level, message);
}

/// Writes `message` at [`Level::Trace`].
pub fn trace(message: &str) {
    log(Level::Trace, message);
}

/// Writes `message` at [`Level::Debug`].
pub fn debug(message: &str) {
    log(Level::Debug, message);
}

/// Writes `message` at [`Level::Info`].
pub fn info(message: &str) {
    log(Level::Info, message);
}

/// Writes `message` at [`Level::Warn`].
pub fn warn(message: &str) {
    log(Level::Warn, message);
}

/// Writes `message` at [`Level::Error`].
pub fn error(message: &str) {
    log(Level::Error, message);
}

/// Formats and logs at [`Level::Trace`]: `trace!("x = {x}")`.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)*) => { $crate::log::log($crate::Level::Trace, &::std::format!($($arg)*)) };
}

/// Formats and logs at [`Level::Debug`]: `debug!("x = {x}")`.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::log::log($crate::Level::Debug, &::std::format!($($arg)*)) };
}

/// Formats and logs at [`Level::Info`]: `info!("x = {x}")`.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log::log($crate::Level::Info, &::std::format!($($arg)*)) };
}

/// Formats and logs at [`Level::Warn`]: `warn!("x = {x}")`.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log::log($crate::Level::Warn, &::std::format!($($arg)*)) };
}

/// Formats and logs at [`Level::Error`]: `error!("x = {x}")`.
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::log::log($crate::Level::Error, &::std::format!($($arg)*)) };
}
