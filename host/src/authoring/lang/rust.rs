//! Rust: a cdylib crate (`src/lib.rs`) on the SDK in `sdk/`, built for wasm32-unknown-unknown
//! by Debian's rustc-web with `-Zbuild-std` (`scripts/install-guest-toolchain`), linked by
//! wasm-ld-19. The output is a core module with wit-bindgen's component-type section, which
//! the host turns into a component when it loads it.
//!
//! Every project shares one target folder (`~/.cache/session-host/guest-target`), so the
//! wasm32 std is compiled once (1-4 min on 2 cores), not once per project.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::authoring::build::{self, BuildError};
use crate::authoring::project::Project;

/// The source an author edits.
pub(super) const SOURCE: &str = "src/lib.rs";

const TARGET: &str = "wasm32-unknown-unknown";
const CARGO: &str = "/usr/bin/cargo";
const RUSTC: &str = "/usr/bin/rustc";
const LINKER: &str = "wasm-ld-19";

/// Builds the crate and copies its module to `output`.
pub(super) fn build(project: &Project, output: &Path) -> Result<(), BuildError> {
    let missing = BuildError::MissingToolchain {
        tool: "rustc-web and wasm-ld-19",
        script: "scripts/install-guest-toolchain",
    };
    if !Path::new(CARGO).is_file() || !Path::new(RUSTC).is_file() {
        return Err(missing);
    }
    build::find_tool("", LINKER).ok_or(missing)?;
    let target_dir = target_dir();
    let dir = build::absolute(&project.dir)?;
    let mut command = Command::new(CARGO);
    command
        .current_dir(&dir)
        .args(["build", "--release", "--target", TARGET])
        .args(["-Zbuild-std=std,panic_abort", "--target-dir"])
        .arg(&target_dir)
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"));
    // The caller's cargo (a `cargo run`, a test) leaves variables that would point this build
    // at another toolchain or target folder.
    for name in [
        "CARGO_TARGET_DIR",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTUP_TOOLCHAIN",
    ] {
        command.env_remove(name);
    }
    command
        .env("RUSTC", RUSTC)
        .env("RUSTDOC", "/usr/bin/rustdoc")
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER", LINKER);
    build::run(command)?;
    let built = target_dir
        .join(TARGET)
        .join("release")
        .join(format!("{}.wasm", project.name.replace('-', "_")));
    std::fs::copy(&built, output)
        .map(drop)
        .map_err(BuildError::io("the built module"))
}

/// The shared target folder: `$SESSION_HOST_GUEST_TARGET`, else the user's cache.
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SESSION_HOST_GUEST_TARGET").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    crate::configs::CompileCache::default_dir()
        .and_then(|d| d.parent().map(|p| p.join("guest-target")))
        .unwrap_or_else(|| std::env::temp_dir().join("session-host-guest-target"))
}
