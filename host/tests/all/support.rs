//! Shared fixtures.

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::Map;
use session_host::plugin::{CallEnv, Limits, Plugin, Request, Runtime};
use session_host::wire;

/// One runtime for the whole test binary: an engine per test would reserve the pooling
/// allocator's address space many times over.
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| Runtime::new(Limits::default()).expect("the runtime starts"))
}

/// Loads `bytes` as config `name` into the shared runtime.
pub async fn load(name: &str, bytes: Vec<u8>) -> Result<Plugin, session_host::plugin::LoadError> {
    runtime().load_bytes(name, bytes, CallEnv::default()).await
}

/// A plain request for `url`.
pub fn request(url: &str) -> Request {
    wire::request_from_body(url.into(), &Map::new(), wire::no_controls())
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}
