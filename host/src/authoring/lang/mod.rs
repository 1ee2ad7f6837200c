//! The languages a config project can be written in, one small module each: where its source
//! is, and how it builds.

use std::path::Path;

use serde::Deserialize;

use super::build::BuildError;
use super::project::Project;

mod c;
mod js;
mod python;
mod rust;

/// A config project's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Rust, with the Rust SDK (`session_host_sdk`), built by Debian's rustc-web for wasm32.
    Rust,
    /// Python, with the Python SDK, built by componentize-py.
    Python,
    /// JavaScript, with the JavaScript SDK, built by componentize-js.
    Js,
    /// C, with the C SDK (`session_host.h`), built by clang-19 for wasm32-wasi.
    C,
}

impl Lang {
    /// The name used in `--lang` and `config-project.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Js => "js",
            Lang::C => "c",
        }
    }

    /// The name shown to people.
    pub fn display_name(self) -> &'static str {
        match self {
            Lang::Rust => "Rust",
            Lang::Python => "Python",
            Lang::Js => "JavaScript",
            Lang::C => "C",
        }
    }

    /// The source file an author edits, relative to the project.
    pub fn source(self) -> &'static str {
        match self {
            Lang::Rust => rust::SOURCE,
            Lang::Python => python::SOURCE,
            Lang::Js => js::SOURCE,
            Lang::C => c::SOURCE,
        }
    }

    /// Builds `project` into `output` with this language's toolchain.
    pub(super) fn build(self, project: &Project, output: &Path) -> Result<(), BuildError> {
        match self {
            Lang::Rust => rust::build(project, output),
            Lang::Python => python::build(project, output),
            Lang::Js => js::build(project, output),
            Lang::C => c::build(project, output),
        }
    }
}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
