//! Embeds what `session-host new` writes into a config project: the per-language templates
//! (`host/templates/<lang>/`), the SDKs (`guest-sdk/`) and the WIT contract (`wit/`).
//!
//! It generates `$OUT_DIR/authoring_files.rs`, a sorted table of `(path, include_str!(..))`, so
//! the binary never reads these files at run time and a new template file (say
//! `host/templates/c/app.c`) is picked up without a code change. Only text files of the listed
//! kinds are embedded; caches (`__pycache__`, `node_modules`, `target`) are skipped.
//!
//! It also links the shipped `session-host` binary (`--profile dist`) with packed relative
//! relocations on Linux with glibc 2.36 or later (see [`pack_relative_relocations`]).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Folders embedded, as `(folder relative to host/, prefix in the table)`.
const TREES: [(&str, &str); 9] = [
    ("templates", "templates"),
    ("../guest-sdk/src", "sdk/rust/src"),
    ("../guest-sdk/macros/src", "sdk/rust/macros/src"),
    (
        "../guest-sdk/python/session_host_sdk",
        "sdk/python/session_host_sdk",
    ),
    ("../guest-sdk/js/src", "sdk/js"),
    ("../guest-sdk/c/include", "sdk/c/include"),
    ("../guest-sdk/c/src", "sdk/c/src"),
    ("../guest-sdk/c/vendor", "sdk/c/vendor"),
    ("../wit", "wit"),
];

/// Single files embedded, as `(file relative to host/, path in the table)`.
const FILES: [(&str, &str); 2] = [
    ("../guest-sdk/Cargo.toml", "sdk/rust/Cargo.toml"),
    (
        "../guest-sdk/macros/Cargo.toml",
        "sdk/rust/macros/Cargo.toml",
    ),
];

/// Folders never embedded.
const SKIPPED: [&str; 3] = ["__pycache__", "node_modules", "target"];

fn main() {
    pack_relative_relocations();
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let mut entries = Vec::new();
    for (folder, prefix) in TREES {
        let root = manifest.join(folder);
        println!("cargo::rerun-if-changed={}", root.display());
        collect(&root, &root, prefix, &mut entries);
    }
    for (file, name) in FILES {
        let path = manifest.join(file);
        println!("cargo::rerun-if-changed={}", path.display());
        entries.push((name.to_owned(), path));
    }
    entries.sort();
    let mut out = String::from("&[\n");
    for (name, path) in &entries {
        let _ = writeln!(
            out,
            "    ({name:?}, include_str!({:?})),",
            path.display().to_string()
        );
    }
    out.push(']');
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    std::fs::write(dest.join("authoring_files.rs"), out).expect("OUT_DIR is writable");
}

/// Links the shipped binary (`cargo build --profile dist`) with `-z pack-relative-relocs`
/// (DT_RELR) on Linux with glibc 2.36 or later.
///
/// The binary is position-independent, so every pointer in its read-only tables (vtables,
/// string tables, Cranelift's ISLE tables) needs a load-time relocation: 36,000 of them in the
/// `dist` binary, 24 bytes each in `.rela.dyn` (0.87 MB of the stripped 30 MB, issue 17 item 5).
/// DT_RELR packs runs of them into bitmaps, a few KB in all. The loader applies the same
/// relocations, so behaviour is unchanged.
///
/// Policy: only the `dist` profile, and only when the building machine's glibc (`getconf
/// GNU_LIBC_VERSION`) is 2.36 or later. The linker records DT_RELR as a `GLIBC_ABI_DT_RELR`
/// version need, which an older glibc refuses at start; a binutils that knows the option
/// (2.38, Ubuntu 22.04) next to a glibc that does not (2.35) would give a binary that does not
/// start on the machine that built it. The `release` and dev builds (the README's `cargo run
/// --release -- demo`, the tests) never get the flag. Tests, benches and other targets are
/// left as they are: only `[[bin]]` targets get it.
fn pack_relative_relocations() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" && profile_dir_is("dist") && glibc_at_least(2, 36) {
        println!("cargo::rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether this build's profile directory (`OUT_DIR` is `<profile dir>/build/<pkg>/out`) is
/// named `name`: cargo gives a custom profile a directory of its own name.
fn profile_dir_is(name: &str) -> bool {
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default());
    out.ancestors()
        .nth(3)
        .and_then(Path::file_name)
        .is_some_and(|dir| dir == name)
}

/// Whether the building machine's glibc is at least `major.minor` (`getconf GNU_LIBC_VERSION`
/// prints `glibc 2.36`); false when it cannot tell.
fn glibc_at_least(major: u32, minor: u32) -> bool {
    let Ok(out) = std::process::Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
    else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.trim().strip_prefix("glibc ").unwrap_or_default();
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let found = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    found >= (major, minor)
}

/// Adds every embeddable file under `dir` to `entries`, named `prefix/<path under root>`.
fn collect(root: &Path, dir: &Path, prefix: &str, entries: &mut Vec<(String, PathBuf)>) {
    let Ok(read) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in read.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if !SKIPPED.contains(&name.as_str()) {
                println!("cargo::rerun-if-changed={}", path.display());
                collect(root, &path, prefix, entries);
            }
        } else if !name.ends_with(".pyc") {
            let relative = path.strip_prefix(root).expect("under root");
            let relative = relative.to_string_lossy().replace('\\', "/");
            entries.push((format!("{prefix}/{relative}"), path));
        }
    }
}
