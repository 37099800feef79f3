//! A fixed-size histogram of first-retry delays, for their p10–p90 spread over the run: 10 ms
//! steps to 1 s, 100 ms steps to 10 s, 1 s steps to 120 s, and one slot beyond.

use serde::{Deserialize, Serialize};

const FINE: usize = 100; // 0..1 s by 10 ms
const MEDIUM: usize = 90; // 1..10 s by 100 ms
const COARSE: usize = 110; // 10..120 s by 1 s
const SLOTS: usize = FINE + MEDIUM + COARSE + 1;

/// Counts per delay bucket; a few kilobytes whatever the number of retries.
#[derive(Debug, Clone)]
pub struct DelayHistogram {
    counts: Box<[u64; SLOTS]>,
    n: u64,
}

impl Default for DelayHistogram {
    fn default() -> Self {
        Self {
            counts: Box::new([0; SLOTS]),
            n: 0,
        }
    }
}

/// Quantiles of the first-retry delays, ms (bucket midpoints; 0 when none were measured).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DelayQuantiles {
    /// First retries measured.
    pub count: u64,
    /// 10th percentile, ms.
    pub p10: f64,
    /// Median, ms.
    pub p50: f64,
    /// 90th percentile, ms.
    pub p90: f64,
}

impl DelayQuantiles {
    /// p90 − p10: near one bucket for lock-step retries, wide for jittered ones.
    pub fn spread_ms(&self) -> f64 {
        self.p90 - self.p10
    }
}

impl DelayHistogram {
    /// Counts one delay.
    pub fn push(&mut self, ms: f64) {
        self.counts[slot(ms)] += 1;
        self.n += 1;
    }

    /// The 10th, 50th and 90th percentiles.
    pub fn quantiles(&self) -> DelayQuantiles {
        DelayQuantiles {
            count: self.n,
            p10: self.quantile(0.10),
            p50: self.quantile(0.50),
            p90: self.quantile(0.90),
        }
    }

    fn quantile(&self, q: f64) -> f64 {
        if self.n == 0 {
            return 0.0;
        }
        let rank = ((q * self.n as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return midpoint(i);
            }
        }
        midpoint(SLOTS - 1)
    }
}

fn slot(ms: f64) -> usize {
    let ms = if ms.is_finite() { ms.max(0.0) } else { 0.0 };
    if ms < 1_000.0 {
        (ms / 10.0) as usize
    } else if ms < 10_000.0 {
        FINE + ((ms - 1_000.0) / 100.0) as usize
    } else if ms < 120_000.0 {
        FINE + MEDIUM + ((ms - 10_000.0) / 1_000.0) as usize
    } else {
        SLOTS - 1
    }
}

fn midpoint(i: usize) -> f64 {
    if i < FINE {
        i as f64 * 10.0 + 5.0
    } else if i < FINE + MEDIUM {
        1_000.0 + (i - FINE) as f64 * 100.0 + 50.0
    } else if i < SLOTS - 1 {
        10_000.0 + (i - FINE - MEDIUM) as f64 * 1_000.0 + 500.0
    } else {
        120_000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_land_in_their_buckets() {
        let mut h = DelayHistogram::default();
        for ms in 0..100 {
            h.push(ms as f64 * 10.0);
        }
        let q = h.quantiles();
        assert_eq!(q.count, 100);
        assert_eq!(q.p10, 95.0);
        assert_eq!(q.p90, 895.0);
        assert_eq!(q.spread_ms(), 800.0);
    }

    #[test]
    fn every_delay_has_a_slot() {
        for ms in [
            -5.0,
            0.0,
            999.9,
            1_000.0,
            9_999.0,
            10_000.0,
            119_999.0,
            1e12,
            f64::NAN,
        ] {
            assert!(slot(ms) < SLOTS);
        }
        assert_eq!(slot(2_550.0), FINE + 15);
        assert_eq!(midpoint(slot(2_550.0)), 2_550.0);
        assert_eq!(DelayHistogram::default().quantiles().p90, 0.0);
    }
}
