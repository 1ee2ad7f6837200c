//! Seeded randomness per request, so that `--seed` reproduces faults, bans and latencies.
//!
//! Policy: a request's RNG is seeded from `(seed, hash of the request body, n)`, where `n` counts
//! how many earlier requests had the same body. The same client sending the same requests gets the
//! same outcomes whatever the interleaving of its concurrent connections, and a retry of a request
//! (same body, next `n`) gets a fresh draw rather than the same fault forever. Occurrence counters
//! live in sharded maps so concurrent requests rarely contend; a reset forgets them.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use parking_lot::Mutex;
use rand::SeedableRng;
use rand::rngs::SmallRng;

const SHARDS: usize = 16;

/// Hands out one deterministic RNG per request.
#[derive(Debug)]
pub struct RequestRngs {
    seed: u64,
    seen: [Mutex<HashMap<u64, u64>>; SHARDS],
}

impl RequestRngs {
    /// A source for `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            seen: std::array::from_fn(|_| Mutex::new(HashMap::new())),
        }
    }

    /// The RNG of the next request with this body.
    pub fn for_body(&self, body: &[u8]) -> SmallRng {
        let content = hash64(body);
        let shard = &self.seen[(content as usize) % SHARDS];
        let occurrence = {
            let mut seen = shard.lock();
            let count = seen.entry(content).or_insert(0);
            *count += 1;
            *count
        };
        SmallRng::seed_from_u64(mix(self.seed ^ mix(content ^ mix(occurrence))))
    }

    /// An RNG for requests that have no body of interest (introspection endpoints).
    pub fn for_counter(&self, counter: u64) -> SmallRng {
        SmallRng::seed_from_u64(mix(self.seed.rotate_left(17) ^ mix(counter)))
    }

    /// Forgets every occurrence counter.
    pub fn reset(&self) {
        for shard in &self.seen {
            shard.lock().clear();
        }
    }

    /// The configured seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }
}

/// A stable 64-bit hash (SipHash with fixed keys), the same in every run.
pub fn hash64(bytes: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

/// A stable 64-bit hash of several string parts, for values derived from the seed (session
/// cookies, CSRF tokens).
pub fn hash_parts(seed: u64, parts: &[&str]) -> u64 {
    let mut hasher = DefaultHasher::new();
    seed.hash(&mut hasher);
    for part in parts {
        part.hash(&mut hasher);
    }
    hasher.finish()
}

/// SplitMix64 finaliser: spreads nearby inputs over the whole range.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use rand::Rng;

    use super::*;

    #[test]
    fn same_seed_and_body_sequence_give_same_draws() {
        let a = RequestRngs::new(42);
        let b = RequestRngs::new(42);
        for _ in 0..3 {
            let x: u64 = a.for_body(b"{}").random();
            let y: u64 = b.for_body(b"{}").random();
            assert_eq!(x, y);
        }
    }

    #[test]
    fn repeats_and_seeds_differ() {
        let rngs = RequestRngs::new(1);
        let first: u64 = rngs.for_body(b"x").random();
        let second: u64 = rngs.for_body(b"x").random();
        assert_ne!(first, second);
        let other: u64 = RequestRngs::new(2).for_body(b"x").random();
        assert_ne!(first, other);
        rngs.reset();
        let again: u64 = rngs.for_body(b"x").random();
        assert_eq!(first, again);
    }
}
