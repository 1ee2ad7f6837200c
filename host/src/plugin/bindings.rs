//! Rust bindings for the `session-config` world, generated from `wit/` by wasmtime's `bindgen!`.
//!
//! Every export is called asynchronously: wasmtime requires `*_async` calls on an instance whose
//! imports include an async host function, and every guest imports `download`, the one import
//! that waits on the network (the guest sees a blocking call while the host's task yields). The generated types (`Request`, `Response`, `Address`, …) are the runtime's public
//! data types, re-exported from [`crate::plugin`].

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
