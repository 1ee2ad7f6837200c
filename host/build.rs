//! Embeds what `session-host new` writes into a config project: the per-language templates
//! (`host/templates/<lang>/`), the SDKs (`guest-sdk/`) and the WIT contract (`wit/`).
//!
//! It generates `$OUT_DIR/authoring_files.rs`, a sorted table of `(path, include_str!(..))`, so
//! the binary never reads these files at run time and a new template file (say
//! `host/templates/c/app.c`) is picked up without a code change. Only text files of the listed
//! kinds are embedded; caches (`__pycache__`, `node_modules`, `target`) are skipped.

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
