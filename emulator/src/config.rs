//! The emulator's configuration.
//!
//! [`EmulatorConfig::default`] gives: listen on `127.0.0.1:0` (an ephemeral port; the CLI's
//! default is `127.0.0.1:8021`), the built-in scenario, seed 0, time scale 1 (real time), and any
//! non-empty API key accepted.

use std::net::{Ipv4Addr, SocketAddr};

use crate::clock::MAX_TIME_SCALE;
use crate::error::EmulatorError;
use crate::scenario::Scenario;

/// Everything [`crate::start`] needs.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Sites, faults and policy.
    pub scenario: Scenario,
    /// Seed of every random decision (faults, bans, latencies, tombstones, ids).
    pub seed: u64,
    /// Accepted API keys; empty accepts any non-empty key.
    pub api_keys: Vec<String>,
    /// Emulated seconds per real second; 0 freezes the clock (see [`crate::Clock`]).
    pub time_scale: f64,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            scenario: Scenario::builtin(),
            seed: 0,
            api_keys: Vec::new(),
            time_scale: 1.0,
        }
    }
}

impl EmulatorConfig {
    /// Checks the values that the types alone do not constrain.
    pub fn validate(&self) -> Result<(), EmulatorError> {
        if !(self.time_scale.is_finite() && (0.0..=MAX_TIME_SCALE).contains(&self.time_scale)) {
            return Err(EmulatorError::Config(format!(
                "time_scale must be within 0..={MAX_TIME_SCALE}, got {}",
                self.time_scale
            )));
        }
        if self.api_keys.iter().any(String::is_empty) {
            return Err(EmulatorError::Config("API keys must not be empty".into()));
        }
        self.scenario
            .validate()
            .map_err(|message| EmulatorError::Scenario {
                origin: "<config>".into(),
                message,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let config = EmulatorConfig::default();
        assert!(config.validate().is_ok());
        assert_eq!(
            (config.seed, config.time_scale, config.api_keys.len()),
            (0, 1.0, 0)
        );
    }

    #[test]
    fn bad_time_scales_and_keys_are_rejected() {
        for time_scale in [-1.0, f64::NAN, f64::INFINITY] {
            let config = EmulatorConfig {
                time_scale,
                ..EmulatorConfig::default()
            };
            assert!(matches!(config.validate(), Err(EmulatorError::Config(_))));
        }
        let config = EmulatorConfig {
            api_keys: vec![String::new()],
            ..EmulatorConfig::default()
        };
        assert!(config.validate().is_err());
    }
}
