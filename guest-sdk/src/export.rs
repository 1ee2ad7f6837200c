//! [`export_config!`](crate::export_config): exporting a [`crate::SessionConfig`] as the
//! component's `session-config` world.
//!
//! Policy:
//! - The config value is built afresh for every hook call (by `Default::default()` or the
//!   given expression), so building it must be cheap and it can hold no state between calls:
//!   the host reuses, recycles and discards instances at will.
//! - Every hook first installs, once per instance, a panic hook that sends the panic message to
//!   the host (`log.report-panic`) before the trap. `wasm32-unknown-unknown` has no stderr, so
//!   this is the only way the host learns why a config trapped.
//! - `overrides` answers [`crate::SessionConfig::OVERRIDES`], which
//!   [`#[session_host_sdk::config]`](crate::config) sets from the impl's methods.
//! - `params` is serialised from [`crate::Params`] here, so a config cannot return invalid
//!   JSON.

use std::sync::Once;

/// Implementation details of [`crate::export_config!`]; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use super::install_panic_hook;
}

/// Installs, once per instance, the panic hook that reports panics to the host. Called by the
/// hooks that [`crate::export_config!`] generates; a config never needs to call it.
pub fn install_panic_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        std::panic::set_hook(Box::new(|info| crate::log::report_panic(&info.to_string())));
    });
}

/// Exports a [`SessionConfig`](crate::SessionConfig) type as this component's hooks.
///
/// `export_config!(MyConfig)` builds the config with `MyConfig::default()` for every call;
/// `export_config!(MyConfig, MyConfig::new("x"))` with the expression. Use it once, at the root
/// of a `cdylib` crate. See the [module docs](crate::export) for the policy.
///
/// ```
/// use session_host_sdk::{UrlRules, SessionConfig};
///
/// #[derive(Default)]
/// struct Shop;
///
/// impl SessionConfig for Shop {
///     fn rules(&self) -> UrlRules {
///         UrlRules::new().include("shop.example")
///     }
/// }
///
/// session_host_sdk::export_config!(Shop);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! export_config {
    ($config:ty) => {
        $crate::export_config!($config, <$config as ::core::default::Default>::default());
    };
    ($config:ty, $make:expr) => {
        const _: () = {
            struct SessionHostExport;

            fn config() -> $config {
                $crate::export::__private::install_panic_hook();
                $make
            }

            impl $crate::bindings::Guest for SessionHostExport {
                fn rules() -> $crate::UrlRules {
                    $crate::SessionConfig::rules(&config())
                }
                fn overrides() -> $crate::Hooks {
                    <$config as $crate::SessionConfig>::OVERRIDES
                }
                fn enabled(request: $crate::Request) -> ::core::result::Result<bool, ::std::string::String> {
                    $crate::SessionConfig::enabled(&config(), &request)
                }
                fn cookie_mode(request: $crate::Request) -> ::core::result::Result<bool, ::std::string::String> {
                    $crate::SessionConfig::cookie_mode(&config(), &request)
                }
                fn pool(request: $crate::Request) -> ::core::result::Result<$crate::PoolSpec, ::std::string::String> {
                    $crate::SessionConfig::pool(&config(), &request)
                }
                fn location(
                    request: $crate::Request,
                ) -> ::core::result::Result<$crate::Address, ::std::string::String> {
                    $crate::SessionConfig::location(&config(), &request)
                }
                fn params(
                    request: $crate::Request,
                ) -> ::core::result::Result<::std::string::String, ::std::string::String> {
                    $crate::SessionConfig::params(&config(), &request).map(|params| params.to_json())
                }
                fn init_session(
                    session_id: ::std::string::String,
                    request: $crate::Request,
                ) -> ::core::result::Result<bool, $crate::InitError> {
                    $crate::SessionConfig::init_session(&config(), &session_id, &request)
                }
                fn check(
                    response: $crate::Response,
                    request: $crate::Request,
                ) -> ::core::result::Result<$crate::Verdict, ::std::string::String> {
                    $crate::SessionConfig::check(&config(), &response, &request)
                }
                fn process_request(
                    request: $crate::Request,
                ) -> ::core::result::Result<::core::option::Option<$crate::Request>, ::std::string::String> {
                    $crate::SessionConfig::process_owned_request(&config(), request)
                }
            }

    $crate::bindings::__export_session_config!(SessionHostExport with_types_in $crate::bindings);
        };
    };
}
