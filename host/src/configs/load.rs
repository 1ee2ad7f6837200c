//! Loading the folder: what changed since the last load, compiling only that, and building the
//! next [`ConfigSet`] with the last good version of every config that broke.
//!
//! Policy:
//! - A config whose files' fingerprints are unchanged is not read again; one whose content
//!   hashes are unchanged (a `touch`, a copy of the same file) is not loaded again.
//! - A changed config is loaded off the request path: sidecar parsed, compiled (through the
//!   [`CompileCache`] when there is one), type-checked, `rules` called, its rule validated.
//!   If any step fails, the config's last good version keeps serving (none if it never
//!   loaded), and the failure is reported as a [`ConfigProblem`] until the files change again.
//! - A config whose file is gone is dropped; so is its last good version.
//! - If the new rules form an `instead_of` cycle, the new versions on the cycle are rejected
//!   (their last good versions serve) with the cycle as their problem.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use sha2::{Digest, Sha256};

use super::cache::{CompileCache, Compiled};
use super::file::{self, FileError};
use super::scan::{self, Candidate, Fingerprint, Listing};
use super::sidecar::Sidecar;
use crate::engine::{ConfigEntry, ConfigProblem, ConfigSet};
use crate::plugin::{CallEnv, HookErrorKind, LoadError, LoadErrorKind, Runtime};
use crate::rules::{RuleSet, RulesError};

/// What the loader knows of one config.
struct Known {
    wasm: Fingerprint,
    sidecar: Option<Fingerprint>,
    /// SHA-256 of the `.wasm` and of the sidecar (empty when there is none).
    hashes: (String, String),
    /// The version serving.
    good: Option<ConfigEntry>,
    /// The current files' version, loaded but not serving because its rules conflict with
    /// other configs' (an `instead_of` cycle); retried on every change.
    pending: Option<ConfigEntry>,
    /// Why the current files are not serving.
    error: Option<String>,
    /// Whether that error may pass (an I/O error, a busy machine): the files are loaded again
    /// on the next reload even if they did not change.
    retry: bool,
}

/// What one reload did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ReloadReport {
    /// Configs loaded (new or changed), and whether from the cache.
    pub loaded: Vec<(String, Compiled)>,
    /// Configs whose files were removed.
    pub removed: Vec<String>,
    /// Configs (and orphan sidecars) that failed, whatever serves instead.
    pub problems: Vec<ConfigProblem>,
}

/// Why the folder cannot be loaded at all.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the configs folder {}: {source}", dir.display())]
pub struct FolderError {
    /// The folder.
    pub dir: PathBuf,
    /// The cause.
    #[source]
    pub source: std::io::Error,
}

/// Loads a configs folder, again and again, remembering what it loaded.
pub struct Loader {
    dir: PathBuf,
    runtime: Runtime,
    cache: Option<CompileCache>,
    known: BTreeMap<String, Known>,
    orphans: Vec<PathBuf>,
}

