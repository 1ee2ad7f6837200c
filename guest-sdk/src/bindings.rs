//! The `session-config` world, generated from `wit/session-config.wit` by wit-bindgen.
//!
//! Configs rarely need this module directly: the crate root re-exports the WIT types and
//! [`crate::export_config!`] implements [`Guest`] for them. It is public because the export
//! macro that wit-bindgen generates refers to it by path (`default_bindings_module`).

wit_bindgen::generate!({
    path: "../wit",
    world: "session-config",
    // Comparing verdicts, addresses and requests in configs and tests needs `==`.
    additional_derives: [PartialEq],
    // The export macro lives in this crate, so that config crates export through the SDK and
    // never depend on wit-bindgen themselves.
    pub_export_macro: true,
    export_macro_name: "__export_session_config",
    default_bindings_module: "session_host_sdk::bindings",
});
