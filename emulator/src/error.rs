//! The error type at the crate boundary.
//!
//! Request-level failures never become an [`EmulatorError`]: they are answered on the wire as
//! problem+json responses (see [`crate::problem`]). This enum is only for the operator-facing
//! parts: loading a scenario, validating the configuration and binding the socket.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the emulator could not be configured or started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The requested address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// A scenario file could not be read.
    #[error("cannot read scenario file {}: {source}", path.display())]
    ScenarioRead {
        /// The file that was asked for.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A scenario is not valid TOML or breaks a rule of the scenario format.
    #[error("invalid scenario {origin}: {message}")]
    Scenario {
        /// Where the scenario came from (a path, or `"<string>"` / `"<builtin>"`).
        origin: String,
        /// What is wrong, naming the offending site or field.
        message: String,
    },
    /// A configuration value outside [`crate::EmulatorConfig`]'s accepted range.
    #[error("invalid emulator configuration: {0}")]
    Config(String),
    /// An I/O failure while serving (other than a single connection's error).
    #[error("emulator I/O error: {0}")]
    Io(#[from] std::io::Error),
}
