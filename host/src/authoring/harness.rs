//! What `plugin trace` and `plugin test` share: configs loaded with an observer, an engine on
//! an in-process emulator (or a real upstream), and one request sent through it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::{Map, Value};

use crate::configs::{CompileCache, Loader};
use crate::engine::observe::{HookCall, HookObserver};
use crate::engine::{ConfigSet, Engine, ServedBy};
use crate::plugin::{CallEnv, GuestConfig, Limits, Runtime};
use crate::problem::Problem;
use crate::session_management::engine_request;
use crate::settings::{SessionSettings, UpstreamSettings};
use crate::zyte::{ApiKey, Client};

/// Why a trace or a test could not run (not a failed case: a case that fails is a result).
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A file is invalid; the message names the field.
    #[error("{}: {message}", file.display())]
    File {
        /// The file.
        file: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Something else failed.
    #[error("{0}")]
    Run(String),
}

impl HarnessError {
    pub(crate) fn run(e: impl std::fmt::Display) -> HarnessError {
        HarnessError::Run(e.to_string())
    }
}

/// Collects observed calls in order.
#[derive(Default)]
pub struct Recorder {
    calls: Mutex<Vec<HookCall>>,
}

impl HookObserver for Recorder {
    fn record(&self, call: HookCall) {
        self.calls.lock().push(call);
    }
}

impl Recorder {
    /// Every call recorded so far, removed.
    pub fn take(&self) -> Vec<HookCall> {
        std::mem::take(&mut *self.calls.lock())
    }
}

/// The configs of a folder, loaded as `serve` loads them; each problem is returned as text.
pub async fn load_dir(dir: &Path) -> Result<(ConfigSet, Vec<String>), HarnessError> {
    if !dir.is_dir() {
        let message = "not a folder of configs (.wasm files)".to_owned();
        return Err(HarnessError::File {
            file: dir.to_owned(),
            message,
        });
    }
    let runtime = Runtime::new(Limits::default()).map_err(HarnessError::run)?;
    let cache = CompileCache::default_dir().map(CompileCache::new);
    let mut loader = Loader::new(dir, runtime, cache);
    let loaded = loader.reload().await.map_err(HarnessError::run)?;
    let Some((set, report)) = loaded else {
        return Ok((ConfigSet::default(), Vec::new()));
    };
    let problems = report
        .problems
        .iter()
        .map(|p| format!("{}: {}", p.file.display(), p.error))
        .collect();
    Ok((set, problems))
}

/// The configs of `.wasm` files, through the compile cache `serve` uses (a Python or
/// JavaScript config takes seconds to compile, a cached one milliseconds).
pub async fn load_files(files: &[PathBuf]) -> Result<Vec<Arc<GuestConfig>>, HarnessError> {
    use sha2::Digest as _;
    let runtime = Runtime::new(Limits::default()).map_err(HarnessError::run)?;
    let cache = CompileCache::default_dir().map(CompileCache::new);
    let mut plugins = Vec::new();
    for file in files {
        let error = |message: String| HarnessError::File {
            file: file.clone(),
            message,
        };
        let bytes = std::fs::read(file).map_err(|e| error(format!("cannot read: {e}")))?;
        let name = file.file_stem().map(|s| s.to_string_lossy().into_owned());
        let name = name.unwrap_or_default();
        let loaded = match &cache {
            Some(cache) => {
                let sha256 = hex::encode(sha2::Sha256::digest(&bytes));
                let loaded = cache.load(&runtime, &name, bytes, &sha256, CallEnv::default());
                loaded.await.map(|(plugin, _)| plugin)
            }
            None => runtime.load_bytes(&name, bytes, CallEnv::default()).await,
        };
        plugins.push(Arc::new(loaded.map_err(|e| error(e.to_string()))?));
    }
    Ok(plugins)
}

/// Session settings for tracing and testing: the defaults with sessions enabled, so that a
/// config's pool and checks are visible without a settings file.
pub fn session_settings() -> SessionSettings {
    SessionSettings {
        enabled: true,
        ..SessionSettings::default()
    }
}

/// An engine on `upstream` with `set`, its hook calls going to `recorder`. `key` is the Zyte
/// API key (the emulator accepts any).
pub fn engine(
    settings: SessionSettings,
    upstream: &str,
    key: ApiKey,
    set: ConfigSet,
    recorder: Arc<Recorder>,
) -> Result<Engine, HarnessError> {
    let upstream = UpstreamSettings {
        url: upstream.to_owned(),
        wait_scale: 0.0,
        ..UpstreamSettings::default()
    };
    let client = Client::new(&upstream, key).map_err(HarnessError::run)?;
    let engine = Engine::new(settings, client);
    engine.install_configs(set.with_observer(recorder));
    Ok(engine)
}

/// What became of one request.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    /// The HTTP status a gateway client would see.
    pub status: u16,
    /// Who served it, when a session did.
    pub served_by: Option<ServedByView>,
    /// The response body, or the problem+json of an error.
    pub body: Value,
}

/// [`ServedBy`], serializable.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ServedByView {
    /// The pool.
    pub pool: String,
    /// The session.
    pub session: String,
    /// The config.
    pub config: String,
}

impl From<&ServedBy> for ServedByView {
    fn from(s: &ServedBy) -> Self {
        ServedByView {
            pool: s.pool.clone(),
            session: s.session_id.clone(),
            config: s.config.clone(),
        }
    }
}

/// Sends one request (a Zyte API body with `url`, optionally `sessionManagement`).
pub async fn send(engine: &Engine, body: Map<String, Value>) -> Outcome {
    let request = match engine_request(body) {
        Ok(request) => request,
        Err(e) => {
            let problem = Problem::bad_request(e.to_string().as_str());
            return Outcome {
                status: problem.status,
                served_by: None,
                body: problem.to_value(),
            };
        }
    };
    match engine.execute(request).await {
        Ok(response) => Outcome {
            status: response.status,
            served_by: response.served_by.as_ref().map(ServedByView::from),
            body: serde_json::from_str(&response.body).unwrap_or(Value::String(response.body)),
        },
        Err(e) => {
            let problem = Problem::from_engine_error(&e);
            Outcome {
                status: problem.status,
                served_by: None,
                body: problem.to_value(),
            }
        }
    }
}
