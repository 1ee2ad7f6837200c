#![doc = include_str!("../README.md")]

pub mod actions;
mod auth;
mod cli;
pub mod clock;
mod config;
mod emulator;
mod error;
pub mod faults;
pub mod latency;
mod page;
pub mod policy;
pub mod problem;
mod rng;
mod running;
pub mod scenario;
mod server;
pub mod sessions;
mod site;
pub mod stats;
mod template;
pub mod wire;

pub use cli::{EmulateArgs, run_cli};
pub use clock::Clock;
pub use config::EmulatorConfig;
pub use error::EmulatorError;
pub use policy::Policy;
pub use running::{RunningEmulator, start};
pub use scenario::Scenario;
pub use stats::{SiteStats, StatsSnapshot};
