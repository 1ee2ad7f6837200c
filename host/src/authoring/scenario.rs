//! `session-host plugin test`: a config's scenario file, run against an in-process emulator.
//!
//! A scenario file (TOML; `scenario.toml` in a config project) lists cases. Each case sends
//! its URLs, one after the other, through an engine with the configs loaded, against a fresh
//! emulator (so no session outlives a case), and compares what happened with its `expect`:
//!
//! ```toml
//! configs = ["../dist/location.wasm"]  # default: the project's dist/NAME.wasm
//! [emulator]
//! scenario = "emulator.toml"           # default: the emulator's built-in scenario
//! seed = 7
//! [sessions]                           # the host's [sessions] settings; enabled by default
//! pool_size = 2
//! [[case]]
//! name = "sessions are created for the site"
//! urls = ["https://example.com/"]
//! body = { browserHtml = true }        # default: httpResponseBody = true
//! sessionManagement = { enabled = true }
//! [case.expect]                        # every key optional
//! status = 200                         # each URL's status
//! config = "shop"                      # the config that served each URL
//! pool = "example.com"                 # each URL's pool
//! verdict = "keep"                     # the last check of each URL: keep, discard, close-pool
//! sessions_created = 1                 # sessions created over the whole case
//! ```
//!
//! Policy: unknown keys are errors naming the file, the key and its line; paths are relative
//! to the scenario file. A case passes when every expected value matches; a failing case
//! lists each difference (`expected … got …`). Emulator clocks run at real speed and the
//! upstream's retry waits are skipped (`wait_scale = 0`), so a case takes about the time of
//! its requests.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::harness::{self, HarnessError, Outcome, Recorder};
use super::project::Project;
use crate::engine::ConfigSet;
use crate::settings::SessionSettings;
use crate::zyte::ApiKey;

/// The scenario file of a config project.
pub const SCENARIO_FILE: &str = "scenario.toml";

/// A scenario file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The `.wasm` files to load, relative to the file.
    #[serde(default)]
    pub configs: Vec<PathBuf>,
    /// The emulator.
    #[serde(default)]
    pub emulator: EmulatorSection,
    /// Session settings (sessions enabled when absent).
    #[serde(default)]
    pub sessions: Option<SessionSettings>,
    /// The cases.
    #[serde(rename = "case")]
    pub cases: Vec<Case>,
}

/// The `[emulator]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmulatorSection {
    /// An emulator scenario file, relative to the scenario file.
    pub scenario: Option<PathBuf>,
    /// The seed of the emulator's random decisions.
    #[serde(default = "default_seed")]
    pub seed: u64,
}

fn default_seed() -> u64 {
    7
}

impl Default for EmulatorSection {
    fn default() -> Self {
        EmulatorSection {
            scenario: None,
            seed: default_seed(),
        }
    }
}

/// One `[[case]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What it shows.
    pub name: String,
    /// The URLs, sent in order.
    pub urls: Vec<String>,
    /// Zyte API fields of each request.
    #[serde(default)]
    pub body: Option<Map<String, Value>>,
    /// Per-request session controls.
    #[serde(default, rename = "sessionManagement")]
    pub session_management: Option<Value>,
    /// What should happen.
    pub expect: Expect,
}

/// `[case.expect]`: every value optional.
#[derive(Debug, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Each URL's status.
    pub status: Option<u16>,
    /// The config that served each URL.
    pub config: Option<String>,
    /// Each URL's pool.
    pub pool: Option<String>,
    /// The last `check` verdict of each URL.
    pub verdict: Option<String>,
    /// Sessions created over the case.
    pub sessions_created: Option<u64>,
}

/// A scenario with where it came from.
#[derive(Debug)]
pub struct Loaded {
    /// The scenario file.
    pub file: PathBuf,
    /// Its content.
    pub scenario: Scenario,
    /// The configs to load, resolved.
    pub configs: Vec<PathBuf>,
}

/// Reads the scenario of `target`: a scenario file, or a folder holding [`SCENARIO_FILE`]
/// (a config project's configs default to its `dist/NAME.wasm`).
pub fn load(target: &Path) -> Result<Loaded, HarnessError> {
    let (file, project) = if target.is_dir() {
        let project = Project::open(target).ok();
        (target.join(SCENARIO_FILE), project)
    } else {
        (target.to_owned(), None)
    };
    let error = |message: String| HarnessError::File {
        file: file.clone(),
        message,
    };
    let text = std::fs::read_to_string(&file).map_err(|e| error(format!("cannot read: {e}")))?;
    let scenario: Scenario = toml::from_str(&text).map_err(|e| error(e.to_string()))?;
    let base = file.parent().unwrap_or(Path::new("."));
    let mut configs: Vec<PathBuf> = scenario.configs.iter().map(|c| base.join(c)).collect();
    if configs.is_empty() {
        let project = project.ok_or_else(|| {
            error("no `configs` given, and the folder is not a config project".into())
        })?;
        configs.push(project.output());
    }
    if scenario.cases.is_empty() {
        return Err(error("no [[case]]".into()));
    }
    Ok(Loaded {
        file,
        scenario,
        configs,
    })
}

/// The result of one case.
#[derive(Debug, serde::Serialize)]
pub struct CaseResult {
    /// The case's name.
    pub name: String,
    /// Each difference between expected and observed; empty when it passed.
    pub differences: Vec<String>,
    /// What each URL got.
    pub outcomes: Vec<(String, Outcome, Option<Value>)>,
    /// Sessions created over the case.
    pub sessions_created: u64,
}

impl CaseResult {
    /// Whether the case passed.
    pub fn passed(&self) -> bool {
        self.differences.is_empty()
    }
}

