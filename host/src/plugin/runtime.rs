//! The wasmtime engine, its configuration, and loading configs into it.
//!
//! This is the only file that configures wasmtime. One [`Runtime`] holds one `Engine`
//! (compiled code is shared by every instance of every config) and one `Linker` with every
//! import of the world, built once.

use std::path::Path;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::bindings::{ExportsPre, Version, current::SessionConfig};
use super::host::{CallEnv, HostState};
use super::{GuestConfig, Limits, LimitsError, LoadError, LoadErrorKind};

/// How often the epoch advances. Each tick past a call's start runs the deadline callback, which
/// compares the guest's run time to its CPU budget, so this is the budget's resolution.
const EPOCH_TICK: Duration = Duration::from_millis(2);

/// Loads session configs and runs their hooks.
///
/// Cheap to clone; clones share the engine.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) engine: Engine,
    pub(crate) linker: Arc<Linker<HostState>>,
    pub(crate) limits: Arc<Limits>,
    pooling: bool,
}

impl Runtime {
    /// A runtime with `limits`. Tries the pooling allocator first and falls back to on-demand
    /// allocation (with a warning) when the machine cannot reserve the pool's address space.
    pub fn new(limits: Limits) -> Result<Self, LoadError> {
        let engine_error = |e: wasmtime::Error| LoadError {
            config: "<runtime>".into(),
            kind: LoadErrorKind::Engine(format!("{e:#}")),
        };
        let (engine, pooling) = match Engine::new(&config(&limits, true)) {
            Ok(engine) => (engine, true),
            Err(e) => {
                tracing::warn!(
                    "pooling allocator unavailable ({e:#}); allocating instances on demand"
                );
                (
                    Engine::new(&config(&limits, false)).map_err(engine_error)?,
                    false,
                )
            }
        };
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(engine_error)?;
        SessionConfig::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)
            .map_err(engine_error)?;
        spawn_epoch_ticker(&engine);
        Ok(Self {
            engine,
            linker: Arc::new(linker),
            limits: Arc::new(limits),
            pooling,
        })
    }

    /// Whether instances come from the pooling allocator.
    pub fn is_pooling(&self) -> bool {
        self.pooling
    }

    /// The limits guests run under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The same engine, loading configs under `limits` (a sidecar's per-config limits).
    ///
    /// The engine-wide limits cannot change: `pool_slots` sizes the pooling allocator, and
    /// `memory_bytes` cannot exceed this runtime's, which is the size of each pooled memory.
    ///
    /// # Errors
    /// `limits` changes `pool_slots` or raises `memory_bytes`.
    pub fn with_limits(&self, limits: Limits) -> Result<Self, LimitsError> {
        if limits.pool_slots != self.limits.pool_slots {
            return Err(LimitsError::EngineWide("pool_slots"));
        }
        if limits.memory_bytes > self.limits.memory_bytes {
            return Err(LimitsError::MemoryAboveEngine {
                asked: limits.memory_bytes,
                max: self.limits.memory_bytes,
            });
        }
        Ok(Self {
            limits: Arc::new(limits),
            ..self.clone()
        })
    }

    /// Loads the config at `path`; its name is the file stem.
    pub async fn load_file(&self, path: &Path, env: CallEnv) -> Result<GuestConfig, LoadError> {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let bytes = tokio::fs::read(path).await.map_err(|e| LoadError {
            config: path.display().to_string(),
            kind: LoadErrorKind::Read(e),
        })?;
        self.load_bytes(&name, bytes, env).await
    }

    /// Loads a config from `bytes`: a component, or a core module carrying wit-bindgen's
    /// component-type section. Compiles off the async runtime, type-checks the world, and calls
    /// `rules` (with `env`) so that a config that cannot answer fails here, not on a request.
    pub async fn load_bytes(
        &self,
        name: &str,
        bytes: Vec<u8>,
        env: CallEnv,
    ) -> Result<GuestConfig, LoadError> {
        let fail = |kind| LoadError {
            config: name.to_owned(),
            kind,
        };
        let engine = self.engine.clone();
        let component = tokio::task::spawn_blocking(move || compile(&engine, bytes))
            .await
            .map_err(|e| {
                fail(LoadErrorKind::Compile(format!(
                    "compilation task failed: {e}"
                )))
            })?
            .map_err(fail)?;
        self.load_component(name, component, env).await
    }

    /// Compiles `bytes` (as [`Self::load_bytes`] accepts them) into a precompiled artifact (a
    /// `.cwasm`) for this runtime's engine, for [`Self::load_precompiled`]. The artifact is
    /// valid only for the same wasmtime version and engine configuration. It compiles on the
    /// calling thread (seconds for Python and JavaScript guests): call it off the async runtime.
    pub fn precompile(&self, name: &str, bytes: Vec<u8>) -> Result<Vec<u8>, LoadError> {
        let fail = |kind| LoadError {
            config: name.to_owned(),
            kind,
        };
        let bytes = component_bytes(bytes).map_err(fail)?;
        self.engine
            .precompile_component(&bytes)
            .map_err(|e| fail(LoadErrorKind::Compile(format!("{e:#}"))))
    }

    /// A key for artifacts made by [`Self::precompile`]: equal keys mean that an artifact
    /// made by one runtime loads in the other (same wasmtime version, target and compilation
    /// settings). 16 hex digits.
    pub fn compatibility_key(&self) -> String {
        use std::hash::{Hash, Hasher};
        // SipHash with fixed keys: stable for a given build, which is all a cache needs
        // (wasmtime also checks an artifact's compatibility when it loads it).
        let mut hasher = std::hash::DefaultHasher::new();
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut hasher);
        format!("{:016x}", hasher.finish())
    }

    /// Loads a config from an artifact made by [`Self::precompile`], skipping compilation
    /// (milliseconds instead of seconds for Python and JavaScript guests), then type-checks the
    /// world and calls `rules` like [`Self::load_bytes`]. wasmtime rejects an artifact of another
    /// version or engine configuration.
    ///
    /// Only pass artifacts this host produced: they hold machine code, which is trusted as is.
    pub async fn load_precompiled(
        &self,
        name: &str,
        artifact: &[u8],
        env: CallEnv,
    ) -> Result<GuestConfig, LoadError> {
        // SAFETY: the caller promises the artifact came from `precompile` (documented above);
        // wasmtime checks its version and engine configuration before using it.
        #[expect(unsafe_code, reason = "deserializing machine code is unsafe by nature")]
        let component = unsafe { Component::deserialize(&self.engine, artifact) };
        let component = component.map_err(|e| LoadError {
            config: name.to_owned(),
            kind: LoadErrorKind::Compile(format!("{e:#}")),
        })?;
        self.load_component(name, component, env).await
    }

    /// Type-checks a compiled component against the world and loads it (calls `rules`).
    async fn load_component(
        &self,
        name: &str,
        component: Component,
        env: CallEnv,
    ) -> Result<GuestConfig, LoadError> {
        let fail = |kind| LoadError {
            config: name.to_owned(),
            kind,
        };
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| fail(LoadErrorKind::WrongWorld(format!("{e:#}"))))?;
        let imports = component.component_type();
        let target = imports
            .imports(&self.engine)
            .find_map(|(name, _)| super::wit::version_of_import(name));
        let version = Version::for_target(target.as_deref());
        let pre = ExportsPre::new(version, pre)
            .map_err(|e| fail(LoadErrorKind::WrongWorld(format!("{e:#}"))))?;
        let exports = component
            .component_type()
            .exports(&self.engine)
            .map(|(name, _)| name.to_owned())
            .collect();
        GuestConfig::new(self.clone(), name, pre, exports, env).await
    }
}

