//! `session-host plugin build`: builds a config project into `dist/NAME.wasm` with its
//! language's toolchain ([`super::lang`]).
//!
//! Policy: a build never downloads a toolchain. Tools are looked up in the session-host
//! checkout (`$SESSION_HOST_REPO`, else the checkout this binary was built from), where the
//! `scripts/` put them, then on `PATH`; a missing tool is [`BuildError::MissingToolchain`]
//! naming the script that installs it. The tools' own output goes to stderr as it comes. The
//! output is written under a temporary name and renamed, so a gateway watching `dist/` never
//! loads half a file.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::project::{Project, ProjectError};

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The folder is not a config project.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// A tool is missing.
    #[error("{tool} is missing: run {script} (in the session-host checkout) to install it")]
    MissingToolchain {
        /// The tool.
        tool: &'static str,
        /// The script that installs it.
        script: &'static str,
    },
    /// The toolchain failed.
    #[error("{command} failed ({status}); its output is above")]
    Failed {
        /// The command.
        command: String,
        /// How it ended.
        status: String,
    },
    /// A core module could not become a component (C).
    #[error(transparent)]
    Componentize(#[from] session_host_componentize::Error),
    /// A file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
}

impl BuildError {
    /// A mapper to [`BuildError::Io`] about `what`.
    pub(crate) fn io(what: &str) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
        move |source| BuildError::Io {
            what: what.to_owned(),
            source,
        }
    }
}

/// A finished build.
#[derive(Debug)]
pub struct Built {
    /// The project.
    pub project: Project,
    /// The `.wasm` file.
    pub output: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// How long the build took.
    pub elapsed: Duration,
}

/// Builds the project in `dir`.
pub fn build(dir: &Path) -> Result<Built, BuildError> {
    let project = Project::open(dir)?;
    let start = Instant::now();
    let dist = project.dir.join("dist");
    std::fs::create_dir_all(&dist).map_err(BuildError::io("creating dist/"))?;
    let output = absolute(&project.output())?;
    let partial = output.with_extension("wasm.partial");
    project.lang.build(&project, &partial)?;
    std::fs::rename(&partial, &output).map_err(BuildError::io("placing the output"))?;
    let bytes = std::fs::metadata(&output).map_or(0, |m| m.len());
    Ok(Built {
        project,
        output,
        bytes,
        elapsed: start.elapsed(),
    })
}

/// The session-host checkout whose `scripts/` install the toolchains.
pub fn checkout() -> Option<PathBuf> {
    let env = std::env::var_os("SESSION_HOST_REPO").filter(|v| !v.is_empty());
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    env.map(PathBuf::from)
        .into_iter()
        .chain([built_from])
        .find(|dir| dir.join("scripts").is_dir())
}

/// A tool: `in_checkout` under the checkout (when not empty), else `name` on `PATH` (when not
/// empty).
pub(crate) fn find_tool(in_checkout: &str, name: &str) -> Option<PathBuf> {
    let local = checkout()
        .filter(|_| !in_checkout.is_empty())
        .map(|dir| dir.join(in_checkout))
        .filter(|path| path.is_file());
    local.or_else(|| on_path(name))
}

fn on_path(name: &str) -> Option<PathBuf> {
    if name.is_empty() {
        return None;
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// `path`, absolute.
pub(crate) fn absolute(path: &Path) -> Result<PathBuf, BuildError> {
    std::path::absolute(path).map_err(BuildError::io("resolving the project folder"))
}

/// Runs `command`, its output going to stderr.
pub(crate) fn run(mut command: Command) -> Result<(), BuildError> {
    let shown = format!("{}", command.get_program().to_string_lossy());
    let status = command
        .stdout(std::io::stderr())
        .status()
        .map_err(BuildError::io(&shown))?;
    if status.success() {
        return Ok(());
    }
    Err(BuildError::Failed {
        command: shown,
        status: status.to_string(),
    })
}
