//! Typed errors of the plugin runtime. Each names the config and, for calls, the hook.

use std::fmt;

/// A config that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("config {config}: {kind}")]
pub struct LoadError {
    /// The config's name (its file stem) or path.
    pub config: String,
    /// What went wrong.
    pub kind: LoadErrorKind,
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadErrorKind {
    /// The file could not be read.
    #[error("cannot read the file: {0}")]
    Read(#[from] std::io::Error),
    /// The bytes are not WebAssembly (bad magic or version).
    #[error("not a WebAssembly file (it does not start with the wasm magic bytes)")]
    NotWasm,
    /// A core module could not be turned into a component (no or bad component-type section).
    #[error("cannot make a component of this core module: {0}")]
    Componentize(String),
    /// The component failed to validate or compile (e.g. a truncated file).
    #[error("invalid or truncated WebAssembly: {0}")]
    Compile(String),
    /// The component does not implement the `session-config` world this host provides.
    #[error(
        "does not implement world session-host:config/session-config (versions 0.1.0 to 0.1.1): {0}"
    )]
    WrongWorld(String),
    /// Calling `rules` (or `overrides`) failed.
    #[error("{0}")]
    Rules(Box<HookError>),
    /// The runtime's engine could not be created.
    #[error("cannot create the wasm engine: {0}")]
    Engine(String),
}

/// A hook call that failed.
#[derive(Debug, thiserror::Error)]
#[error("config {config}, hook {hook}: {kind}")]
pub struct HookError {
    /// The config's name.
    pub config: String,
    /// The hook, by its WIT name.
    pub hook: Hook,
    /// What went wrong.
    pub kind: HookErrorKind,
}

/// Why a hook call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum HookErrorKind {
    /// The guest returned `err(message)`: its equivalent of raising an exception.
    #[error("the config returned an error: {0}")]
    Guest(String),
    /// The guest trapped. `panic` is the message it reported before trapping, if any.
    #[error("the config trapped: {message}{}", panic.as_ref().map(|p| format!(" (guest panic: {p})")).unwrap_or_default())]
    Trap {
        /// The trap as wasmtime describes it.
        message: String,
        /// The panic message the guest reported through `log.report-panic`.
        panic: Option<String>,
    },
    /// The guest used more than its CPU budget in one call.
    #[error("the config ran longer than its CPU budget of {ms} ms")]
    CpuBudget {
        /// The budget.
        ms: u64,
    },
    /// The call did not finish within its wall-clock timeout.
    #[error("the call timed out after {ms} ms (wall clock)")]
    Timeout {
        /// The timeout.
        ms: u64,
    },
    /// The guest tried to grow its memory past the limit and then failed.
    #[error("the config exceeded its memory limit of {bytes} bytes")]
    MemoryLimit {
        /// The limit.
        bytes: usize,
    },
    /// The guest returned something malformed, e.g. params that are not a JSON object.
    #[error("the config returned invalid output: {0}")]
    InvalidOutput(String),
    /// The guest returned a value larger than a limit ([`super::Limits::max_output_bytes`],
    /// [`super::Limits::max_name_bytes`]); the value is dropped, never stored or echoed.
    #[error(
        "the config returned {what} of {bytes} bytes; the limit is {limit} bytes ([plugins] {setting})"
    )]
    OutputTooLarge {
        /// What was too large, e.g. `a pool id`.
        what: &'static str,
        /// Its size.
        bytes: usize,
        /// The limit.
        limit: usize,
        /// The setting that holds the limit.
        setting: &'static str,
    },
    /// A fresh instance could not be created.
    #[error("cannot instantiate the config: {0}")]
    Instantiate(String),
}

/// The hooks of the `session-config` world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Hook {
    /// `rules`
    Rules,
    /// `enabled`
    Enabled,
    /// `cookie-mode`
    CookieMode,
    /// `pool`
    Pool,
    /// `location`
    Location,
    /// `params`
    Params,
    /// `init-session`
    InitSession,
    /// `check`
    Check,
    /// `process-request`
    ProcessRequest,
    /// `overrides` (WIT 0.1.1), called once at load
    Overrides,
}

impl Hook {
    /// Every hook, in the world's order.
    pub const ALL: [Hook; 10] = [
        Hook::Rules,
        Hook::Enabled,
        Hook::CookieMode,
        Hook::Pool,
        Hook::Location,
        Hook::Params,
        Hook::InitSession,
        Hook::Check,
        Hook::ProcessRequest,
        Hook::Overrides,
    ];

    /// The hook's WIT name.
    pub fn name(self) -> &'static str {
        match self {
            Hook::Rules => "rules",
            Hook::Enabled => "enabled",
            Hook::CookieMode => "cookie-mode",
            Hook::Pool => "pool",
            Hook::Location => "location",
            Hook::Params => "params",
            Hook::InitSession => "init-session",
            Hook::Check => "check",
            Hook::ProcessRequest => "process-request",
            Hook::Overrides => "overrides",
        }
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
