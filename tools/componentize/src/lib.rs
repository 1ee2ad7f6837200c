//! Turning a core Wasm module into a session-config component.
//!
//! Definition: [`componentize`] wraps a core module whose custom section carries wit-bindgen's
//! component type (what `wit-bindgen c` and `wit-bindgen` for Rust embed) into a component, with
//! the host's own `wit-component`. A module that imports WASI preview 1
//! (`wasi_snapshot_preview1`, as wasi-libc does for C) gets the preview-1 *reactor* adapter of
//! wasmtime 48, which maps those imports onto WASI 0.2; the host links WASI 0.2 granting nothing
//! (no files, network, environment or clock beyond what `WasiCtxBuilder::new` allows), so the
//! adapter adds no capability. A module without WASI imports gets no adapter.
//!
//! ```no_run
//! let module = std::fs::read("config.core.wasm")?;
//! let component = session_host_componentize::componentize(&module)?;
//! std::fs::write("config.wasm", component)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Used by `example-configs/build --lang c` (through this crate's binary) for the C configs.

use wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER;

/// The import module name of WASI preview 1.
const WASI_P1: &str = "wasi_snapshot_preview1";

/// Why a module could not become a component.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is a component already, or not Wasm at all.
    #[error("not a core Wasm module: {0}")]
    NotCoreModule(String),
    /// The module has no `component-type` custom section: it was not built with wit-bindgen.
    #[error(
        "the core module has no `component-type` custom section; build it with wit-bindgen against wit/"
    )]
    NoComponentType,
    /// wit-component rejected the module (e.g. an export the world does not have).
    #[error("componentize: {0}")]
    Encode(String),
}

/// The component for `module`. See the crate docs for the policy.
pub fn componentize(module: &[u8]) -> Result<Vec<u8>, Error> {
    let shape = inspect(module)?;
    if !shape.component_type {
        return Err(Error::NoComponentType);
    }
    let encoder = wit_component::ComponentEncoder::default();
    let mut encoder = encoder.module(module).map_err(encode_error)?;
    if shape.imports_wasi_p1 {
        encoder = encoder
            .adapter(WASI_P1, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER)
            .map_err(encode_error)?;
    }
    encoder.validate(true).encode().map_err(encode_error)
}

fn encode_error(error: impl std::fmt::Display) -> Error {
    Error::Encode(format!("{error:#}"))
}

/// What [`componentize`] needs to know about a module.
struct Shape {
    component_type: bool,
    imports_wasi_p1: bool,
}

fn inspect(module: &[u8]) -> Result<Shape, Error> {
    if !wasmparser::Parser::is_core_wasm(module) {
        return Err(Error::NotCoreModule(
            "the file does not start with a core module's preamble".into(),
        ));
    }
    let mut shape = Shape {
        component_type: false,
        imports_wasi_p1: false,
    };
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        match payload.map_err(|e| Error::NotCoreModule(e.to_string()))? {
            wasmparser::Payload::CustomSection(section) => {
                shape.component_type |= section.name().starts_with("component-type");
            }
            wasmparser::Payload::ImportSection(imports) => {
                for import in imports.into_imports() {
                    let import = import.map_err(|e| Error::NotCoreModule(e.to_string()))?;
                    shape.imports_wasi_p1 |= import.module == WASI_P1;
                }
            }
            _ => {}
        }
    }
    Ok(shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_component_or_garbage_is_refused() {
        assert!(matches!(
            componentize(b"not wasm"),
            Err(Error::NotCoreModule(_))
        ));
        let component = wat::parse_str("(component)").expect("wat");
        assert!(matches!(
            componentize(&component),
            Err(Error::NotCoreModule(_))
        ));
    }

    #[test]
    fn a_module_without_component_type_is_refused() {
        let module = wat::parse_str("(module)").expect("wat");
        assert!(matches!(componentize(&module), Err(Error::NoComponentType)));
    }
}
