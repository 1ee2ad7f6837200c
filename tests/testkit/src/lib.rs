//! Fixtures shared by session-host's test suites (`host/tests/`, the end-to-end suites in the
//! top-level `tests/e2e/`) and its benches.
//!
//! - [`support`]: the repository root, one plugin runtime per test binary, requests, the
//!   emulator, and a downloader that sends init requests to it;
//! - [`guests`]: test guests written in WAT (loops, memory bombs, panics, bad output), so that
//!   the hostile corpus needs no wasm toolchain;
//! - [`redis`]: a `redis-server` on a free loopback port, for the Redis store (issue 16).

pub mod guests;
pub mod redis;
pub mod support;