impl Loader {
    /// A loader of `dir`, compiling with `runtime` through `cache`.
    pub fn new(dir: impl Into<PathBuf>, runtime: Runtime, cache: Option<CompileCache>) -> Self {
        Self {
            dir: dir.into(),
            runtime,
            cache,
            known: BTreeMap::new(),
            orphans: Vec::new(),
        }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Scans the folder and loads what changed, judging by file metadata. `None` when nothing
    /// did (the set in force is still right); otherwise the new set, to install, and what
    /// happened.
    ///
    /// # Errors
    /// The folder cannot be listed; nothing changes then.
    pub async fn reload(&mut self) -> Result<Option<(ConfigSet, ReloadReport)>, FolderError> {
        self.reload_with(&Touched::default()).await
    }

    /// Like [`Self::reload`], but the files in `touched` (named by filesystem events) are read
    /// and hashed even if their metadata looks unchanged: two versions of the same length
    /// written within the filesystem's timestamp granularity, with a recycled inode, have equal
    /// metadata.
    ///
    /// # Errors
    /// The folder cannot be listed; nothing changes then.
    pub async fn reload_with(
        &mut self,
        touched: &Touched,
    ) -> Result<Option<(ConfigSet, ReloadReport)>, FolderError> {
        let dir = self.dir.clone();
        let listing = tokio::task::spawn_blocking(move || scan::scan(&dir))
            .await
            .map_err(std::io::Error::other)
            .and_then(|r| r)
            .map_err(|source| FolderError {
                dir: self.dir.clone(),
                source,
            })?;
        let mut report = ReloadReport::default();
        let mut changed = self.orphans != listing.orphans;
        let gone: Vec<String> = (self.known.keys())
            .filter(|name| !listing.configs.contains_key(*name))
            .cloned()
            .collect();
        for name in gone {
            self.known.remove(&name);
            tracing::info!(config = %name, "config removed");
            report.removed.push(name);
            changed = true;
        }
        for candidate in listing.configs.values() {
            changed |= self
                .refresh(candidate, touched.covers(candidate), &mut report)
                .await;
        }
        if !changed {
            return Ok(None);
        }
        let Listing { orphans, .. } = listing;
        self.orphans = orphans;
        let set = self.assemble();
        report.problems = set.problems().to_vec();
        Ok(Some((set, report)))
    }

    /// Brings `candidate` up to date; a new version becomes pending (it serves once the whole
    /// set's rules compile). Returns whether anything changed.
    async fn refresh(
        &mut self,
        candidate: &Candidate,
        touched: bool,
        report: &mut ReloadReport,
    ) -> bool {
        let sidecar_print = candidate.sidecar.as_ref().map(|s| s.fingerprint);
        if let Some(known) = self.known.get(&candidate.name)
            && !touched
            && !known.retry
            && known.wasm == candidate.wasm.fingerprint
            && known.sidecar == sidecar_print
        {
            return false;
        }
        let read = read_files(&self.dir, candidate).await;
        let hashes = match &read {
            Ok((wasm, sidecar)) => (
                sha256(wasm),
                sidecar.as_deref().map(sha256).unwrap_or_default(),
            ),
            Err(_) => Default::default(),
        };
        let known = self.known.entry(candidate.name.clone()).or_insert(Known {
            wasm: candidate.wasm.fingerprint,
            sidecar: sidecar_print,
            hashes: Default::default(),
            good: None,
            pending: None,
            error: None,
            retry: false,
        });
        known.wasm = candidate.wasm.fingerprint;
        known.sidecar = sidecar_print;
        let settled = known.good.is_some() || known.error.is_some();
        if read.is_ok() && known.hashes == hashes && settled && !known.retry {
            return false; // the same content under new metadata: nothing to load
        }
        known.hashes = hashes;
        let started = Instant::now();
        let loaded = match read {
            Ok((wasm, sidecar)) => {
                load_one(
                    &self.runtime,
                    self.cache.as_ref(),
                    candidate,
                    wasm,
                    sidecar,
                    &known.hashes,
                )
                .await
            }
            Err(e) => Err(e),
        };
        match loaded {
            Ok((entry, compiled)) => {
                tracing::info!(
                    config = %candidate.name,
                    version = %entry.version,
                    cache = ?compiled,
                    ms = started.elapsed().as_millis() as u64,
                    "config loaded"
                );
                known.error = None;
                known.retry = false;
                known.pending = Some(entry);
                report.loaded.push((candidate.name.clone(), compiled));
            }
            Err(e) => {
                tracing::error!(
                    config = %candidate.name,
                    file = %candidate.wasm.path.display(),
                    serving = known.good.as_ref().map(|g| g.version.as_str()).unwrap_or("nothing"),
                    transient = e.transient,
                    "config failed to load: {}", e.message
                );
                // A retry that fails the same way changes nothing: no new set (which would
                // reopen closed pools) every rescan.
                let again = known.retry && known.error.as_deref() == Some(e.message.as_str());
                known.error = Some(e.message);
                known.retry = e.transient;
                known.pending = None;
                return !again;
            }
        }
        true
    }

    /// The next set: every config's pending version, or its last good one. Pending versions
    /// whose rules do not compile with the others' stay pending (retried on the next change),
    /// with the error as their problem. Each failed round sets aside at least one config, so
    /// this ends.
    fn assemble(&mut self) -> ConfigSet {
        let mut aside = HashSet::new();
        for _ in 0..=self.known.len() {
            let entries: Vec<ConfigEntry> = (self.known.iter())
                .filter_map(|(name, k)| match &k.pending {
                    Some(pending) if !aside.contains(name) => Some(pending.clone()),
                    _ => k.good.clone(),
                })
                .collect();
            match ConfigSet::new(entries) {
                Ok(set) => {
                    for (name, known) in &mut self.known {
                        if !aside.contains(name)
                            && let Some(entry) = known.pending.take()
                        {
                            known.good = Some(entry);
                            known.error = None;
                        }
                    }
                    return set.with_problems(self.problems());
                }
                Err(e) => self.reject(&e, &mut aside),
            }
        }
        tracing::error!("the configs' rules do not compile; serving none");
        ConfigSet::default().with_problems(self.problems())
    }

    /// Sets aside the versions responsible for `error`: the pending ones it names, or if none
    /// is pending, drops the first config it names.
    fn reject(&mut self, error: &RulesError, aside: &mut HashSet<String>) {
        let named: Vec<String> = match error {
            RulesError::InsteadOfCycle { cycle, .. } => cycle.clone(),
            RulesError::IncludeWithoutDomain { name, .. } => vec![name.clone()],
            RulesError::DuplicateId { second, .. } => vec![second.clone()],
        };
        let pending = |n: &&String| {
            !aside.contains(*n) && self.known.get(*n).is_some_and(|k| k.pending.is_some())
        };
        let culprits: Vec<String> = named.iter().filter(pending).cloned().collect();
        for name in &culprits {
            tracing::error!(config = %name, "config rejected: {error}");
            if let Some(known) = self.known.get_mut(name) {
                known.error = Some(error.to_string());
            }
            aside.insert(name.clone());
        }
        if culprits.is_empty()
            && let Some(known) = named.first().and_then(|n| self.known.get_mut(n))
        {
            tracing::error!(config = %named[0], "config dropped: {error}");
            known.error = Some(error.to_string());
            known.good = None;
        }
    }

    /// Every config whose files did not load, and every orphan sidecar.
    fn problems(&self) -> Vec<ConfigProblem> {
        let configs = self.known.iter().filter_map(|(name, k)| {
            Some(ConfigProblem {
                config: name.clone(),
                file: self.dir.join(format!("{name}.wasm")),
                error: k.error.clone()?,
                serving: k.good.as_ref().map(|g| g.version.clone()),
            })
        });
        let orphans = self.orphans.iter().map(|path| ConfigProblem {
            config: stem(path),
            file: path.clone(),
            error: format!("sidecar without a {}.wasm beside it; ignored", stem(path)),
            serving: None,
        });
        configs.chain(orphans).collect()
    }
}

/// How recent a change must be for any event to make a file be hashed again: well above
/// filesystem timestamp granularity (a few milliseconds) and the debounce time.
const RECENT: std::time::Duration = std::time::Duration::from_secs(2);

/// Files that filesystem events named since the last reload.
#[derive(Debug, Clone, Default)]
pub struct Touched {
    /// Every file may have changed (an event without a usable path, a Kubernetes `..data` swap).
    pub everything: bool,
    /// The file names (not paths) the events named.
    pub files: HashSet<String>,
}

impl Touched {
    /// Records an event's path.
    pub fn add(&mut self, path: &Path) {
        match path.file_name().and_then(|f| f.to_str()) {
            Some(file) if !file.starts_with("..") => {
                self.files.insert(file.to_owned());
            }
            _ => self.everything = true,
        }
    }