/// Runs every case of `loaded`.
pub async fn run(loaded: &Loaded) -> Result<Vec<CaseResult>, HarnessError> {
    let emulator_scenario = match &loaded.scenario.emulator.scenario {
        None => zyte_emulator::Scenario::builtin(),
        Some(path) => {
            let path = loaded.file.parent().unwrap_or(Path::new(".")).join(path);
            zyte_emulator::Scenario::from_file(&path).map_err(|e| HarnessError::File {
                file: loaded.file.clone(),
                message: format!("field `emulator.scenario`: {e}"),
            })?
        }
    };
    // Loaded once: a Python or JavaScript config takes seconds to compile.
    let plugins = harness::load_files(&loaded.configs).await?;
    let mut results = Vec::new();
    for case in &loaded.scenario.cases {
        let set = ConfigSet::from_plugins(plugins.clone()).map_err(HarnessError::run)?;
        let config = zyte_emulator::EmulatorConfig {
            scenario: emulator_scenario.clone(),
            seed: loaded.scenario.emulator.seed,
            ..Default::default()
        };
        results.push(run_case(case, set, config, loaded.scenario.sessions.clone()).await?);
    }
    Ok(results)
}

async fn run_case(
    case: &Case,
    set: ConfigSet,
    config: zyte_emulator::EmulatorConfig,
    sessions: Option<SessionSettings>,
) -> Result<CaseResult, HarnessError> {
    let emulator = zyte_emulator::start(config)
        .await
        .map_err(HarnessError::run)?;
    let recorder = Arc::new(Recorder::default());
    let settings = sessions.unwrap_or_else(harness::session_settings);
    let key = ApiKey::new("scenario");
    let engine = harness::engine(settings, &emulator.base_url(), key, set, recorder.clone())?;
    let mut outcomes = Vec::new();
    for url in &case.urls {
        let mut body = case.body.clone().unwrap_or_else(|| {
            json!({"httpResponseBody": true})
                .as_object()
                .cloned()
                .unwrap_or_default()
        });
        body.insert("url".into(), url.as_str().into());
        if let Some(management) = &case.session_management {
            body.insert("sessionManagement".into(), management.clone());
        }
        let outcome = harness::send(&engine, body).await;
        let verdict = last_verdict(&recorder.take());
        outcomes.push((url.clone(), outcome, verdict));
    }
    emulator.shutdown().await;
    let stats = engine.stats();
    let sessions_created = stats
        .per_pool
        .values()
        .map(|pool| pool.get("init/check-passed").copied().unwrap_or(0))
        .sum();
    let differences = compare(&case.expect, &outcomes, sessions_created);
    Ok(CaseResult {
        name: case.name.clone(),
        differences,
        outcomes,
        sessions_created,
    })
}

/// The verdict of the last `check` of a use (not init) response among `calls`.
fn last_verdict(calls: &[crate::engine::observe::HookCall]) -> Option<Value> {
    calls
        .iter()
        .rev()
        .find(|c| c.hook == "check" && c.input["request"]["is_init"] != json!(true))
        .map(|c| c.output.clone())
}

/// The differences between `expect` and what happened.
fn compare(
    expect: &Expect,
    outcomes: &[(String, Outcome, Option<Value>)],
    created: u64,
) -> Vec<String> {
    let mut differences = Vec::new();
    let mut differ = |what: String, expected: &dyn std::fmt::Debug, got: &dyn std::fmt::Debug| {
        differences.push(format!("{what}: expected {expected:?}, got {got:?}"));
    };
    for (url, outcome, verdict) in outcomes {
        let served = outcome.served_by.as_ref();
        if let Some(status) = expect.status.filter(|s| *s != outcome.status) {
            differ(format!("{url} status"), &status, &outcome.status);
        }
        let config = served.map(|s| s.config.as_str());
        if let Some(want) = expect.config.as_deref().filter(|w| Some(*w) != config) {
            differ(format!("{url} config"), &want, &config.unwrap_or("none"));
        }
        let pool = served.map(|s| s.pool.as_str());
        if let Some(want) = expect.pool.as_deref().filter(|w| Some(*w) != pool) {
            differ(format!("{url} pool"), &want, &pool.unwrap_or("none"));
        }
        let got = verdict.as_ref().map(verdict_name);
        if let Some(want) = expect
            .verdict
            .as_deref()
            .filter(|w| Some(*w) != got.as_deref())
        {
            differ(
                format!("{url} verdict"),
                &want,
                &got.as_deref().unwrap_or("none"),
            );
        }
    }
    if let Some(want) = expect.sessions_created.filter(|w| *w != created) {
        differ("sessions_created".into(), &want, &created);
    }
    differences
}

/// `keep`, `discard`, `close-pool`, or `error` for a check that failed.
fn verdict_name(verdict: &Value) -> String {
    match verdict {
        Value::String(s) => s.clone(),
        Value::Object(o) if o.contains_key("close-pool") => "close-pool".into(),
        _ => "error".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_18_unknown_keys_name_the_file_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.toml");
        let text = "configs = [\"a.wasm\"]\n[[case]]\nname = \"x\"\nurls = []\n[case.expect]\nstatuss = 200\n";
        std::fs::write(&file, text).unwrap();
        let error = load(&file).unwrap_err().to_string();
        assert!(
            error.contains("s.toml") && error.contains("statuss"),
            "{error}"
        );
    }

    #[test]
    fn issue_18_a_folder_without_scenario_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let error = load(dir.path()).unwrap_err().to_string();
        assert!(
            error.contains(SCENARIO_FILE) && error.contains("cannot read"),
            "{error}"
        );
    }
}
