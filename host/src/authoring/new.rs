//! `session-host new`: scaffolds a config project from the embedded templates.
//!
//! What a project holds: `templates/common/` (manifest, README, build script, scenario),
//! `templates/<lang>/` (the source, every hook a commented-out override calling its default),
//! the language's SDK under `sdk/` and the WIT under `wit/`. Placeholders `{{name}}`,
//! `{{site}}`, `{{lang}}`, `{{lang_name}}`, `{{source}}`, `{{version}}` and `{{wit_version}}`
//! are replaced in templates only; a `.tmpl` suffix is dropped (it keeps cargo and formatters
//! away from template files). Policy: never overwrites: an existing folder is an error.

use std::path::{Path, PathBuf};

use super::{Lang, embedded};

/// The longest config name: it becomes a file stem, a crate name and a pool label.
pub const MAX_NAME_CHARS: usize = 64;

/// The site a project is made for when `--site` is not given: the emulator serves it.
pub const DEFAULT_SITE: &str = "example.com";

/// Why a scaffold failed.
#[derive(Debug, thiserror::Error)]
pub enum NewError {
    /// The name is not usable.
    #[error("NAME {name:?}: {message}")]
    Name {
        /// The name given.
        name: String,
        /// Why.
        message: String,
    },
    /// The site is not a domain.
    #[error("--site {site:?}: expected a domain such as example.com")]
    Site {
        /// The site given.
        site: String,
    },
    /// The language's templates are not in this binary.
    #[error(
        "--lang {lang}: {} templates are not installed yet in this session-host (host/templates/{lang}/ is missing)",
        lang.display_name()
    )]
    NoTemplates {
        /// The language.
        lang: Lang,
    },
    /// The folder exists.
    #[error("{}: already exists; choose another NAME or --dir", dir.display())]
    Exists {
        /// The folder.
        dir: PathBuf,
    },
    /// Writing failed.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// What to scaffold.
#[derive(Debug, Clone)]
pub struct NewProject {
    /// The config's name.
    pub name: String,
    /// Its language.
    pub lang: Lang,
    /// Its site (domain).
    pub site: String,
    /// The folder the project folder is created in.
    pub parent: PathBuf,
}

/// Checks a config name: lowercase ASCII letters, digits and `-`, starting with a letter.
pub fn check_name(name: &str) -> Result<(), String> {
    let first_ok = name.starts_with(|c: char| c.is_ascii_lowercase());
    let rest_ok = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if name.len() > MAX_NAME_CHARS {
        return Err(format!("longer than {MAX_NAME_CHARS} characters"));
    }
    if !(first_ok && rest_ok) || name.ends_with('-') {
        return Err("use lowercase letters, digits and '-', starting with a letter".into());
    }
    Ok(())
}

fn check_site(site: &str) -> Result<(), NewError> {
    let ok = !site.is_empty()
        && site.len() <= 253
        && site.contains('.')
        && site
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    ok.then_some(()).ok_or_else(|| NewError::Site {
        site: site.to_owned(),
    })
}

/// The files of a project, `(path in the project, contents)`.
pub fn files(spec: &NewProject) -> Result<Vec<(String, String)>, NewError> {
    let lang = spec.lang.as_str();
    let templates: Vec<_> = embedded::under(&format!("templates/{lang}/")).collect();
    if templates.is_empty() {
        return Err(NewError::NoTemplates { lang: spec.lang });
    }
    let substitute = |text: &str| substitute(text, spec);
    let common = embedded::under("templates/common/").map(|(path, text)| {
        // A file named `.gitignore` inside host/ would apply to the templates themselves.
        let path = if path == "gitignore" {
            ".gitignore"
        } else {
            path
        };
        (path.to_owned(), substitute(text))
    });
    let source = templates
        .into_iter()
        .map(|(path, text)| (path.trim_end_matches(".tmpl").to_owned(), substitute(text)));
    let sdk_prefix = format!("sdk/{lang}/");
    let sdk =
        embedded::under(&sdk_prefix).map(|(path, text)| (format!("sdk/{path}"), text.to_owned()));
    // Only the current WIT: the older versions under `wit/VERSION/` are the host's business.
    let wit = embedded::under("wit/")
        .filter(|(path, _)| !path.contains('/'))
        .map(|(path, text)| (format!("wit/{path}"), text.to_owned()));
    Ok(common.chain(source).chain(sdk).chain(wit).collect())
}

fn substitute(text: &str, spec: &NewProject) -> String {
    [
        ("{{name}}", spec.name.as_str()),
        ("{{site}}", spec.site.as_str()),
        ("{{lang}}", spec.lang.as_str()),
        ("{{lang_name}}", spec.lang.display_name()),
        ("{{source}}", spec.lang.source()),
        ("{{version}}", env!("CARGO_PKG_VERSION")),
        ("{{wit_version}}", crate::plugin::WIT_VERSION),
    ]
    .iter()
    .fold(text.to_owned(), |text, (from, to)| text.replace(from, to))
}

/// Creates the project folder `parent/NAME` and returns it.
pub fn scaffold(spec: &NewProject) -> Result<PathBuf, NewError> {
    check_name(&spec.name).map_err(|message| NewError::Name {
        name: spec.name.clone(),
        message,
    })?;
    check_site(&spec.site)?;
    let files = files(spec)?;
    let dir = spec.parent.join(&spec.name);
    if dir.exists() {
        return Err(NewError::Exists { dir });
    }
    for (path, text) in &files {
        write(&dir.join(path), text)?;
    }
    Ok(dir)
}

fn write(path: &Path, text: &str) -> Result<(), NewError> {
    let error = |source| NewError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(error)?;
    }
    std::fs::write(path, text).map_err(error)?;
    if path.file_name().is_some_and(|n| n == "build") {
        use std::os::unix::fs::PermissionsExt;
        let executable = std::fs::Permissions::from_mode(0o755);
        std::fs::set_permissions(path, executable).map_err(error)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(lang: Lang, parent: &Path) -> NewProject {
        NewProject {
            name: "shop".into(),
            lang,
            site: "shop.example".into(),
            parent: parent.to_owned(),
        }
    }

    #[test]
    fn issue_18_scaffold_writes_source_sdk_wit_and_scenario() {
        let parent = tempfile::tempdir().unwrap();
        for lang in [Lang::Rust, Lang::Python, Lang::Js, Lang::C] {
            let mut spec = spec(lang, parent.path());
            spec.name = format!("shop-{lang}");
            let dir = scaffold(&spec).unwrap();
            let source = std::fs::read_to_string(dir.join(lang.source())).unwrap();
            assert!(
                source.contains("shop.example") && !source.contains("{{"),
                "{source}"
            );
            for file in [
                "README.md",
                "build",
                "scenario.toml",
                "wit/session-config.wit",
            ] {
                assert!(dir.join(file).is_file(), "{lang}: {file}");
            }
            let project = crate::authoring::Project::open(&dir).unwrap();
            assert_eq!(
                (project.name.as_str(), project.lang),
                (spec.name.as_str(), lang)
            );
        }
    }

    #[test]
    fn issue_18_bad_names_and_existing_folders_are_refused() {
        let parent = tempfile::tempdir().unwrap();
        let mut bad = spec(Lang::Rust, parent.path());
        bad.name = "My Config".into();
        assert!(
            scaffold(&bad)
                .unwrap_err()
                .to_string()
                .contains("NAME \"My Config\"")
        );
        scaffold(&spec(Lang::Js, parent.path())).unwrap();
        let again = scaffold(&spec(Lang::Js, parent.path())).unwrap_err();
        assert!(again.to_string().contains("already exists"), "{again}");
    }
}
