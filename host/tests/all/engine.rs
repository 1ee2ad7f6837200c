//! The session engine (issue #4) against the in-process emulator, with the emulator's clock
//! frozen (time scale 0), zero retry waits and short queue waits, so the suite runs in seconds.
//! Server-side facts (sessions created, uses) come from the emulator's stats.

mod client;
mod fatal;
pub mod harness;
mod issue_12;
mod issue_14;
mod lifecycle;
mod metrics;
mod pools;
mod rotation;
