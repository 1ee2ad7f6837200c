//! The limits every guest runs under, with their defaults and what each protects against.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Hook;

/// Limits applied to every loaded config. Defaults are tuned for Rust guests (hooks take
/// microseconds) with headroom for Python and JavaScript guests, whose first call on a fresh
/// instance costs about a millisecond and whose snapshots need 11-13 MiB of linear memory: the
/// defaults serve all three languages (`tests/all/conformance.rs` runs them under these).
///
/// In `session-host.toml` this is the `[plugins]` table; durations are in milliseconds.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Guest CPU time per hook call (default 200 ms). Protects against infinite loops: the call
    /// traps when the guest has run this long, not counting time spent waiting on `download`.
    /// A loop that never reaches the epoch check still ends at [`Self::hook_timeout_ms`]; a
    /// guest that blocks in WASI (a sleep, a poll on a clock) uses no CPU and is stopped by
    /// that wall-clock bound, not by this one.
    ///
    /// Why 200 ms: the time is measured on the wall clock (minus host waits), and the call that
    /// creates an instance also pays for instantiating it. Measured (`benches/languages.rs`):
    /// a warm call costs microseconds in every language (a whole use request: Rust 22 µs,
    /// Python 0.2 ms, JavaScript 0.8 ms), but a call on a fresh instance costs 1.5 ms in Python
    /// and 0.9 ms in JavaScript, and a Python config failed to load at 50 ms in a full test run
    /// on a busy two-core machine (the thread was descheduled mid-instantiation). 200 ms keeps
    /// two orders of magnitude over the slowest legitimate call and still stops a loop quickly.
    pub hook_cpu_ms: u64,
    /// Wall-clock time per call of every hook but `init-session` (default 1 000 ms), `rules`
    /// included, whether the guest computes or blocks in WASI (`time.sleep`, a `poll` on a
    /// monotonic-clock subscription). Protects the host from a guest that never returns: the
    /// call fails with a timeout naming the config and the hook, its instance is discarded (its
    /// slot freed), and the caller releases what it held (a session lease). A `rules` that
    /// times out fails the load: at start-up the host serves without that config, at reload
    /// the last good version keeps serving.
    ///
    /// Why 1 000 ms: five times the CPU budget, so that on a starved machine (a descheduled
    /// thread, a full test suite on two cores) the CPU budget, which names the cause more
    /// precisely, still fires first for a loop; and a thousand times the slowest legitimate
    /// call measured (a Python config's first call on a fresh instance, 1.5 ms).
    /// It does not cover compilation (bounded by nothing but the file's size) nor the time a
    /// request waits for a session (the engine's request deadline).
    pub hook_timeout_ms: u64,
    /// Wall-clock time per `init-session` call, downloads included (default 600 000 ms: a
    /// browser request may take 30 s and is retried by the retry policy). Protects against a
    /// download that never returns.
    pub init_timeout_ms: u64,
    /// Linear memory per instance (default 64 MiB). Protects against memory bombs: growth past it
    /// fails, and the trap that follows is reported as a memory-limit error.
    ///
    /// Why 64 MiB serves every language: the smallest limit with which the `csrf-token` example
    /// loads and serves a request (`benches/languages.rs`, 1 MiB steps) is 2 MiB for Rust,
    /// 11 MiB for JavaScript (componentize-js: SpiderMonkey's heap is in the snapshot) and
    /// 13 MiB for Python (componentize-py: the interpreter's heap is in the snapshot). 64 MiB
    /// leaves a Python config about 50 MiB for its own data, and keeps 1 000 pooled slots within
    /// the address space the pooling allocator reserves.
    pub memory_bytes: usize,
    /// Calls after which a warm instance is dropped and replaced (default 10 000). Bounds the
    /// effect of guest-side leaks and of state a guest keeps against the contract.
    pub recycle_after_calls: u64,
    /// Warm instances kept idle per config (default 4, twice the cores of our machines).
    pub max_idle_instances: usize,
    /// `download` calls allowed in one `init-session` (default 16). Protects the user's Zyte API
    /// budget from an init chain that never ends.
    pub max_downloads_per_init: u32,
    /// Bytes of guest stdout and stderr captured per instance (default 64 KiB). Output past it
    /// is dropped, and the instance is recycled after the call that filled half of it.
    pub output_bytes: usize,
    /// Log lines one hook call may write (default 64); further lines are dropped and counted.
    pub log_lines_per_call: u32,
    /// Bytes of one value a hook returns (default 8 MiB): the `params` JSON text, a request
    /// that `process-request` returns (its URL, method, headers, params and controls together),
    /// or the patterns of `rules` together. Protects the host from a guest that returns
    /// megabytes to be stored, sent upstream or echoed: a larger value fails the call with a
    /// typed error ([`super::HookErrorKind::OutputTooLarge`]) naming the config, the hook, what
    /// was too large and this setting, and the host keeps serving (issue 12).
    ///
    /// Why 8 MiB: above the gateway's largest request body (5 MiB, Zyte API's own limit), so
    /// that any request the gateway accepted survives a `process-request` that returns it
    /// unchanged. It does not cover the copy of the value into the host while it is checked,
    /// which [`Self::memory_bytes`] bounds (the guest must hold it in its own memory first).
    pub max_output_bytes: usize,
    /// Bytes of one name a hook returns (default 4 KiB): a pool id, one location field, one
    /// `rules` pattern or `instead-of`. These are kept for the life of a pool and shown in
    /// `/status`, metrics labels and logs; a longer one fails the call like
    /// [`Self::max_output_bytes`]. Messages (an `err`, an `init-error`'s text, a `close-pool`
    /// reason) are not refused but cut to their first 4 KiB, with their full size appended.
    ///
    /// Why 4 KiB: the longest log line; a pool id derived from a URL is a host (at most 253
    /// bytes) with a port, a counter or four address fields, far below it.
    pub max_name_bytes: usize,
    /// Instance slots of the pooling allocator (default 1 000 component instances). If the
    /// machine cannot reserve their address space, the runtime falls back to on-demand
    /// allocation.
    pub pool_slots: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            hook_cpu_ms: 200,
            hook_timeout_ms: 1_000,
            init_timeout_ms: 600_000,
            memory_bytes: 64 << 20,
            recycle_after_calls: 10_000,
            max_idle_instances: 4,
            max_downloads_per_init: 16,
            output_bytes: 64 << 10,
            log_lines_per_call: 64,
            max_output_bytes: 8 << 20,
            max_name_bytes: 4 << 10,
            pool_slots: 1_000,
        }
    }
}

