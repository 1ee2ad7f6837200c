//! `config-project.toml`: what makes a folder a config project.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::Lang;

/// The file naming a config project's name and language.
pub const PROJECT_FILE: &str = "config-project.toml";

/// A config project's manifest ([`PROJECT_FILE`]). Unknown fields are errors.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// The config's name: the `.wasm` file stem, so the name the host knows it by.
    pub name: String,
    /// The language of its source.
    pub lang: Lang,
    /// The site it was made for, used in the commands it suggests.
    #[serde(default)]
    pub site: Option<String>,
    /// The project folder (not in the file).
    #[serde(skip)]
    pub dir: PathBuf,
}

/// Why a folder is not a usable config project.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// The folder has no [`PROJECT_FILE`].
    #[error(
        "{} is not a config project: {} is missing (make one with `session-host new NAME --lang LANG`)",
        dir.display(), dir.join(PROJECT_FILE).display()
    )]
    NotAProject {
        /// The folder.
        dir: PathBuf,
    },
    /// The manifest could not be read.
    #[error("cannot read {}: {message}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// Why.
        message: String,
    },
    /// The manifest is invalid; the message names the field.
    #[error("{}: {message}", file.display())]
    Invalid {
        /// The file.
        file: PathBuf,
        /// What is wrong, with the field and its line.
        message: String,
    },
}

impl Project {
    /// Reads the project in `dir`.
    pub fn open(dir: &Path) -> Result<Project, ProjectError> {
        let file = dir.join(PROJECT_FILE);
        if !file.is_file() {
            return Err(ProjectError::NotAProject {
                dir: dir.to_owned(),
            });
        }
        let text = std::fs::read_to_string(&file).map_err(|e| ProjectError::Read {
            file: file.clone(),
            message: e.to_string(),
        })?;
        let mut project: Project = toml::from_str(&text).map_err(|e| ProjectError::Invalid {
            file: file.clone(),
            message: e.to_string(),
        })?;
        super::new::check_name(&project.name).map_err(|message| ProjectError::Invalid {
            file,
            message: format!("field `name`: {message}"),
        })?;
        project.dir = dir.to_owned();
        Ok(project)
    }

    /// Where the built config goes: `dist/NAME.wasm`.
    pub fn output(&self) -> PathBuf {
        self.dir.join("dist").join(format!("{}.wasm", self.name))
    }

    /// The project's scenario file.
    pub fn scenario(&self) -> PathBuf {
        self.dir.join("scenario.toml")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project_with(text: &str) -> Result<Project, ProjectError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(PROJECT_FILE), text).unwrap();
        Project::open(dir.path())
    }

    #[test]
    fn issue_18_a_folder_without_manifest_is_not_a_project() {
        let dir = tempfile::tempdir().unwrap();
        let error = Project::open(dir.path()).unwrap_err().to_string();
        assert!(error.contains("is not a config project"), "{error}");
        assert!(error.contains(PROJECT_FILE), "{error}");
    }

    #[test]
    fn issue_18_unknown_language_and_field_are_named() {
        let error = project_with("name = \"a\"\nlang = \"cobol\"\n").unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains(PROJECT_FILE) && text.contains("cobol"),
            "{text}"
        );
        let text = project_with("name = \"a\"\nlang = \"js\"\ncolour = 1\n")
            .unwrap_err()
            .to_string();
        assert!(text.contains("colour"), "{text}");
        let text = project_with("name = \"A B\"\nlang = \"js\"\n")
            .unwrap_err()
            .to_string();
        assert!(text.contains("field `name`"), "{text}");
    }
}
