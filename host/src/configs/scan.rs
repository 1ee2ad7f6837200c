//! Listing the configs folder: which `NAME.wasm` files and `NAME.toml` sidecars it holds, and a
//! cheap fingerprint of each, so that a rescan reads only files whose metadata changed.
//!
//! Policy:
//! - Only `*.wasm` files are configs, named by their stem; `NAME.toml` beside one is its
//!   sidecar. The listing is not recursive.
//! - Names starting with `.` are ignored: editors' swap and temporary files (`.x.wasm.swp`),
//!   and Kubernetes' `..data` and `..2024_…` entries. Anything else (`x.wasm~`, `x.wasm.tmp`)
//!   is ignored by its extension.
//! - Symbolic links are followed, so a Kubernetes ConfigMap (each file a link through the
//!   `..data` link, swapped atomically on update) reads as plain files, and the fingerprint is
//!   the target's: a swap changes it. Whether a link may be read (it must stay inside the
//!   folder) is decided when the file is read ([`super::file`]).

use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// What a file's metadata says about its content: if all of it is unchanged, so is the file
/// (as far as a rescan can tell without reading).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
    device: u64,
}

impl Fingerprint {
    /// Whether the file was modified less than `window` ago (or its time is unknown).
    pub fn modified_within(&self, window: std::time::Duration) -> bool {
        self.modified
            .is_none_or(|m| m.elapsed().map_or(true, |age| age < window))
    }

    fn of(metadata: &std::fs::Metadata) -> Self {
        Self {
            len: metadata.len(),
            modified: metadata.modified().ok(),
            inode: metadata.ino(),
            device: metadata.dev(),
        }
    }
}

/// A file and its fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The path in the folder (not the link target).
    pub path: PathBuf,
    /// Its fingerprint.
    pub fingerprint: Fingerprint,
}

/// A config in the folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The file stem.
    pub name: String,
    /// `NAME.wasm`.
    pub wasm: Found,
    /// `NAME.toml`, when present.
    pub sidecar: Option<Found>,
}

/// The folder's configs, by name, and sidecars with no config beside them.
#[derive(Debug, Default)]
pub struct Listing {
    /// Configs by name.
    pub configs: BTreeMap<String, Candidate>,
    /// Sidecars whose `.wasm` is missing.
    pub orphans: Vec<PathBuf>,
}

/// Lists `dir`.
///
/// # Errors
/// The folder cannot be read. A file that vanishes while it is listed is skipped.
pub fn scan(dir: &Path) -> io::Result<Listing> {
    let mut wasm = BTreeMap::new();
    let mut toml = BTreeMap::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let Some((name, ext)) = split(&path) else {
            continue;
        };
        // Follows links; a dangling link or a vanished file is skipped.
        let Ok(metadata) = std::fs::metadata(&path) else {
            continue;
        };
        if !metadata.is_file() {
            continue;
        }
        let found = Found {
            fingerprint: Fingerprint::of(&metadata),
            path,
        };
        match ext {
            "wasm" => wasm.insert(name, found),
            _ => toml.insert(name, found),
        };
    }
    let mut listing = Listing::default();
    for (name, wasm) in wasm {
        let sidecar = toml.remove(&name);
        let candidate = Candidate {
            name: name.clone(),
            wasm,
            sidecar,
        };
        listing.configs.insert(name, candidate);
    }
    listing.orphans = toml.into_values().map(|f| f.path).collect();
    Ok(listing)
}

/// A config file's name and extension (`wasm` or `toml`); `None` for anything else.
fn split(path: &Path) -> Option<(String, &'static str)> {
    let file = path.file_name()?.to_str()?;
    if file.starts_with('.') {
        return None;
    }
    let (name, ext) = file.rsplit_once('.')?;
    let ext = match ext {
        "wasm" => "wasm",
        "toml" => "toml",
        _ => return None,
    };
    (!name.is_empty()).then(|| (name.to_owned(), ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_configs_sidecars_and_orphans_and_skips_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        for file in [
            "a.wasm",
            "a.toml",
            "b.wasm",
            "c.toml",
            ".a.wasm.swp",
            "b.wasm~",
            "b.wasm.tmp",
            "README.md",
        ] {
            std::fs::write(dir.path().join(file), b"x").unwrap();
        }
        std::fs::create_dir(dir.path().join("sub.wasm")).unwrap();
        let listing = scan(dir.path()).unwrap();
        let names: Vec<_> = listing.configs.keys().cloned().collect();
        assert_eq!(names, ["a", "b"]);
        assert!(listing.configs["a"].sidecar.is_some());
        assert!(listing.configs["b"].sidecar.is_none());
        assert_eq!(listing.orphans, [dir.path().join("c.toml")]);
    }

    #[test]
    fn follows_links_and_fingerprints_their_target() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("..v1")).unwrap();
        std::fs::write(dir.path().join("..v1/a.wasm"), b"one").unwrap();
        std::os::unix::fs::symlink("..v1", dir.path().join("..data")).unwrap();
        std::os::unix::fs::symlink("..data/a.wasm", dir.path().join("a.wasm")).unwrap();
        std::os::unix::fs::symlink("..data/gone.wasm", dir.path().join("gone.wasm")).unwrap();
        let before = scan(dir.path()).unwrap();
        assert_eq!(before.configs.keys().collect::<Vec<_>>(), ["a"]);
        std::fs::create_dir(dir.path().join("..v2")).unwrap();
        std::fs::write(dir.path().join("..v2/a.wasm"), b"two").unwrap();
        std::os::unix::fs::symlink("..v2", dir.path().join("..tmp")).unwrap();
        std::fs::rename(dir.path().join("..tmp"), dir.path().join("..data")).unwrap();
        let after = scan(dir.path()).unwrap();
        assert_ne!(
            before.configs["a"].wasm.fingerprint,
            after.configs["a"].wasm.fingerprint
        );
    }
}