impl Limits {
    /// [`Self::hook_cpu_ms`] as a duration.
    pub fn hook_cpu(&self) -> Duration {
        Duration::from_millis(self.hook_cpu_ms)
    }

    /// [`Self::init_timeout_ms`] as a duration.
    pub fn init_timeout(&self) -> Duration {
        Duration::from_millis(self.init_timeout_ms)
    }

    /// The wall-clock bound of a call to `hook`: [`Self::init_timeout_ms`] for `init-session`,
    /// the one hook that awaits downloads, and [`Self::hook_timeout_ms`] for every other.
    pub fn wall_clock(&self, hook: Hook) -> Duration {
        match hook {
            Hook::InitSession => self.init_timeout(),
            _ => Duration::from_millis(self.hook_timeout_ms),
        }
    }
}

/// Why per-config limits cannot apply ([`super::Runtime::with_limits`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitsError {
    /// The limit is fixed for the whole engine.
    #[error("{0} is engine-wide: set it in the [plugins] table of the settings file")]
    EngineWide(&'static str),
    /// A config asked for more memory than the engine reserves per instance.
    #[error("memory_bytes {asked} exceeds the engine's {max} ([plugins] memory_bytes)")]
    MemoryAboveEngine {
        /// What the config asked for.
        asked: usize,
        /// The engine's limit.
        max: usize,
    },
}
