//! The WIT contract's version, and which versions a config may target (the evolution policy,
//! `docs/authoring.md` § "How the WIT evolves").
//!
//! Policy: the package `session-host:config` follows semver. While it is `0.x`, a *minor*
//! bump (`0.1` → `0.2`) is what `1.x` calls a major one, so wasmtime's linker, which
//! matches imports semver-compatibly, would not link a `0.1.0` guest to `0.2.0` host
//! functions on its own: the host keeps the bindings of every older version it lists in
//! [`SUPPORTED_WIT_VERSIONS`] and links each. A patch (`0.1.1`) only adds documentation. A
//! change a config built for an older version cannot see (a new optional export, a new
//! import) is *compatible*; renaming or removing anything, or changing a type, is not, and
//! needs a new minor version plus an adapter for the old one.

/// The version of `wit/session-config.wit` this host was built with, and that
/// `session-host new` scaffolds against.
pub const WIT_VERSION: &str = "0.1.0";

/// Every version a config may target, oldest first. A config targeting another version fails
/// to load with [`super::LoadErrorKind::WrongWorld`] (wasmtime names the missing import).
pub const SUPPORTED_WIT_VERSIONS: &[&str] = &[WIT_VERSION];

/// The package name whose version a config targets.
const PACKAGE: &str = "session-host:config/";

/// The `session-host:config` version a `.wasm` file's imports name (a component's import
/// names, or a core module's component-type section), if any: the first `@x.y.z` after an
/// interface of the package.
pub fn targeted_wit_version(bytes: &[u8]) -> Option<String> {
    let at = bytes
        .windows(PACKAGE.len())
        .position(|w| w == PACKAGE.as_bytes())?;
    let name = &bytes[at + PACKAGE.len()..];
    let name_end = name
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || *b == b'-' || *b == b'@' || *b == b'.'))
        .unwrap_or(name.len());
    let name = std::str::from_utf8(&name[..name_end]).ok()?;
    let (_, version) = name.split_once('@')?;
    Some(version.trim_end_matches('.').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_18_the_version_is_read_from_import_names() {
        let bytes = b"\0asm....session-host:config/defaults@0.1.0\x05rest";
        assert_eq!(targeted_wit_version(bytes).as_deref(), Some("0.1.0"));
        assert_eq!(targeted_wit_version(b"session-host:config/log"), None);
        assert_eq!(targeted_wit_version(b"nothing"), None);
    }

    #[test]
    fn issue_18_the_wit_file_declares_this_version() {
        let wit = include_str!("../../../wit/session-config.wit");
        assert!(wit.contains(&format!("package session-host:config@{WIT_VERSION};")));
        assert!(SUPPORTED_WIT_VERSIONS.contains(&WIT_VERSION));
    }
}
