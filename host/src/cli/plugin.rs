//! `session-host plugin …`: inspecting configs without serving.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use session_host::plugin::{CallEnv, Hook, Limits, Plugin, Runtime};

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
}

/// Runs a `plugin` subcommand.
pub async fn run(command: PluginCommand) -> anyhow::Result<ExitCode> {
    match command {
        PluginCommand::Check { files } => check(files).await,
    }
}

async fn check(files: Vec<PathBuf>) -> anyhow::Result<ExitCode> {
    let runtime = Runtime::new(Limits::default())?;
    let mut failed = 0;
    for file in &files {
        match runtime.load_file(file, CallEnv::default()).await {
            Ok(plugin) => print!("{}", describe(file, &plugin)),
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

/// The world's hooks among the component's exports (componentize-py adds others).
fn hooks(plugin: &Plugin) -> Vec<&str> {
    let exported = |hook: &Hook| plugin.exports().iter().any(|e| e == hook.name());
    Hook::ALL
        .iter()
        .filter(|h| exported(h))
        .map(|h| h.name())
        .collect()
}

/// A human-readable summary of a loaded config.
fn describe(file: &std::path::Path, plugin: &Plugin) -> String {
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
