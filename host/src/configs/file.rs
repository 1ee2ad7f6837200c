//! Reading a config's files as untrusted input: whatever can write to the configs folder must
//! not make the host read (and then report) files from elsewhere, nor read without bound.
//!
//! Policy:
//! - A file is read only if its fully resolved path lies inside the configs folder (itself
//!   resolved). Links that stay inside are followed, so a Kubernetes ConfigMap (each file a
//!   link through `..data`, itself a link to `..2024_…`) reads as plain files; a link to
//!   `/proc/self/environ`, `~/.ssh/…` or `../secrets` is refused, naming only the link.
//! - The resolved path is opened with `O_NOFOLLOW`, so a final link swapped in after the check
//!   is refused too. (A parent folder swapped between the check and the open is not caught:
//!   whoever can do that owns the folder anyway.)
//! - Size caps: [`MAX_WASM_BYTES`] for a `.wasm`, [`MAX_SIDECAR_BYTES`] for a sidecar; a larger
//!   file is refused before it is read, and a file that grows while it is read stops at the
//!   cap + 1 byte and is refused.
//! - Errors name the file (the path in the folder) and the reason, never its content.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The largest `.wasm` loaded: 128 MiB. Protects the host's memory and compile time from a
/// huge or endless file (`/dev/zero` behind a link); the largest real configs (Python and
/// JavaScript with their interpreters) are about 20 MiB.
pub const MAX_WASM_BYTES: u64 = 128 << 20;

/// The largest sidecar loaded: 64 KiB, hundreds of times a real one (a few rules and limits).
pub const MAX_SIDECAR_BYTES: u64 = 64 << 10;

/// Why a config file was not read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file resolves outside the configs folder.
    #[error("{path}: a link leading outside the configs folder; refused")]
    Outside {
        /// The path in the folder.
        path: String,
    },
    /// The file is larger than its cap.
    #[error("{path}: larger than the {cap}-byte limit; refused")]
    TooLarge {
        /// The path in the folder.
        path: String,
        /// The cap.
        cap: u64,
    },
    /// Reading failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path in the folder.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Reads `path` (a file in `dir`) if it resolves inside `dir` and holds at most `cap` bytes.
///
/// # Errors
/// See [`FileError`].
pub fn read_contained(dir: &Path, path: &Path, cap: u64) -> Result<Vec<u8>, FileError> {
    let shown = path.display().to_string();
    let io = |source| FileError::Io {
        path: shown.clone(),
        source,
    };
    let root = dir.canonicalize().map_err(io)?;
    let resolved = path.canonicalize().map_err(io)?;
    if !resolved.starts_with(&root) {
        return Err(FileError::Outside { path: shown });
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&resolved)
        .map_err(io)?;
    let too_large = || FileError::TooLarge {
        path: shown.clone(),
        cap,
    };
    if file.metadata().map_err(io)?.len() > cap {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(cap + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > cap {
        return Err(too_large());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    #[test]
    fn issue_13_links_inside_the_folder_are_followed_and_links_out_refused() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("environ"), b"ZYTE_API_KEY=k").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("..2024_01")).unwrap();
        std::fs::write(d.join("..2024_01/a.toml"), b"[rules]").unwrap();
        symlink("..2024_01", d.join("..data")).unwrap();
        symlink("..data/a.toml", d.join("a.toml")).unwrap();
        symlink(outside.path().join("environ"), d.join("b.toml")).unwrap();
        symlink("../../../../../../proc/self/environ", d.join("c.toml")).unwrap();
        assert_eq!(
            read_contained(d, &d.join("a.toml"), 100).unwrap(),
            b"[rules]"
        );
        for name in ["b.toml", "c.toml"] {
            let e = read_contained(d, &d.join(name), 100).unwrap_err();
            assert!(matches!(e, FileError::Outside { .. }), "{e}");
            assert!(!e.to_string().contains("ZYTE"), "{e}");
            assert!(e.to_string().contains(name), "{e}");
        }
    }

    #[test]
    fn issue_13_files_past_the_cap_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.toml");
        std::fs::write(&path, [b'x'; 101]).unwrap();
        let e = read_contained(dir.path(), &path, 100).unwrap_err();
        assert!(matches!(e, FileError::TooLarge { cap: 100, .. }), "{e}");
        assert_eq!(read_contained(dir.path(), &path, 101).unwrap().len(), 101);
    }
}
