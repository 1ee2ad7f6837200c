//! The configs folder: `.wasm` session configs (with optional `NAME.toml` sidecars) loaded into
//! the engine, reloaded live while the host serves.
//!
//! ```no_run
//! # async fn demo(engine: session_host::engine::Engine) -> Result<(), Box<dyn std::error::Error>> {
//! use session_host::configs::{CompileCache, Loader, WatchOptions, Watcher};
//! use session_host::plugin::{Limits, Runtime};
//! let runtime = Runtime::new(Limits::default())?;
//! let cache = CompileCache::default_dir().map(CompileCache::new);
//! let loader = Loader::new("configs", runtime, cache);
//! let (watcher, report) = Watcher::start(loader, engine, WatchOptions::default()).await?;
//! println!("{} configs loaded, {} problems", report.loaded.len(), report.problems.len());
//! # drop(watcher); Ok(()) }
//! ```
//!
//! # Policy
//! - **What is a config** ([`scan`]): each `NAME.wasm` in the folder (not recursive; dotfiles
//!   and other extensions ignored, symlinks followed), named `NAME`. `NAME.toml` beside it is
//!   its [`sidecar`], overriding its rules and limits without recompiling.
//! - **Untrusted files** ([`file`]): links leading outside the folder are refused, sizes are
//!   capped, and errors name the file and position but never echo its content.
//! - **Selection**: the configs' rules, compiled once per set ([`crate::rules`]). A URL that
//!   no config claims is served by the built-in default config.
//! - **Reload** ([`load`], [`watch`]): changed files are compiled off the request path,
//!   validated (world type-check, `rules` call, rule validation) and swapped in atomically;
//!   unchanged content is never recompiled. A broken or half-written file keeps the last good
//!   version serving, and is reported in the log and in the set's problems (the status
//!   endpoint) until its files change.
//! - **Compile cache** ([`cache`]): compiled artifacts keyed by content hash and the engine's
//!   compatibility key, written atomically.
//!
//! Improves on the reference, which registers configs at import time and needs a restart to
//! change one.

pub mod cache;
pub mod file;
pub mod load;
pub mod scan;
pub mod sidecar;
pub mod watch;

pub use cache::{CompileCache, Compiled};
pub use load::{FolderError, Loader, ReloadReport, Touched};
pub use sidecar::Sidecar;
pub use watch::{WatchOptions, Watcher};