    /// Whether nothing was touched.
    pub fn is_empty(&self) -> bool {
        !self.everything && self.files.is_empty()
    }

    /// Whether `candidate` must be hashed: an event named it, or events came and its files
    /// changed recently (an event may name only the temporary file renamed over it).
    fn covers(&self, candidate: &Candidate) -> bool {
        let recent = |found: &scan::Found| found.fingerprint.modified_within(RECENT);
        self.everything
            || self.files.contains(&format!("{}.wasm", candidate.name))
            || self.files.contains(&format!("{}.toml", candidate.name))
            || (!self.is_empty()
                && (recent(&candidate.wasm) || candidate.sidecar.as_ref().is_some_and(recent)))
    }
}

/// Why a config's files did not load.
struct Failure {
    message: String,
    /// Whether loading the same files again may succeed.
    transient: bool,
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Self {
            message,
            transient: false,
        }
    }
}

impl From<LoadError> for Failure {
    /// I/O errors, and a `rules` call that could not instantiate or ran out of its CPU budget
    /// on a busy machine, may pass; anything about the bytes themselves will not. Nor will a
    /// `rules` that outlived its wall-clock bound (`hook_timeout_ms`, 1 s, five times the CPU
    /// budget): a guest that sleeps there sleeps again, and retrying it at every rescan would
    /// recompile it (seconds for Python) every few seconds, forever (issue 12). Such a config
    /// is loaded again when its files change.
    fn from(error: LoadError) -> Self {
        let transient = match &error.kind {
            LoadErrorKind::Read(_) => true,
            LoadErrorKind::Rules(hook) => matches!(
                hook.kind,
                HookErrorKind::Instantiate(_) | HookErrorKind::CpuBudget { .. }
            ),
            _ => false,
        };
        Self {
            message: error.to_string(),
            transient,
        }
    }
}

