//! Fault injection: how often a request fails, and how.
//!
//! Policy:
//! - Rates are probabilities per request. The rates of one table (the global `[faults]`, or a
//!   site's own `faults`) must add up to at most 1 (checked when loading).
//! - One uniform draw from the request's RNG picks at most one fault, so a seed gives the same
//!   faults for the same requests (see the crate docs, "Determinism"). The site's own rates are laid out first
//!   and the global rates after them, so a site whose rates add up to 1 (a fault-trigger domain
//!   such as `e429.example`) always fails its own way, and global rates share what remains.
//! - Kinds and what they produce:
//!   `e520` → 520 `/download/temporary-error` (a ban: it counts against the session),
//!   `e521` → 521 `/download/internal-error`, `e500` → 500 `/server/internal`,
//!   `e503` → 503 `/limits/over-global-limit`, `e429` → 429 `/limits/over-user-limit`,
//!   `reset` → the TCP connection is reset (RST) without a response,
//!   `slow_body` → a normal response whose body trickles out in chunks
//!   (see [`crate::policy::Policy::slow_body_chunks`]).
//! - Throttling and server faults (429, 503, 500, 521, reset) happen before the session is looked
//!   up, so they neither create nor use a session. A 520 happens after, and is a ban.

use serde::Deserialize;

/// Fault probabilities per request (each within 0..=1).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FaultRates {
    /// 520 Website Ban.
    pub e520: f64,
    /// 521 Internal Downloading Error.
    pub e521: f64,
    /// 500 Internal Server Error.
    pub e500: f64,
    /// 503 Global Requests Limit Reached.
    pub e503: f64,
    /// 429 Over User Requests Limit.
    pub e429: f64,
    /// Connection reset without a response.
    pub reset: f64,
    /// A 200 whose body is sent slowly.
    pub slow_body: f64,
}

/// One injected fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// 520 (a ban).
    E520,
    /// 521.
    E521,
    /// 500.
    E500,
    /// 503.
    E503,
    /// 429.
    E429,
    /// TCP reset.
    Reset,
    /// Slow response body.
    SlowBody,
}

impl FaultRates {
    fn table(&self) -> [(Fault, f64); 7] {
        [
            (Fault::E520, self.e520),
            (Fault::E521, self.e521),
            (Fault::E500, self.e500),
            (Fault::E503, self.e503),
            (Fault::E429, self.e429),
            (Fault::Reset, self.reset),
            (Fault::SlowBody, self.slow_body),
        ]
    }

    /// Checks each rate and their sum; the error names the offending rate.
    pub fn validate(&self) -> Result<(), String> {
        let mut sum = 0.0;
        for (fault, rate) in self.table() {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("fault rate {fault:?} = {rate} is outside 0..=1"));
            }
            sum += rate;
        }
        if sum > 1.0 + 1e-9 {
            return Err(format!("fault rates add up to {sum}, more than 1"));
        }
        Ok(())
    }

    /// Whether every rate is zero (so no draw is needed).
    pub fn is_zero(&self) -> bool {
        self.table().iter().all(|(_, rate)| *rate == 0.0)
    }

    /// The fault for a uniform draw `u` in `0.0..1.0`, if any.
    pub fn pick(&self, u: f64) -> Option<Fault> {
        pick_layered(&[self], u)
    }
}

/// The fault for a draw `u` over several tables laid out one after the other (the first table's
/// rates take precedence; the total is cut at 1).
pub fn pick_layered(layers: &[&FaultRates], u: f64) -> Option<Fault> {
    let mut threshold = 0.0;
    for (fault, rate) in layers.iter().flat_map(|layer| layer.table()) {
        threshold += rate;
        if u < threshold {
            return Some(fault);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certain_fault_always_fires() {
        let rates = FaultRates {
            e520: 1.0,
            ..FaultRates::default()
        };
        assert_eq!(rates.pick(0.0), Some(Fault::E520));
        assert_eq!(rates.pick(0.999_999), Some(Fault::E520));
    }

    #[test]
    fn draws_map_onto_cumulative_rates() {
        let rates = FaultRates {
            e429: 0.25,
            reset: 0.25,
            ..FaultRates::default()
        };
        assert_eq!(rates.pick(0.1), Some(Fault::E429));
        assert_eq!(rates.pick(0.3), Some(Fault::Reset));
        assert_eq!(rates.pick(0.6), None);
        assert!(FaultRates::default().is_zero());
    }

    #[test]
    fn site_rates_come_before_global_rates() {
        let site = FaultRates {
            e429: 1.0,
            ..FaultRates::default()
        };
        let global = FaultRates {
            e520: 0.5,
            ..FaultRates::default()
        };
        assert_eq!(pick_layered(&[&site, &global], 0.99), Some(Fault::E429));
        let site = FaultRates {
            e429: 0.25,
            ..FaultRates::default()
        };
        assert_eq!(pick_layered(&[&site, &global], 0.5), Some(Fault::E520));
        assert_eq!(pick_layered(&[&site, &global], 0.8), None);
    }

    #[test]
    fn sums_above_one_are_rejected() {
        let rates = FaultRates {
            e520: 0.7,
            e521: 0.7,
            ..FaultRates::default()
        };
        assert!(rates.validate().is_err());
        assert!(
            FaultRates {
                e500: 1.5,
                ..FaultRates::default()
            }
            .validate()
            .is_err()
        );
    }
}
