//! The compile cache: compiled configs serialized on disk, so that a restart with many configs
//! loads them in milliseconds instead of compiling them (seconds for Python and JavaScript).
//!
//! Policy:
//! - An artifact is `DIR/<sha256 of the .wasm>-<runtime compatibility key>.cwasm`: a new
//!   wasmtime version or engine setting uses new files instead of misreading old ones.
//! - **Trust.** Artifacts hold machine code that wasmtime loads as is, so whoever can write an
//!   entry runs code in the host. The directory is created `0700`; an existing directory that
//!   is not owned by the host's user, or that group or others may write, is refused with a
//!   warning and the host compiles every config instead (the cache is never a reason for a
//!   config to fail).
//! - **Authentication.** Each entry is `HMAC-SHA256(key, file name ‖ artifact) ‖ artifact`, with
//!   a 32-byte per-host key in `DIR/hmac.key` (created `0600`, refused like the directory if
//!   another user owns it or others may read it). An entry is checked, in memory, before it is
//!   deserialized; one that fails (tampered, truncated, copied under another name, written with
//!   another key) is compiled again and replaced, with a warning.
//! - Artifacts are written to a temporary file in `DIR` and renamed into place, so a reader
//!   (this process or another host sharing the cache) sees a whole file or none.
//! - A cache that cannot be written (read-only, full disk) only costs speed: the config is
//!   compiled and served, with a warning.
//! - **Eviction.** After each write, the least recently used entries (by modification time,
//!   refreshed on every hit) are deleted until the entries total at most
//!   [`CompileCache::max_bytes`] (default [`DEFAULT_MAX_BYTES`], `--cache-max-mb`). The entry
//!   just written is never evicted, even if alone it exceeds the bound.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::OnceCell;

use crate::plugin::{CallEnv, GuestConfig, LoadError, LoadErrorKind, Runtime};

/// The default bound on the entries' total size: 1 GiB, about fifty Python or JavaScript
/// configs (an artifact is about 20 MiB for those, well under 1 MiB for Rust ones).
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;

/// The per-host key's file, in the cache directory.
const KEY_FILE: &str = "hmac.key";
/// The key's length, and the tag's (HMAC-SHA256).
const KEY_LEN: usize = 32;

/// Where compiled configs are kept.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
    max_bytes: u64,
    /// The key, once the directory has been checked (or why the cache is off).
    key: Arc<OnceCell<Option<[u8; KEY_LEN]>>>,
}

/// How a config was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compiled {
    /// Loaded from the cache.
    Hit,
    /// Compiled (and stored, if the cache is usable).
    Miss,
}

/// Why a cache directory (or its key file) is not trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Untrusted {
    /// Another user owns it.
    #[error("{path} is owned by uid {owner}, not by this user (uid {user})")]
    ForeignOwner {
        /// The directory or file.
        path: String,
        /// Its owner.
        owner: u32,
        /// The host's effective user.
        user: u32,
    },
    /// Others may write it (or read it, for the key).
    #[error("{path} has mode {mode:o}: group or others may {what} it")]
    OpenMode {
        /// The directory or file.
        path: String,
        /// Its permission bits.
        mode: u32,
        /// `write` or `read`.
        what: &'static str,
    },
    /// It is not a directory (or the key not a regular file of the right length).
    #[error("{0} is not what the cache expects (a directory, or a {KEY_LEN}-byte key file)")]
    Shape(String),
    /// It cannot be created or read.
    #[error("{0}")]
    Io(String),
}

/// Whether a directory (`key = false`) or key file (`key = true`) with `owner` and `mode` may
/// be trusted by user `user`.
///
/// # Errors
/// The reason it may not.
pub fn judge(path: &Path, owner: u32, mode: u32, user: u32, key: bool) -> Result<(), Untrusted> {
    let path = path.display().to_string();
    if owner != user {
        return Err(Untrusted::ForeignOwner { path, owner, user });
    }
    let (forbidden, what) = if key {
        (0o077, "read")
    } else {
        (0o022, "write")
    };
    if mode & forbidden != 0 {
        return Err(Untrusted::OpenMode {
            path,
            mode: mode & 0o7777,
            what,
        });
    }
    Ok(())
}

