//! Python: `app.py` and the SDK in `sdk/session_host_sdk`, componentized by componentize-py
//! (installed by `scripts/setup-python` into the checkout's `.venv`). About 10 s; offline.

use std::path::Path;
use std::process::Command;

use crate::authoring::build::{self, BuildError};
use crate::authoring::project::Project;

/// The source an author edits.
pub(super) const SOURCE: &str = "app.py";

/// Runs componentize-py on `app.py`, with the project's SDK and WIT.
pub(super) fn build(project: &Project, output: &Path) -> Result<(), BuildError> {
    let tool = build::find_tool(".venv/bin/componentize-py", "componentize-py").ok_or(
        BuildError::MissingToolchain {
            tool: "componentize-py",
            script: "scripts/setup-python",
        },
    )?;
    let dir = build::absolute(&project.dir)?;
    // componentize-py writes nothing but the output, but a stray app.py in the working
    // directory could be picked up: run it from a scratch directory.
    let scratch = tempfile::tempdir().map_err(BuildError::io("a scratch directory"))?;
    let mut command = Command::new(tool);
    command
        .current_dir(scratch.path())
        .arg("-d")
        .arg(dir.join("wit"))
        .args(["-w", "session-config", "componentize", "app", "-p"])
        .arg(&dir)
        .arg("-p")
        .arg(dir.join("sdk"))
        .arg("-o")
        .arg(output);
    build::run(command)
}
