//! The files `session-host new` writes, embedded at build time by `host/build.rs`: templates
//! under `templates/`, SDKs under `sdk/<lang>/`, the WIT under `wit/`.

/// Every embedded file, sorted by path.
static FILES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/authoring_files.rs"));

/// The embedded files under `prefix` (which ends with `/`), with the prefix removed.
pub(crate) fn under(prefix: &str) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
    FILES
        .iter()
        .filter_map(move |&(path, text)| path.strip_prefix(prefix).map(|rest| (rest, text)))
}

/// The WIT contract embedded in this binary.
#[cfg(test)]
pub(crate) fn wit() -> &'static str {
    under("wit/")
        .find(|(path, _)| *path == "session-config.wit")
        .map_or("", |(_, text)| text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_templates_and_an_sdk() {
        for lang in ["rust", "python", "js", "c"] {
            assert!(under(&format!("templates/{lang}/")).count() > 0, "{lang}");
            assert!(under(&format!("sdk/{lang}/")).count() > 3, "{lang}");
        }
        assert!(wit().contains("package session-host:config@"));
    }
}
