//! The plugin runtime: loads session configs (WebAssembly components) and runs their hooks in a
//! sandbox. It is the only module that touches wasmtime.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use session_host::plugin::{CallEnv, Limits, Runtime};
//! let runtime = Runtime::new(Limits::default())?;
//! let config = runtime.load_file("example-configs/dist/csrf-token.wasm".as_ref(), CallEnv::default()).await?;
//! println!("{} handles {:?}", config.name(), config.rules().include);
//! # Ok(()) }
//! ```
//!
//! # Policy
//!
//! - **Loading.** A file may be a component or a core module carrying wit-bindgen's
//!   component-type section (what `wasm32-unknown-unknown` builds produce); the latter is
//!   componentized with `wit-component`. Compilation runs on a blocking thread, off the async
//!   runtime. The component is type-checked against the world (an `InstancePre` is built once per
//!   loaded config), and `rules` is called: a config that fails any of these never loads.
//! - **Sandbox.** WASI p2 is linked so that Python and JavaScript guests can run, but it grants
//!   nothing: no filesystem, no network, no environment, no arguments. Stdout and stderr are
//!   captured into the host's log, bounded ([`Limits::output_bytes`]). Guests never see the Zyte
//!   API key: `download` hands them only the Zyte API response.
//! - **Limits** ([`Limits`], each documented with its default): guest CPU time per call through
//!   epoch interruption (200 ms; time awaiting `download` excluded), wall-clock time with
//!   `tokio::time::timeout` around every call of every hook, `rules` included (1 s; 10 min for
//!   `init-session`, the one hook that awaits downloads), linear memory per instance (64 MiB),
//!   downloads per init (16), log lines per call (64), bytes of a returned value (8 MiB) and of a
//!   returned name such as a pool id (4 KiB; [`HookErrorKind::OutputTooLarge`] past either). The wall-clock bound holds for a guest
//!   blocked in WASI (a sleep, a poll on a clock) as well as for one computing: the epoch
//!   callback yields to the executor at every tick, so a looping guest never pins a worker.
//! - **Failure.** A trap, a panic, an exhausted CPU budget or timeout, a memory bomb, malformed
//!   output or a missing export yields a typed [`HookError`] or [`LoadError`] naming the config,
//!   the hook and the cause (with the guest's panic message when it reported one). The instance
//!   involved is discarded; the host keeps serving.
//! - **Instances.** Measured: a Rust guest instantiates in about 24 µs with the pooling allocator
//!   and a call costs about 1.5 µs, but Python and JavaScript guests cost about 1 ms per fresh
//!   instance or first call (see `shared/docs/guest-toolchains.md` and the README's performance
//!   section). So instances are kept warm and reused: a call takes an idle instance or
//!   instantiates one, and returns it afterwards. An instance is discarded on any trap or timeout
//!   and recycled after [`Limits::recycle_after_calls`] calls; at most
//!   [`Limits::max_idle_instances`] stay idle per config. Guests must therefore keep no state
//!   between calls; what must persist goes into the host's session data.
//! - **Metrics.** Every call is timed per config and hook, failed or not, and every failure
//!   is counted by kind; fresh instances are counted too ([`crate::telemetry`]).
//! - **Allocation.** The pooling allocator is used when the machine can reserve its address
//!   space; otherwise instances are allocated on demand ([`Runtime::is_pooling`] tells which).

mod bindings;
mod error;
mod host;
mod limits;
mod loaded;
mod output;
mod runtime;
mod wit;

pub use bindings::session_host::config::types::{
    Address, ApiError, DownloadError, Header, Hooks, InitError, Level, PoolSpec, Request, Response,
    SessionControls, UrlRules, Verdict,
};
pub use error::{Hook, HookError, HookErrorKind, LoadError, LoadErrorKind};
pub use host::{CallEnv, Defaults, Downloader};
pub use limits::{Limits, LimitsError};
pub use loaded::{GuestConfig, GuestCounters, ProcessedRequest};
pub use runtime::Runtime;
pub use wit::{SUPPORTED_WIT_VERSIONS, WIT_VERSION, targeted_wit_version, wit_version_supported};
