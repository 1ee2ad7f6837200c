//! Command-line parsing and dispatch. Errors are displayed here (with `anyhow`), and turned
//! into the exit code: 0 on success, 1 on failure, 2 on a usage error (clap's own); `run` adds
//! its own (see [`run`]).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod authoring;
mod demo;
mod host;
mod logging;
mod plugin;
mod progress;
mod run;
mod serve;
mod state;
mod summary;

/// Zyte API session management with site logic in sandboxed WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "session-host", version, about)]
struct Cli {
    /// How log lines are written to stderr: `text`, coloured only when stderr is a terminal and
    /// NO_COLOR is unset, or `json`, one object per line.
    #[arg(long, global = true, value_enum, value_name = "FORMAT", default_value_t = logging::LogFormat::Text)]
    log_format: logging::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Scaffold a config project (source with every hook, build script, README, scenario).
    New(authoring::NewArgs),
    /// Inspect, build, trace and test session configs.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Send a file of Zyte API requests (JSON Lines) or URLs through the engine; resumable.
    ///
    /// Exit codes: 0 every input answered (the output may hold error answers), 1 failure,
    /// 2 usage error, 3 stopped by a closed session pool, 130/143 interrupted (SIGINT/SIGTERM).
    Run(run::RunArgs),
    /// Run a batch through the engine on the built-in emulator: no setup, no key.
    Demo(demo::DemoArgs),
    /// Serve the Zyte-API-compatible HTTP gateway: any Zyte API client gets session management.
    Serve(serve::ServeArgs),
    /// Show or clear the pools and sessions kept across restarts (the state dir).
    #[command(subcommand)]
    State(state::StateCommand),
    /// Serve the offline Zyte API emulator.
    Emulate(zyte_emulator::EmulateArgs),
}

/// Parses the arguments, runs the command, and reports its outcome.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // The batch commands print their own account of what happened; the log would drown it.
    let level = match cli.command {
        Command::Demo(_) => "error",
        Command::Run(_) | Command::Plugin(_) => "warn",
        _ => "info",
    };
    logging::init(level, cli.log_format);
    // `run` answers its whole batch on one thread (issue 17, see [`run`]); the other commands
    // use a thread per core.
    let mut builder = match cli.command {
        Command::Run(_) => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return report(anyhow::anyhow!("cannot start the async runtime: {e}")),
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => run::run(args).await,
            Command::Demo(args) => demo::run(args).await.map(|()| ExitCode::SUCCESS),
            Command::New(args) => authoring::new(args),
            Command::Plugin(command) => plugin::run(command).await,
            Command::Serve(args) => serve::run(args).await.map(|()| ExitCode::SUCCESS),
            Command::State(command) => state::run(command).map(|()| ExitCode::SUCCESS),
            Command::Emulate(args) => zyte_emulator::run_cli(args)
                .await
                .map(|()| ExitCode::SUCCESS)
                .map_err(Into::into),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => report(e),
    }
}

fn report(error: anyhow::Error) -> ExitCode {
    eprintln!("error: {error:#}");
    ExitCode::FAILURE
}
