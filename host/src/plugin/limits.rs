//! The limits every guest runs under, with their defaults and what each protects against.

use std::time::Duration;

use serde::Deserialize;

/// Limits applied to every loaded config. Defaults are tuned for Rust guests (hooks take
/// microseconds) with headroom for Python and JavaScript guests, whose first call on a fresh
/// instance costs about a millisecond.
///
/// In `session-host.toml` this is the `[plugins]` table; durations are in milliseconds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Guest CPU time per hook call (default 50 ms). Protects against infinite loops: the call
    /// traps when the guest has run this long, not counting time spent waiting on `download`.
    /// It is the only bound of hooks other than `init-session`, which never wait on the host.
    pub hook_cpu_ms: u64,
    /// Wall-clock time per `init-session` call, downloads included (default 600 000 ms: a
    /// browser request may take 30 s and is retried by the retry policy). Protects against a
    /// download that never returns.
    pub init_timeout_ms: u64,
    /// Linear memory per instance (default 64 MiB). Protects against memory bombs: growth past it
    /// fails, and the trap that follows is reported as a memory-limit error.
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
    /// Instance slots of the pooling allocator (default 1 000 component instances). If the
    /// machine cannot reserve their address space, the runtime falls back to on-demand
    /// allocation.
    pub pool_slots: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            hook_cpu_ms: 50,
            init_timeout_ms: 600_000,
            memory_bytes: 64 << 20,
            recycle_after_calls: 10_000,
            max_idle_instances: 4,
            max_downloads_per_init: 16,
            output_bytes: 64 << 10,
            log_lines_per_call: 64,
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
}
