//! Simulated response latency of a site, in emulated time.
//!
//! Policy: the default is no latency at all, and a zero sample never sleeps, so benchmarks
//! measure the emulator rather than timers. The real sleep is the sample divided by the clock's
//! `time_scale` (see [`crate::clock`]). Samples are drawn from the request's seeded RNG.

use std::time::Duration;

use rand::Rng;
use rand_distr::{Distribution, LogNormal};
use serde::Deserialize;

/// The longest latency a sample can produce (10 minutes), so a heavy log-normal tail cannot
/// stall a connection for hours.
pub const MAX_LATENCY: Duration = Duration::from_secs(600);

/// A latency distribution, as written in a scenario:
/// `latency = { kind = "fixed", ms = 200 }`, `{ kind = "uniform", min_ms = 100, max_ms = 300 }`
/// `{ kind = "log-normal", median_ms = 2000, sigma = 0.5 }`
/// or `{ kind = "spikes", ms = 5, spike_ms = 3000, rate = 0.01 }`.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Latency {
    /// No latency (the default).
    #[default]
    None,
    /// Always the same.
    Fixed {
        /// Milliseconds.
        ms: u64,
    },
    /// Uniform between two bounds.
    Uniform {
        /// Lower bound, milliseconds.
        min_ms: u64,
        /// Upper bound, milliseconds.
        max_ms: u64,
    },
    /// Log-normal with the given median and shape.
    LogNormal {
        /// Median, milliseconds.
        median_ms: u64,
        /// Standard deviation of the underlying normal (0 = always the median).
        sigma: f64,
    },
    /// Latency spikes: usually `ms`, but `spike_ms` with probability `rate` (a stalled backend,
    /// a slow website), for chaos tests of deadlines.
    Spikes {
        /// The usual latency, milliseconds.
        ms: u64,
        /// The latency of a spike, milliseconds.
        spike_ms: u64,
        /// Probability of a spike per request, within 0..=1.
        rate: f64,
    },
}

impl Latency {
    /// Checks the parameters; the error says which one is wrong.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            Latency::Uniform { min_ms, max_ms } if min_ms > max_ms => Err(format!(
                "latency min_ms ({min_ms}) exceeds max_ms ({max_ms})"
            )),
            Latency::LogNormal { sigma, .. } if !(sigma.is_finite() && sigma >= 0.0) => Err(
                format!("latency sigma ({sigma}) must be a finite number ≥ 0"),
            ),
            Latency::Spikes { rate, .. } if !(0.0..=1.0).contains(&rate) => {
                Err(format!("latency spike rate ({rate}) must be within 0..=1"))
            }
            _ => Ok(()),
        }
    }

    /// Draws one latency.
    pub fn sample(&self, rng: &mut impl Rng) -> Duration {
        let ms = match *self {
            Latency::None => return Duration::ZERO,
            Latency::Fixed { ms } => ms as f64,
            Latency::Uniform { min_ms, max_ms } => rng.random_range(min_ms..=max_ms) as f64,
            Latency::LogNormal { median_ms, sigma } => log_normal_ms(median_ms, sigma, rng),
            Latency::Spikes { ms, spike_ms, rate } => {
                let spike = rng.random::<f64>() < rate;
                (if spike { spike_ms } else { ms }) as f64
            }
        };
        Duration::try_from_secs_f64(ms / 1000.0)
            .unwrap_or(MAX_LATENCY)
            .min(MAX_LATENCY)
    }
}

fn log_normal_ms(median_ms: u64, sigma: f64, rng: &mut impl Rng) -> f64 {
    if median_ms == 0 {
        return 0.0;
    }
    match LogNormal::new((median_ms as f64).ln(), sigma) {
        Ok(dist) => dist.sample(rng),
        Err(_) => median_ms as f64,
    }
}

#[cfg(test)]
mod tests {
    use crate::rng::RequestRng;
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn samples_follow_the_distribution_kind() {
        let mut rng = RequestRng::seed_from_u64(7);
        assert_eq!(Latency::None.sample(&mut rng), Duration::ZERO);
        assert_eq!(
            Latency::Fixed { ms: 250 }.sample(&mut rng),
            Duration::from_millis(250)
        );
        let uniform = Latency::Uniform {
            min_ms: 100,
            max_ms: 300,
        };
        for _ in 0..100 {
            let d = uniform.sample(&mut rng);
            assert!(d >= Duration::from_millis(100) && d <= Duration::from_millis(300));
        }
        let flat = Latency::LogNormal {
            median_ms: 2000,
            sigma: 0.0,
        };
        assert_eq!(flat.sample(&mut rng), Duration::from_secs(2));
    }

    #[test]
    fn log_normal_median_is_roughly_right() {
        let mut rng = RequestRng::seed_from_u64(1);
        let dist = Latency::LogNormal {
            median_ms: 1000,
            sigma: 0.5,
        };
        let mut samples: Vec<Duration> = (0..2001).map(|_| dist.sample(&mut rng)).collect();
        samples.sort();
        let median = samples[1000].as_millis();
        assert!((850..1150).contains(&median), "median {median} ms");
    }

    #[test]
    fn issue_12_spikes_come_at_their_rate_and_nothing_in_between() {
        let mut rng = RequestRng::seed_from_u64(12);
        let spiky = Latency::Spikes {
            ms: 5,
            spike_ms: 3000,
            rate: 0.1,
        };
        let samples: Vec<Duration> = (0..10_000).map(|_| spiky.sample(&mut rng)).collect();
        let spikes = samples
            .iter()
            .filter(|d| **d == Duration::from_secs(3))
            .count();
        let usual = samples
            .iter()
            .filter(|d| **d == Duration::from_millis(5))
            .count();
        assert_eq!(spikes + usual, samples.len());
        assert!((900..1100).contains(&spikes), "{spikes} spikes in 10,000");
        let scenario = crate::Scenario::from_toml_str(
            "[[site]]\ndomain = \"a.example\"\n\
             latency = { kind = \"spikes\", ms = 5, spike_ms = 3000, rate = 0.1 }\n",
        )
        .expect("spikes parse");
        assert_eq!(scenario.sites[0].latency, spiky);
    }

    #[test]
    fn bad_parameters_are_rejected() {
        assert!(
            Latency::Spikes {
                ms: 1,
                spike_ms: 2,
                rate: 1.5
            }
            .validate()
            .is_err()
        );
        assert!(
            Latency::Uniform {
                min_ms: 5,
                max_ms: 1
            }
            .validate()
            .is_err()
        );
        assert!(
            Latency::LogNormal {
                median_ms: 5,
                sigma: -1.0
            }
            .validate()
            .is_err()
        );
    }
}