/// The first four bytes of every WebAssembly binary.
const WASM_MAGIC: &[u8] = b"\0asm";

/// Turns file bytes into a compiled component.
fn compile(engine: &Engine, bytes: Vec<u8>) -> Result<Component, LoadErrorKind> {
    let bytes = component_bytes(bytes)?;
    Component::new(engine, &bytes).map_err(|e| LoadErrorKind::Compile(format!("{e:#}")))
}

/// The component encoding of file bytes: a component as is, a core module componentized.
fn component_bytes(bytes: Vec<u8>) -> Result<Vec<u8>, LoadErrorKind> {
    // The preamble: the magic, a 16-bit version, and a 16-bit layer (0 core, 1 component).
    let bytes = match bytes.get(..8) {
        _ if !bytes.starts_with(WASM_MAGIC) => return Err(LoadErrorKind::NotWasm),
        None => {
            return Err(LoadErrorKind::Compile(
                "the file ends inside its 8-byte preamble".into(),
            ));
        }
        Some([.., 0, 0]) => componentize(&bytes)?,
        Some(_) => bytes,
    };
    Ok(bytes)
}

/// Wraps a core module produced by wit-bindgen (e.g. a `wasm32-unknown-unknown` build) into a
/// component, using the component-type section the bindings embedded in it.
fn componentize(module: &[u8]) -> Result<Vec<u8>, LoadErrorKind> {
    if !has_component_type(module) {
        return Err(LoadErrorKind::Componentize(
            "the core module has no `component-type` custom section; build it with wit-bindgen \
             against wit/, or turn it into a component first"
                .into(),
        ));
    }
    let encoder = wit_component::ComponentEncoder::default();
    let encoder = encoder
        .module(module)
        .map_err(|e| LoadErrorKind::Componentize(format!("{e:#}")))?;
    encoder
        .validate(true)
        .encode()
        .map_err(|e| LoadErrorKind::Componentize(format!("{e:#}")))
}

