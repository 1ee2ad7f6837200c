//! JavaScript: `app.js` importing the SDK from `./sdk/`, componentized by componentize-js
//! (installed by `scripts/setup-js` into the checkout's `guest-sdk/js/node_modules`), with
//! `-d http fetch-event` so that the component imports no `wasi:http`. About 10 s; offline.

use std::path::Path;
use std::process::Command;

use crate::authoring::build::{self, BuildError};
use crate::authoring::project::Project;

/// The source an author edits.
pub(super) const SOURCE: &str = "app.js";

/// Runs componentize-js on `app.js` from the project folder: componentize-js lets the script
/// read only the files under its working directory, where the SDK is.
pub(super) fn build(project: &Project, output: &Path) -> Result<(), BuildError> {
    let tool = build::find_tool(
        "guest-sdk/js/node_modules/.bin/componentize-js",
        "componentize-js",
    )
    .ok_or(BuildError::MissingToolchain {
        tool: "componentize-js",
        script: "scripts/setup-js",
    })?;
    let mut command = Command::new(tool);
    command
        .current_dir(&project.dir)
        .args([SOURCE, "--wit", "wit", "-n", "session-config"])
        .args(["-d", "http", "fetch-event", "-o"])
        .arg(output);
    build::run(command)
}
