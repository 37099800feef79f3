//! Backoff delays with AWS's jitter formulas, drawn from a seeded RNG.

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

/// How randomness spreads retries out (see AWS's "Exponential Backoff And Jitter").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Jitter {
    /// `min(cap, base * multiplier^n)`: synchronised clients retry in lockstep.
    None,
    /// `U(0, min(cap, base * multiplier^n))`.
    #[default]
    Full,
    /// Half the exponential delay plus `U(0, half)`.
    Equal,
    /// `min(cap, U(base, previous * 3))`.
    Decorrelated,
}

/// The backoff schedule of one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Delay before the first retry, before jitter.
    pub base: Duration,
    /// Factor from one retry's delay to the next, before jitter.
    pub multiplier: f64,
    /// Upper bound of any delay.
    pub cap: Duration,
    /// How the delay is randomised, so clients that failed together do not retry together.
    pub jitter: Jitter,
}

impl Backoff {
    /// The delay before retry `n` (1 = the first retry); `previous` is the last delay used
    /// (decorrelated jitter builds on it).
    pub fn delay<R: Rng + ?Sized>(&self, n: u32, previous: Duration, rng: &mut R) -> Duration {
        let base = self.base.as_secs_f64();
        let cap = self.cap.as_secs_f64();
        let exp = (base * self.multiplier.powi(n.saturating_sub(1) as i32)).min(cap);
        let secs = match self.jitter {
            Jitter::None => exp,
            Jitter::Full => rng.random_range(0.0..=exp),
            Jitter::Equal => exp / 2.0 + rng.random_range(0.0..=exp / 2.0),
            Jitter::Decorrelated => {
                let prev = previous.as_secs_f64().max(base);
                let hi = (prev * 3.0).max(base);
                rng.random_range(base..=hi).min(cap)
            }
        };
        // `try_`: a cap near `Duration::MAX` rounds above it as a float.
        Duration::try_from_secs_f64(secs.max(0.0)).unwrap_or(self.cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn backoff(jitter: Jitter) -> Backoff {
        Backoff {
            base: Duration::from_millis(200),
            multiplier: 2.0,
            cap: Duration::from_secs(5),
            jitter,
        }
    }

    #[test]
    fn no_jitter_is_exponential_and_capped() {
        let b = backoff(Jitter::None);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let d: Vec<u64> = (1..=7)
            .map(|n| b.delay(n, Duration::ZERO, &mut rng).as_millis() as u64)
            .collect();
        assert_eq!(d, [200, 400, 800, 1600, 3200, 5000, 5000]);
    }

    proptest! {
        #[test]
        fn jittered_delays_stay_in_their_bounds(seed: u64, n in 1u32..12, prev_ms in 0u64..10_000) {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let prev = Duration::from_millis(prev_ms);
            let exp = (0.2f64 * 2f64.powi(n as i32 - 1)).min(5.0);
            let full = backoff(Jitter::Full).delay(n, prev, &mut rng).as_secs_f64();
            prop_assert!((0.0..=exp + 1e-9).contains(&full));
            let equal = backoff(Jitter::Equal).delay(n, prev, &mut rng).as_secs_f64();
            prop_assert!((exp / 2.0 - 1e-9..=exp + 1e-9).contains(&equal));
            let dec = backoff(Jitter::Decorrelated).delay(n, prev, &mut rng).as_secs_f64();
            prop_assert!((0.2 - 1e-9..=5.0 + 1e-9).contains(&dec));
        }
    }
}
