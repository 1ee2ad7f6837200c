//! Config authoring: the library side of `session-host new`, `plugin build`, `plugin trace`
//! and `plugin test` (issue 18).
//!
//! A *config project* is a folder made by [`new::scaffold`]: a `config-project.toml`
//! ([`Project`]) naming the config and its [`Lang`], the source with every hook present as a
//! commented-out override, the SDK and WIT of this binary (so the project builds without a
//! session-host checkout), a `build` script, a README and a `scenario.toml`.
//!
//! Policy:
//! - **Templates** are embedded in the binary (`host/templates/<lang>/`, `host/build.rs`):
//!   nothing is read from disk at run time, and a project always matches the WIT of the
//!   binary that made it.
//! - **Builds** ([`build`]) never download a toolchain: they use the ones
//!   `scripts/install-guest-toolchain`, `scripts/setup-python` and `scripts/setup-js` install,
//!   and a missing one is an error naming that script.
//! - **Traces and tests** ([`trace`], [`scenario`]) observe the hooks through a
//!   [`crate::engine::HookObserver`]; the engine's own behaviour is unchanged.

pub mod build;
mod embedded;
pub mod harness;
pub mod lang;
pub mod new;
mod project;
pub mod scenario;
pub mod trace;

pub use lang::Lang;
pub use project::{PROJECT_FILE, Project, ProjectError};
