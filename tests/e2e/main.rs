//! End-to-end suites: the real `session-host` binary (and, for the hostile corpus, the plugin
//! runtime it embeds) against the Zyte API emulator. One test binary, to keep link time down;
//! `tests/README.md` says what each suite covers.

mod authoring;
mod bounds;
mod cli;
mod clients;
mod conformance;
mod dashboard;
mod gateway;
mod hostile;
mod observe;
mod redis;
mod run;
mod soak;
mod state;
mod webdriver;

use session_host_testkit::{guests, support};
