//! JavaScript: `app.js` importing the SDK from `./sdk/`, componentized by componentize-js
//! (installed by `scripts/setup-js` into the checkout's `guest-sdk/js/node_modules`), with
//! `-d http fetch-event` so that the component imports no `wasi:http`. About 10 s; offline.
//!
//! Policy (issue 17): with a checkout that has the SDK's `componentize.mjs` and its
//! `node_modules`, the build runs that script under `node`, as `example-configs/build` does: the
//! same component with cheaper generated bindings (about half the host cost of a use request).
//! Without them (componentize-js on `PATH` only), plain componentize-js builds it: a working
//! config, with the slower bindings.

use std::path::Path;
use std::process::Command;

use crate::authoring::build::{self, BuildError};
use crate::authoring::project::Project;

/// The source an author edits.
pub(super) const SOURCE: &str = "app.js";

/// The checkout's build script, which rewrites componentize-js's bindings (issue 17).
const SCRIPT: &str = "guest-sdk/js/componentize.mjs";
/// The componentize-js that script imports; its presence means `scripts/setup-js` ran.
const INSTALLED: &str = "guest-sdk/js/node_modules/.bin/componentize-js";

/// Runs the build on `app.js` from the project folder: componentize-js lets the script read only
/// the files under its working directory, where the SDK is.
pub(super) fn build(project: &Project, output: &Path) -> Result<(), BuildError> {
    let mut command = match (
        build::find_tool(SCRIPT, ""),
        build::find_tool(INSTALLED, ""),
    ) {
        (Some(script), Some(_)) => {
            let node = build::find_tool("", "node").ok_or(BuildError::MissingToolchain {
                tool: "node",
                script: "scripts/setup-js",
            })?;
            let mut command = Command::new(node);
            command.arg(script).args([SOURCE, "--wit", "wit", "-o"]);
            command
        }
        _ => {
            let tool = build::find_tool(INSTALLED, "componentize-js").ok_or(
                BuildError::MissingToolchain {
                    tool: "componentize-js",
                    script: "scripts/setup-js",
                },
            )?;
            let mut command = Command::new(tool);
            command
                .args([SOURCE, "--wit", "wit", "-n", "session-config"])
                .args(["-d", "http", "fetch-event", "-o"]);
            command
        }
    };
    command.current_dir(&project.dir).arg(output);
    build::run(command)
}
