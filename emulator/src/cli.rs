//! `session-host emulate`: the command-line front end (the host binary parses and calls in).

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::config::EmulatorConfig;
use crate::error::EmulatorError;
use crate::scenario::Scenario;

/// Arguments of `session-host emulate`.
#[derive(Clone, Debug, clap::Args)]
pub struct EmulateArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8021")]
    pub listen: SocketAddr,
    /// Scenario file (TOML); the built-in scenario when absent.
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Seed for faults, bans and latencies.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,
    /// Accepted API key (repeatable); any non-empty key when absent.
    #[arg(long = "api-key", value_name = "KEY")]
    pub api_keys: Vec<String>,
    /// Emulated seconds per real second (60 = sessions idle out in 2 s); 0 freezes the clock.
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    pub time_scale: f64,
}

impl EmulateArgs {
    /// The configuration these arguments describe (reads the scenario file).
    pub fn to_config(&self) -> Result<EmulatorConfig, EmulatorError> {
        let scenario = match &self.scenario {
            Some(path) => Scenario::from_file(path)?,
            None => Scenario::builtin(),
        };
        let config = EmulatorConfig {
            listen: self.listen,
            scenario,
            seed: self.seed,
            api_keys: self.api_keys.clone(),
            time_scale: self.time_scale,
        };
        config.validate()?;
        Ok(config)
    }
}

/// Serves until Ctrl-C, logging the address it listens on.
pub async fn run_cli(args: EmulateArgs) -> Result<(), EmulatorError> {
    let emulator = crate::start(args.to_config()?).await?;
    tracing::info!(
        api_url = %emulator.base_url(),
        stats = %format!("http://{}/__emulator/stats", emulator.addr()),
        "Zyte API emulator listening on {}",
        emulator.addr()
    );
    tokio::signal::ctrl_c().await?;
    tracing::info!("Ctrl-C received, shutting the emulator down");
    emulator.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: EmulateArgs,
    }

    #[test]
    fn defaults_and_repeated_keys_parse() {
        let cli =
            Cli::try_parse_from(["emulate", "--api-key", "A", "--api-key", "B", "--seed", "7"])
                .expect("parses");
        assert_eq!(cli.args.listen.to_string(), "127.0.0.1:8021");
        assert_eq!(cli.args.api_keys, ["A", "B"]);
        let config = cli.args.to_config().expect("config");
        assert_eq!((config.seed, config.time_scale), (7, 1.0));
    }

    #[test]
    fn a_missing_scenario_file_is_an_error() {
        let cli =
            Cli::try_parse_from(["emulate", "--scenario", "/nonexistent.toml"]).expect("parses");
        assert!(matches!(
            cli.args.to_config(),
            Err(EmulatorError::ScenarioRead { .. })
        ));
    }
}
