//! Rust bindings for the `session-config` world, generated from `wit/` by wasmtime's `bindgen!`:
//! one set per WIT version the host supports ([`super::wit`], docs/wit-versions.md).
//!
//! The current version's bindings define every type and every import (the `Host` traits that
//! [`super::host`] implements); the linker registers those imports once, under the current
//! version, and wasmtime's semver matching links a config importing an older compatible
//! version (`…@0.1.0`) to them. Older versions' bindings only add their exports: their types and
//! imports are mapped (`with`) onto the current ones, so that every version's export calls take
//! and return the same Rust types.
//!
//! Every export is called asynchronously: wasmtime requires `*_async` calls on an instance whose
//! imports include an async host function, and every guest imports `download`, the one import
//! that waits on the network (the guest sees a blocking call while the host's task yields). The
//! generated types (`Request`, `Response`, `Address`, …) are the runtime's public data types,
//! re-exported from [`crate::plugin`].

/// `session-host:config@0.1.1`, the current version (`wit/session-config.wit`).
#[expect(
    missing_docs,
    reason = "wasmtime's flags! expansion (the `hooks` flags) leaves its items undocumented"
)]
pub mod current {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "session-config",
        imports: {
            "session-host:config/download.download": async,
            default: trappable,
        },
        exports: { default: async },
        additional_derives: [PartialEq],
    });
}

/// `session-host:config@0.1.0` (`wit/0.1.0/`): the world without `overrides`.
pub mod v0_1_0 {
    wasmtime::component::bindgen!({
        path: "../wit/0.1.0",
        world: "session-config",
        exports: { default: async },
        with: {
            "session-host:config/types": super::current::session_host::config::types,
            "session-host:config/defaults": super::current::session_host::config::defaults,
            "session-host:config/download": super::current::session_host::config::download,
            "session-host:config/session-data": super::current::session_host::config::session_data,
            "session-host:config/log": super::current::session_host::config::log,
        },
    });
}

pub use current::session_host;

/// The text of the 0.1.0 WIT, for tests.
#[cfg(test)]
pub(crate) fn v0_1_0_wit() -> &'static str {
    include_str!("../../../wit/0.1.0/session-config.wit")
}

use wasmtime::Store;
use wasmtime::component::InstancePre;

use super::host::HostState;
use current::session_host::config::types::{
    Address, Hooks, InitError, PoolSpec, Request, Response, UrlRules, Verdict,
};

/// The WIT versions whose bindings this host has, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    /// `0.1.0`: no `overrides` export; the host calls every hook.
    V0_1_0,
    /// `0.1.1`, the current version.
    Current,
}

impl Version {
    /// The bindings for a config that targets `version` (as its import names say; see
    /// [`super::targeted_wit_version`]): `0.1.0` gets the 0.1.0 bindings, anything else the
    /// current ones (which name what is missing when the config targets none of them).
    pub(crate) fn for_target(version: Option<&str>) -> Self {
        match version {
            Some("0.1.0") => Self::V0_1_0,
            _ => Self::Current,
        }
    }
}

/// The pre-instantiated exports of a config, by the WIT version it targets.
pub(crate) enum ExportsPre {
    /// Built against 0.1.0.
    V0_1_0(v0_1_0::SessionConfigPre<HostState>),
    /// Built against the current version.
    Current(current::SessionConfigPre<HostState>),
}

impl ExportsPre {
    /// Looks up the exports of `version` in `pre`.
    pub(crate) fn new(version: Version, pre: InstancePre<HostState>) -> wasmtime::Result<Self> {
        Ok(match version {
            Version::V0_1_0 => Self::V0_1_0(v0_1_0::SessionConfigPre::new(pre)?),
            Version::Current => Self::Current(current::SessionConfigPre::new(pre)?),
        })
    }

    /// A new instance.
    pub(crate) async fn instantiate_async(
        &self,
        store: &mut Store<HostState>,
    ) -> wasmtime::Result<Exports> {
        Ok(match self {
            Self::V0_1_0(pre) => Exports::V0_1_0(pre.instantiate_async(store).await?),
            Self::Current(pre) => Exports::Current(pre.instantiate_async(store).await?),
        })
    }
}

/// The exports of one instance, by the WIT version its config targets. Every version's calls
/// take and return the current version's types.
pub(crate) enum Exports {
    /// Built against 0.1.0.
    V0_1_0(v0_1_0::SessionConfig),
    /// Built against the current version.
    Current(current::SessionConfig),
}

/// One method per export that every version has, calling the instance's own bindings.
macro_rules! every_version {
    ($($(#[$doc:meta])* $call:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {
        impl Exports {
            $(
                $(#[$doc])*
                pub(crate) async fn $call(
                    &self,
                    store: &mut Store<HostState>,
                    $($arg: $ty),*
                ) -> wasmtime::Result<$ret> {
                    match self {
                        Self::V0_1_0(b) => b.$call(store, $($arg),*).await,
                        Self::Current(b) => b.$call(store, $($arg),*).await,
                    }
                }
            )*
        }
    };
}

every_version! {
    /// `rules`.
    call_rules() -> UrlRules;
    /// `enabled`.
    call_enabled(request: &Request) -> Result<bool, String>;
    /// `cookie-mode`.
    call_cookie_mode(request: &Request) -> Result<bool, String>;
    /// `pool`.
    call_pool(request: &Request) -> Result<PoolSpec, String>;
    /// `location`.
    call_location(request: &Request) -> Result<Address, String>;
    /// `params`.
    call_params(request: &Request) -> Result<String, String>;
    /// `init-session`.
    call_init_session(session_id: &str, request: &Request) -> Result<bool, InitError>;
    /// `check`.
    call_check(response: &Response, request: &Request) -> Result<Verdict, String>;
    /// `process-request`.
    call_process_request(request: &Request) -> Result<Option<Request>, String>;
}

impl Exports {
    /// `overrides` (0.1.1): a 0.1.0 config overrides every hook, as far as the host knows.
    pub(crate) async fn call_overrides(
        &self,
        store: &mut Store<HostState>,
    ) -> wasmtime::Result<Hooks> {
        match self {
            Self::V0_1_0(_) => Ok(Hooks::all()),
            Self::Current(b) => b.call_overrides(store).await,
        }
    }
}