impl CompileCache {
    /// A cache in `dir` (created and checked on first use), bounded by [`DEFAULT_MAX_BYTES`].
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            max_bytes: DEFAULT_MAX_BYTES,
            key: Arc::default(),
        }
    }

    /// The same cache, bounded by `max_bytes` of entries.
    pub fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// The bound on the entries' total size.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// `$XDG_CACHE_HOME/session-host/compiled`, else `$HOME/.cache/session-host/compiled`.
    pub fn default_dir() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?;
        Some(base.join("session-host").join("compiled"))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The key, after checking the directory; `None` (warned once) when it is not trusted.
    async fn key(&self) -> Option<[u8; KEY_LEN]> {
        *self
            .key
            .get_or_init(|| async {
                let dir = self.dir.clone();
                let opened = tokio::task::spawn_blocking(move || open(&dir)).await;
                match opened
                    .map_err(|e| Untrusted::Io(e.to_string()))
                    .and_then(|r| r)
                {
                    Ok(key) => Some(key),
                    Err(e) => {
                        tracing::warn!("compile cache off, compiling every config: {e}");
                        None
                    }
                }
            })
            .await
    }

    /// Loads config `name` from `bytes`, whose SHA-256 is `sha256` (hex), through the cache.
    ///
    /// # Errors
    /// The config itself is invalid (see [`Runtime::load_bytes`]).
    pub async fn load(
        &self,
        runtime: &Runtime,
        name: &str,
        bytes: Vec<u8>,
        sha256: &str,
        env: CallEnv,
    ) -> Result<(GuestConfig, Compiled), LoadError> {
        let Some(key) = self.key().await else {
            let plugin = runtime.load_bytes(name, bytes, env).await?;
            return Ok((plugin, Compiled::Miss));
        };
        let file = format!("{sha256}-{}.cwasm", runtime.compatibility_key());
        let path = self.dir.join(&file);
        if let Some(artifact) = read_entry(&key, &path, &file).await {
            match runtime.load_precompiled(name, &artifact, env.clone()).await {
                Ok(plugin) => return Ok((plugin, Compiled::Hit)),
                Err(LoadError {
                    kind: LoadErrorKind::Compile(e),
                    ..
                }) => tracing::warn!(
                    config = name,
                    file = %path.display(),
                    "cached artifact unusable, compiling again: {e}"
                ),
                Err(e) => return Err(e),
            }
        }
        let compiler = runtime.clone();
        let owned = name.to_owned();
        let artifact = tokio::task::spawn_blocking(move || compiler.precompile(&owned, bytes))
            .await
            .map_err(|e| LoadError {
                config: name.to_owned(),
                kind: LoadErrorKind::Compile(format!("compilation task failed: {e}")),
            })??;
        let plugin = runtime.load_precompiled(name, &artifact, env).await?;
        let (dir, max) = (self.dir.clone(), self.max_bytes);
        let stored = tokio::task::spawn_blocking(move || {
            store(&dir, &path, &sign(&key, &file, &artifact), &artifact)?;
            evict(&dir, max, &path)
        })
        .await;
        if let Ok(Err(e)) | Err(e) = stored.map_err(std::io::Error::other) {
            tracing::warn!(config = name, "cannot write the compile cache: {e}");
        }
        Ok((plugin, Compiled::Miss))
    }
}

/// Creates `dir` (`0700`) if needed, checks it, and reads or creates its key.
fn open(dir: &Path) -> Result<[u8; KEY_LEN], Untrusted> {
    use std::os::unix::fs::DirBuilderExt;
    let io = |e: std::io::Error| Untrusted::Io(format!("{}: {e}", dir.display()));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io)?;
    let user = effective_uid().map_err(io)?;
    let meta = std::fs::symlink_metadata(dir).map_err(io)?;
    if !meta.is_dir() {
        return Err(Untrusted::Shape(dir.display().to_string()));
    }
    judge(dir, meta.uid(), meta.mode(), user, false)?;
    let path = dir.join(KEY_FILE);
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path);
    if let Ok(mut file) = created {
        let key: [u8; KEY_LEN] = rand::random();
        std::io::Write::write_all(&mut file, &key).map_err(io)?;
        return Ok(key);
    }
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    judge(&path, meta.uid(), meta.mode(), user, true)?;
    let mut key = [0; KEY_LEN];
    if !meta.is_file() || meta.len() != KEY_LEN as u64 {
        return Err(Untrusted::Shape(path.display().to_string()));
    }
    file.read_exact(&mut key).map_err(io)?;
    Ok(key)
}

/// The host's effective user: the owner of `/proc/self` (Linux), without `unsafe` FFI.
fn effective_uid() -> std::io::Result<u32> {
    Ok(std::fs::metadata("/proc/self")?.uid())
}

/// The tag of entry `file` holding `artifact`.
fn sign(key: &[u8; KEY_LEN], file: &str, artifact: &[u8]) -> [u8; KEY_LEN] {
    mac(key, file, artifact).finalize().into_bytes().into()
}

fn mac(key: &[u8; KEY_LEN], file: &str, artifact: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(file.as_bytes());
    mac.update(&[0]);
    mac.update(artifact);
    mac
}

/// The artifact of entry `file` at `path` if its tag is right (refreshing its time for the
/// eviction order); `None`, with a warning when it exists but fails, otherwise.
async fn read_entry(key: &[u8; KEY_LEN], path: &Path, file: &str) -> Option<Vec<u8>> {
    let mut bytes = tokio::fs::read(path).await.ok()?;
    if bytes.len() >= KEY_LEN {
        let artifact = bytes.split_off(KEY_LEN);
        if mac(key, file, &artifact).verify_slice(&bytes).is_ok() {
            let touched = std::fs::File::options().append(true).open(path);
            drop(touched.and_then(|f| f.set_modified(std::time::SystemTime::now())));
            return Some(artifact);
        }
    }
    tracing::warn!(file = %path.display(), "cache entry failed authentication, compiling again");
    None
}

/// Writes `tag ‖ artifact` at `path` atomically: a temporary file in `dir`, renamed into place.
fn store(dir: &Path, path: &Path, tag: &[u8], artifact: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    // No fsync: it would add milliseconds to every reload, and an artifact lost or truncated
    // by a crash is only a cache miss (it fails authentication and is compiled again).
    file.write_all(tag)?;
    file.write_all(artifact)?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Deletes the least recently used entries of `dir` until they total at most `max` bytes,
/// never `keep`.
fn evict(dir: &Path, max: u64, keep: &Path) -> std::io::Result<()> {
    let mut entries: Vec<(std::time::SystemTime, u64, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_file() && path.extension().is_some_and(|e| e == "cwasm") {
            entries.push((meta.modified()?, meta.len(), path));
        }
    }
    let mut total: u64 = entries.iter().map(|e| e.1).sum();
    entries.sort();
    for (_, len, path) in entries {
        if total <= max {
            break;
        }
        if path != keep {
            std::fs::remove_file(&path)?;
            total -= len;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
