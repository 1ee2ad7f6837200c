//! C: `app.c` on the C SDK in `sdk/` (the header, its sources and the vendored cJSON), built
//! for wasm32-wasi by Debian's clang-19 against Debian's wasi-libc after `wit-bindgen c`
//! (crates.io `wit-bindgen-cli` 0.63.0) generated the world's bindings from the project's `wit/`;
//! every tool comes from `scripts/install-guest-toolchain`. The core module becomes a component
//! in-process ([`session_host_componentize`]: the host's own wit-component, with wasmtime 48's
//! WASI preview-1 reactor adapter when the module imports WASI). The same steps as the
//! checkout's `guest-sdk/c/build-config`. About 2 s; offline.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::authoring::build::{self, BuildError};
use crate::authoring::project::Project;

/// The source an author edits.
pub(super) const SOURCE: &str = "app.c";

const CLANG: &str = "clang-19";
const WIT_BINDGEN: &str = "wit-bindgen";
/// Debian's wasi-libc; `--sysroot=/usr` finds it there.
const WASI_LIBC: &str = "/usr/lib/wasm32-wasi/libc.a";

/// Generates the bindings, compiles and links the core module, and componentizes it.
pub(super) fn build(project: &Project, output: &Path) -> Result<(), BuildError> {
    let missing = || BuildError::MissingToolchain {
        tool: "clang-19, wasi-libc or wit-bindgen",
        script: "scripts/install-guest-toolchain",
    };
    let clang = build::find_tool("", CLANG).ok_or_else(missing)?;
    let wit_bindgen = wit_bindgen().ok_or_else(missing)?;
    if !Path::new(WASI_LIBC).is_file() {
        return Err(missing());
    }
    let dir = build::absolute(&project.dir)?;
    let scratch = tempfile::tempdir().map_err(BuildError::io("creating a scratch folder"))?;
    let bindings = scratch.path().join("bindings");
    let mut generate = Command::new(wit_bindgen);
    generate
        .args(["c", "--world", "session-config", "--out-dir"])
        .arg(&bindings)
        .arg(dir.join("wit"));
    build::run(generate)?;
    let core = scratch.path().join("core.wasm");
    build::run(compile(&clang, &dir, &bindings, &core)?)?;
    let module = std::fs::read(&core).map_err(BuildError::io("reading the core module"))?;
    let component = session_host_componentize::componentize(&module)?;
    std::fs::write(output, component).map_err(BuildError::io("writing the component"))
}

/// The clang-19 command: a wasm32-wasi reactor (no `main`) from the project's `app.c`, the SDK
/// and the bindings. `CJSON_NESTING_LIMIT=128` bounds cJSON's recursion on the guest's stack.
fn compile(clang: &Path, dir: &Path, bindings: &Path, core: &Path) -> Result<Command, BuildError> {
    let sdk = dir.join("sdk");
    let mut sources = vec![dir.join(SOURCE), sdk.join("vendor/cjson/cJSON.c")];
    let read = std::fs::read_dir(sdk.join("src")).map_err(BuildError::io("reading sdk/src"))?;
    let mut sdk_sources: Vec<PathBuf> = read
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "c"))
        .collect();
    sdk_sources.sort();
    sources.extend(sdk_sources);
    let mut command = Command::new(clang);
    command
        .args([
            "--target=wasm32-wasi",
            "--sysroot=/usr",
            "-mexec-model=reactor",
        ])
        .args(["-O2", "-std=c11", "-D_DEFAULT_SOURCE", "-Wall", "-Wextra"])
        .args(["-DCJSON_NESTING_LIMIT=128", "-Wl,--strip-debug"])
        .arg(include(&sdk.join("include")))
        .arg(include(&sdk.join("vendor/cjson")))
        .arg(include(bindings))
        .args(sources)
        .arg(bindings.join("session_config.c"))
        .arg(bindings.join("session_config_component_type.o"))
        .arg("-o")
        .arg(core);
    Ok(command)
}

fn include(dir: &Path) -> String {
    format!("-I{}", dir.display())
}

/// `wit-bindgen` on `PATH`, else in cargo's bin folder, where `cargo install` put it.
fn wit_bindgen() -> Option<PathBuf> {
    build::find_tool("", WIT_BINDGEN).or_else(|| {
        let cargo_home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))?;
        Some(cargo_home.join("bin").join(WIT_BINDGEN)).filter(|path| path.is_file())
    })
}
