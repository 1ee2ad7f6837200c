//! The WIT contract's version, and which versions a config may target (the evolution policy,
//! docs/wit-versions.md).
//!
//! Policy: the package `session-host:config` follows semver as the component model and
//! wasmtime read it: while it is `0.x`, versions with the same `0.minor` are compatible.
//! - A *compatible* change (a new function, type, interface, or an export older configs may
//!   lack) bumps the patch: `0.1.0` → `0.1.1`. wasmtime's linker resolves an import by its
//!   semver-compatible name, so the host's imports (registered once, under the current
//!   version) link configs built for any version of the track.
//! - An *incompatible* change (renaming or removing anything, changing a type) bumps the minor:
//!   `0.2.0`.
//! - Every released version stays in the repository as `wit/VERSION/session-config.wit`, and
//!   the host keeps bindings for every version in [`SUPPORTED_WIT_VERSIONS`]
//!   ([`super::bindings`]); a config is instantiated with the bindings of the version its
//!   imports name, so a config in the field behaves as it did on the host it was built for.

/// The version of `wit/session-config.wit` this host was built with, and that
/// `session-host new` scaffolds against.
pub const WIT_VERSION: &str = "0.1.1";

/// Every version a config may target, oldest first, each with bindings in the host. A config
/// targeting another track fails to load with [`super::LoadErrorKind::WrongWorld`] (wasmtime
/// names the missing import); a later patch of a known track (built against a newer WIT that
/// only added things) loads with the current bindings when it has their exports.
pub const SUPPORTED_WIT_VERSIONS: &[&str] = &["0.1.0", WIT_VERSION];

/// Whether a config targeting `version` links in this host: it is in the compatibility track
/// (`0.minor`, or `major` from 1.0) of a supported version.
pub fn wit_version_supported(version: &str) -> bool {
    SUPPORTED_WIT_VERSIONS
        .iter()
        .any(|supported| track(supported) == track(version))
}

/// The semver compatibility track: `0.minor` for `0.x`, else the major.
fn track(version: &str) -> Option<String> {
    let mut parts = version.split('.');
    let (major, minor) = (parts.next()?, parts.next()?);
    Some(if major == "0" {
        format!("0.{minor}")
    } else {
        major.to_owned()
    })
}

/// The version in a component import name of the package (`session-host:config/log@0.1.0`
/// → `0.1.0`), if it is one.
pub(crate) fn version_of_import(name: &str) -> Option<String> {
    let (_, version) = name.strip_prefix(PACKAGE)?.split_once('@')?;
    Some(version.to_owned())
}

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
    fn issue_18_compatible_versions_share_the_track() {
        assert!(wit_version_supported("0.1.0") && wit_version_supported("0.1.7"));
        assert!(!wit_version_supported("0.2.0") && !wit_version_supported("1.0.0"));
        assert!(!wit_version_supported("garbage"));
    }

    #[test]
    fn issue_18_the_wit_file_declares_this_version() {
        let wit = include_str!("../../../wit/session-config.wit");
        assert!(wit.contains(&format!("package session-host:config@{WIT_VERSION};")));
        assert!(SUPPORTED_WIT_VERSIONS.contains(&WIT_VERSION));
    }

    #[test]
    fn issue_18_every_supported_version_is_kept_in_the_repository() {
        let wit = crate::plugin::bindings::v0_1_0_wit();
        assert!(wit.contains("package session-host:config@0.1.0;"));
        assert_eq!(SUPPORTED_WIT_VERSIONS, ["0.1.0", WIT_VERSION]);
        assert_eq!(
            version_of_import("session-host:config/log@0.1.0").as_deref(),
            Some("0.1.0")
        );
        assert_eq!(version_of_import("wasi:io/poll@0.2.0"), None);
    }
}
