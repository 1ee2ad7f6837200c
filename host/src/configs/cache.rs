//! The compile cache: compiled configs serialized on disk, so that a restart with many configs
//! loads them in milliseconds instead of compiling them (seconds for Python and JavaScript).
//!
//! Policy:
//! - An artifact is `DIR/<sha256 of the .wasm>-<runtime compatibility key>.cwasm`: a new
//!   wasmtime version or engine setting uses new files instead of misreading old ones.
//! - Artifacts are written to a temporary file in `DIR` and renamed into place, so a reader
//!   (this process or another host sharing the cache) sees a whole file or none, and a file
//!   that might be memory-mapped is never overwritten in place.
//! - An artifact that fails to load (truncated, corrupt, or rejected by wasmtime) is compiled
//!   again and replaced, with a warning; the cache is never a reason for a config to fail.
//! - A cache that cannot be written (read-only, full disk) only costs speed: the config is
//!   compiled and served, with a warning.
//! - Artifacts hold machine code that is loaded as is: the cache directory must be writable
//!   only by the host's user (it is created with mode 0700).
//! - Nothing is evicted: old artifacts stay until removed by hand (they are a few times the
//!   size of their `.wasm`).

use std::path::{Path, PathBuf};

use crate::plugin::{CallEnv, GuestConfig, LoadError, LoadErrorKind, Runtime};

/// Where compiled configs are kept.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
}

/// How a config was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compiled {
    /// Loaded from the cache.
    Hit,
    /// Compiled (and stored, if the cache is writable).
    Miss,
}

impl CompileCache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
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
        let path = self
            .dir
            .join(format!("{sha256}-{}.cwasm", runtime.compatibility_key()));
        if let Ok(artifact) = tokio::fs::read(&path).await {
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
        let dir = self.dir.clone();
        let stored = tokio::task::spawn_blocking(move || store(&dir, &path, &artifact)).await;
        if let Ok(Err(e)) | Err(e) = stored.map_err(std::io::Error::other) {
            tracing::warn!(config = name, "cannot write the compile cache: {e}");
        }
        Ok((plugin, Compiled::Miss))
    }
}

/// Writes `artifact` at `path` atomically: a temporary file in `dir`, renamed into place.
fn store(dir: &Path, path: &Path, artifact: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    // No fsync: it would add milliseconds to every reload, and an artifact lost or truncated
    // by a crash is only a cache miss (it fails to load and is compiled again).
    file.write_all(artifact)?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}