/// Whether a core module carries a component-type custom section (wit-bindgen names them
/// `component-type` or `component-type:<world>`). A module that does not parse has none.
fn has_component_type(module: &[u8]) -> bool {
    wasmparser::Parser::new(0).parse_all(module).any(|payload| {
        matches!(payload, Ok(wasmparser::Payload::CustomSection(section)) if section.name().starts_with("component-type"))
    })
}

/// The engine configuration: component model, epoch interruption, and optionally the pooling
/// allocator sized from `limits`.
fn config(limits: &Limits, pooling: bool) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    // The world uses no component-model-async feature (no async functions, streams or futures),
    // so the store needs none of the concurrent-task machinery: without it, `call_async` is a
    // plain fiber switch. Measured (`benches/request.rs`): it takes a bare hook call from
    // 2.9 µs to 1.5 µs and a whole request from 20.5 µs to 15.9 µs.
    config.concurrency_support(false);
    config.epoch_interruption(true);
    // Each config compiles on the (blocking) thread that loads it, not on rayon's global pool:
    // on the shared pool a Rust config's reload queued behind a Python config's 5-second
    // compile, and under a loaded test suite compiles were seen waiting on the pool for good.
    // Configs still compile concurrently with one another, one per blocking thread. The host
    // builds wasmtime without its `parallel-compilation` feature (workspace Cargo.toml), so
    // this holds without a setting.
    if pooling {
        let slots = limits.pool_slots;
        let mut pool = PoolingAllocationConfig::default();
        // A Python or JavaScript component holds a dozen core instances and a few memories
        // and tables; Rust ones one of each. Size the per-component maxima for the former and
        // the totals for `slots` concurrently live instances.
        pool.total_component_instances(slots)
            .total_core_instances(slots.saturating_mul(4))
            .total_memories(slots.saturating_mul(2))
            .total_tables(slots.saturating_mul(4))
            .total_stacks(slots)
            .max_core_instances_per_component(32)
            .max_memories_per_component(4)
            .max_tables_per_component(16)
            .max_memory_size(limits.memory_bytes)
            .table_elements(100_000)
            .max_core_instance_size(8 << 20)
            .max_component_instance_size(8 << 20);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until the engine is dropped.
fn spawn_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    let spawned = thread::Builder::new()
        .name("wasm-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                thread::sleep(EPOCH_TICK);
            }
        });
    if let Err(e) = spawned {
        tracing::error!(
            "cannot start the epoch thread, guest CPU budgets will not be enforced: {e}"
        );
    }
}