/// Reads a config's files, refusing links out of `dir` and files past their caps
/// ([`super::file`]). A refusal is not transient: the same files fail the same way.
async fn read_files(
    dir: &Path,
    candidate: &Candidate,
) -> Result<(Vec<u8>, Option<Vec<u8>>), Failure> {
    let read = |path: PathBuf, cap: u64| {
        let dir = dir.to_owned();
        async move {
            let read = tokio::task::spawn_blocking(move || file::read_contained(&dir, &path, cap));
            match read.await.map_err(|e| Failure {
                message: format!("reading task failed: {e}"),
                transient: true,
            })? {
                Ok(bytes) => Ok(bytes),
                Err(e) => Err(Failure {
                    transient: matches!(e, FileError::Io { .. }),
                    message: e.to_string(),
                }),
            }
        }
    };
    let wasm = read(candidate.wasm.path.clone(), file::MAX_WASM_BYTES).await?;
    let sidecar = match &candidate.sidecar {
        Some(found) => Some(read(found.path.clone(), file::MAX_SIDECAR_BYTES).await?),
        None => None,
    };
    Ok((wasm, sidecar))
}

/// Loads one config from its files' contents.
async fn load_one(
    runtime: &Runtime,
    cache: Option<&CompileCache>,
    candidate: &Candidate,
    wasm: Vec<u8>,
    sidecar: Option<Vec<u8>>,
    hashes: &(String, String),
) -> Result<(ConfigEntry, Compiled), Failure> {
    let name = candidate.name.as_str();
    let sidecar_path = || {
        candidate
            .sidecar
            .as_ref()
            .map(|s| s.path.display().to_string())
    };
    let sidecar = match sidecar {
        Some(bytes) => {
            let text = String::from_utf8(bytes)
                .map_err(|_| format!("{}: not UTF-8", sidecar_path().unwrap_or_default()))?;
            Sidecar::parse(&text)
                .map_err(|e| format!("{}: {e}", sidecar_path().unwrap_or_default()))?
        }
        None => Sidecar::default(),
    };
    let runtime = match sidecar
        .limits(runtime.limits())
        .map_err(|e| format!("{}: {e}", sidecar_path().unwrap_or_default()))?
    {
        Some(limits) => runtime
            .with_limits(limits)
            .map_err(|e| format!("{}: [limits]: {e}", sidecar_path().unwrap_or_default()))?,
        None => runtime.clone(),
    };
    let (plugin, compiled) = match cache {
        Some(cache) => {
            cache
                .load(&runtime, name, wasm, &hashes.0, CallEnv::default())
                .await
        }
        None => {
            (runtime.load_bytes(name, wasm, CallEnv::default()).await).map(|p| (p, Compiled::Miss))
        }
    }?;
    let rules = sidecar.rules(plugin.rules());
    let entry = ConfigEntry {
        plugin: Arc::new(plugin),
        rules,
        version: version(hashes),
        source: Some(candidate.wasm.path.clone()),
        loaded_at: SystemTime::now(),
    };
    validate(&entry)?;
    Ok((entry, compiled))
}

/// Checks one config's rule on its own, so that a bad pattern is that config's problem.
fn validate(entry: &ConfigEntry) -> Result<(), String> {
    RuleSet::compile([entry.rule(1)])
        .map(drop)
        .map_err(|e| e.to_string())
}

/// `wasm12` or `wasm12+sidecar8`: hash prefixes of the content.
fn version((wasm, sidecar): &(String, String)) -> String {
    match sidecar.get(..8) {
        Some(s) => format!("{}+{s}", &wasm[..12.min(wasm.len())]),
        None => wasm[..12.min(wasm.len())].to_owned(),
    }
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}
