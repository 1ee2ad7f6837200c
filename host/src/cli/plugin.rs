//! `session-host plugin …`: inspecting configs without serving.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use session_host::configs::{CompileCache, Loader};
use session_host::engine::{Engine, EngineRequest};
use session_host::plugin::{
    CallEnv, GuestConfig, Hook, Limits, Runtime, SUPPORTED_WIT_VERSIONS, WIT_VERSION,
};
use session_host::settings::HostSettings;
use session_host::zyte::{ApiKey, Client};

/// Subcommands of `plugin`.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Load and validate each config, and print its rules and hooks. Exits non-zero if any
    /// file is not a valid session config.
    Check {
        /// `.wasm` files (components, or core modules with a component-type section).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Show which config would serve URL: the rule's matching pattern, the configs it beat and
    /// why, and the session pool the URL would get.
    Which {
        /// The URL.
        url: String,
        /// Folder of session configs; without it only the built-in default config exists.
        #[arg(long, value_name = "DIR")]
        configs: Option<PathBuf>,
        /// Settings file (pool ids depend on `[sessions]`).
        #[arg(long = "config", value_name = "FILE")]
        settings: Option<PathBuf>,
    },
    /// Send one request through the engine and print each hook's input, output and time, the
    /// init chain's downloads, the check verdict, and the pool and session.
    Trace(super::authoring::TraceArgs),
    /// Run a config's scenario file (a project folder's scenario.toml, or FILE) against an
    /// in-process emulator: pass/fail per case, with each difference. Exits 1 if a case fails.
    Test {
        /// A config project folder, a folder holding scenario.toml, or a scenario file.
        target: Option<PathBuf>,
        /// Print the results as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Build a config project (made by `session-host new`) into DIR/dist/NAME.wasm.
    Build {
        /// The project folder (default: the current one).
        dir: Option<PathBuf>,
    },
}

/// Runs a `plugin` subcommand.
pub async fn run(command: PluginCommand) -> anyhow::Result<ExitCode> {
    match command {
        PluginCommand::Check { files } => check(files).await,
        PluginCommand::Which {
            url,
            configs,
            settings,
        } => which(&url, configs, settings).await,
        PluginCommand::Build { dir } => super::authoring::build(dir),
        PluginCommand::Trace(args) => super::authoring::trace(args).await,
        PluginCommand::Test { target, json } => super::authoring::test(target, json).await,
    }
}

async fn check(files: Vec<PathBuf>) -> anyhow::Result<ExitCode> {
    let runtime = Runtime::new(Limits::default())?;
    let mut failed = 0;
    for file in &files {
        match runtime.load_file(file, CallEnv::default()).await {
            Ok(plugin) => {
                print!("{}", describe(file, &plugin));
                println!("  wit:        {}", wit_version(file));
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: {}: {e}", file.display());
            }
        }
    }
    if failed > 0 {
        eprintln!("{failed} of {} file(s) failed", files.len());
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// The WIT version `file` targets, and whether this host supports it.
fn wit_version(file: &std::path::Path) -> String {
    let found = std::fs::read(file)
        .ok()
        .and_then(|bytes| session_host::plugin::targeted_wit_version(&bytes));
    match found {
        Some(v) if session_host::plugin::wit_version_supported(&v) => {
            format!("session-host:config@{v} (supported; this host: {WIT_VERSION})")
        }
        Some(v) => {
            format!("session-host:config@{v} (this host supports {SUPPORTED_WIT_VERSIONS:?})")
        }
        None => "unknown (the file names no session-host:config import)".to_owned(),
    }
}

/// The world's hooks among the component's exports (componentize-py adds others).
fn hooks(plugin: &GuestConfig) -> Vec<&str> {
    let exported = |hook: &Hook| plugin.exports().iter().any(|e| e == hook.name());
    Hook::ALL
        .iter()
        .filter(|h| exported(h))
        .map(|h| h.name())
        .collect()
}

/// A human-readable summary of a loaded config.
fn describe(file: &std::path::Path, plugin: &GuestConfig) -> String {
    let rules = plugin.rules();
    let list = |items: &[String]| {
        if items.is_empty() {
            "(none)".to_owned()
        } else {
            items.join(", ")
        }
    };
    format!(
        "{}: ok\n  config:     {}\n  include:    {}\n  exclude:    {}\n  priority:   {}\n  instead-of: {}\n  hooks:      {}\n",
        file.display(),
        plugin.name(),
        if rules.include.is_empty() {
            "(universal)".to_owned()
        } else {
            rules.include.join(", ")
        },
        list(&rules.exclude),
        rules.priority,
        rules
            .instead_of
            .as_deref()
            .unwrap_or("(the built-in default)"),
        hooks(plugin).join(", "),
    )
}

/// `plugin which`: loads the folder as `serve` would, and routes one URL without sending it.
async fn which(
    url: &str,
    configs: Option<PathBuf>,
    settings: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    url::Url::parse(url).with_context(|| format!("{url:?} is not an absolute URL"))?;
    let settings = match settings {
        Some(path) => HostSettings::load(&path)?,
        None => HostSettings::default(),
    };
    // Nothing is sent: the client only exists because the engine needs one.
    let client = Client::new(&settings.upstream, ApiKey::new("unused"))?;
    let engine = Engine::new(settings.sessions.clone(), client);
    if let Some(dir) = &configs {
        let runtime = Runtime::new(settings.plugins.clone())?;
        let cache = CompileCache::default_dir().map(CompileCache::new);
        let mut loader = Loader::new(dir, runtime, cache);
        if let Some((set, report)) = loader.reload().await? {
            for problem in &report.problems {
                eprintln!("warning: {}: {}", problem.file.display(), problem.error);
            }
            engine.install_configs(set);
        }
    }
    let set = engine.configs();
    let selection = set.explain(url);
    let mut body = serde_json::Map::new();
    body.insert("url".into(), url.into());
    let route = engine.route(EngineRequest::new(body)).await?;
    println!("url:     {url}");
    match (&selection.config, selection.pattern.clone()) {
        (Some(name), pattern) => {
            let entry = set.get(name);
            let file = entry
                .and_then(|e| e.source.as_ref())
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            println!("config:  {name} ({file})");
            println!(
                "pattern: {}",
                pattern.map_or("(universal rule)".to_owned(), |p| format!("{p:?}"))
            );
        }
        (None, _) => println!("config:  {} (built-in: no rule matches)", route.config),
    }
    match &route.pool {
        Some(pool) => println!(
            "pool:    {pool}{}",
            if route.cookie_mode {
                " (cookie mode)"
            } else {
                ""
            }
        ),
        None => println!(
            "pool:    none (sessions are disabled for this URL: the settings' [sessions] enabled, \
             a request's sessionManagement.enabled or the config's `enabled` hook turn them on)"
        ),
    }
    if selection.beaten.is_empty() {
        println!("beat:    nothing else matched");
    } else {
        println!("beat:");
        for (name, why) in &selection.beaten {
            println!("  {name}: {why}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
