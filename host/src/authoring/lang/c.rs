//! C: templates, SDK header and build come with the C toolchain work (issue 18, item 5); until
//! `host/templates/c/` exists, `new --lang c` and `plugin build` say so.

use std::path::Path;

use crate::authoring::build::BuildError;
use crate::authoring::project::Project;

/// The source an author edits.
pub(super) const SOURCE: &str = "app.c";

/// Not yet available: see the module docs.
pub(super) fn build(_project: &Project, _output: &Path) -> Result<(), BuildError> {
    Err(BuildError::Unsupported {
        lang: super::Lang::C,
    })
}
