//! Conformance: the scenarios of the reference's own session test suite (scrapy-zyte-api
//! 0.36.0) that apply outside Scrapy, one test per scenario (issue 14). `tests/README.md` maps
//! each test to its section of `docs/reference.md` and marks it *same*, *improved* (with the
//! setting that restores the reference's behaviour) or *not applicable*.
//!
//! Grids and timing scenarios drive the engine in-process against the in-process emulator
//! (`harness`), where 108 cases take milliseconds; `binary` drives the real binary, through
//! `serve` and through `run`, against the same emulator. Time: the emulator's clock is frozen
//! and moved by hand where expiry matters, the engine's [`session_host::engine::Clock`] is
//! advanced with it, and delays are a few hundred milliseconds of real time, so the whole suite
//! stays well under a minute.

mod binary;
mod delays;
mod failures;
mod grids;
mod harness;
mod pools;
mod retry;
