//! Library-level integration tests of session-host: the engine against the in-process emulator,
//! the configs folder, the example configs, and the conformance of the three guest languages.
//! One test binary, to keep link time down. The end-to-end suites that drive the binary live
//! in the repository's top-level `tests/` folder.

mod configs;
mod conformance;
mod engine;
mod examples;
mod overrides;
mod shared;

use session_host_testkit::{guests, support};
