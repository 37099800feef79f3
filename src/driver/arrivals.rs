//! Arrival times of the open model: a piecewise-linear rate from the stages, with constant
//! spacing or a (non-homogeneous) Poisson process, generated lazily so memory does not grow with
//! the run.

use std::time::Duration;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::scenario::{Arrivals, Stage};

/// One linear piece of the rate: from `start` for `len`, rate `a + b * (t - start)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// Offset where it starts, seconds.
    pub start: f64,
    /// Length, seconds.
    pub len: f64,
    /// Rate at the start, per second.
    pub a: f64,
    /// Slope, per second squared.
    pub b: f64,
}

/// The rate schedule of a workload: stages, the last held until `duration`.
pub fn segments(stages: &[Stage], duration: Duration) -> Vec<Segment> {
    let total = duration.as_secs_f64();
    let mut out = Vec::new();
    let mut t = 0.0;
    let mut prev = 0.0;
    for s in stages {
        if t >= total {
            break;
        }
        let len = s.duration.0.as_secs_f64().min(total - t);
        let from = s.rate.map(|r| r.per_sec()).unwrap_or(prev);
        let to = s.ramp_to.map(|r| r.per_sec()).unwrap_or(from);
        let full = s.duration.0.as_secs_f64();
        let b = if full > 0.0 { (to - from) / full } else { 0.0 };
        out.push(Segment {
            start: t,
            len,
            a: from,
            b,
        });
        prev = from + b * len;
        t += len;
    }
    if t < total {
        out.push(Segment {
            start: t,
            len: total - t,
            a: prev,
            b: 0.0,
        });
    }
    out
}

/// The offered rate at offset `t` seconds.
pub fn rate_at(segments: &[Segment], t: f64) -> f64 {
    segments
        .iter()
        .find(|s| t >= s.start && t < s.start + s.len)
        .map_or(0.0, |s| s.a + s.b * (t - s.start))
}

/// Yields arrival offsets in order; each is where the integrated rate grew by one unit
/// (constant) or by an exponential draw (Poisson).
#[derive(Debug)]
pub struct ArrivalClock {
    segments: Vec<Segment>,
    kind: Arrivals,
    rng: ChaCha8Rng,
    seg: usize,
    /// Offset within the current segment, seconds.
    pos: f64,
}

impl ArrivalClock {
    /// Arrivals over `segments`.
    pub fn new(segments: Vec<Segment>, kind: Arrivals, rng: ChaCha8Rng) -> Self {
        Self {
            segments,
            kind,
            rng,
            seg: 0,
            pos: 0.0,
        }
    }

    fn step(&mut self) -> f64 {
        match self.kind {
            Arrivals::Constant => 1.0,
            Arrivals::Poisson => {
                let u: f64 = self.rng.random();
                -(1.0 - u).ln()
            }
        }
    }
}

impl Iterator for ArrivalClock {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let mut need = self.step();
        while let Some(s) = self.segments.get(self.seg).copied() {
            // Integrated rate from `pos` to the end of the segment.
            let rate_here = s.a + s.b * self.pos;
            let left = s.len - self.pos;
            let area = rate_here * left + 0.5 * s.b * left * left;
            if area >= need && area > 0.0 {
                // Solve rate_here * d + b/2 * d^2 = need for d.
                let d = if s.b.abs() < 1e-12 {
                    need / rate_here
                } else {
                    let disc = (rate_here * rate_here + 2.0 * s.b * need).max(0.0);
                    (-rate_here + disc.sqrt()) / s.b
                };
                self.pos += d.clamp(0.0, left);
                // Finite by construction; a float that is not ends the schedule, never a panic.
                return Duration::try_from_secs_f64(s.start + self.pos).ok();
            }
            need -= area.max(0.0);
            self.seg += 1;
            self.pos = 0.0;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gauntlet_wire::duration::HumanDuration;
    use gauntlet_wire::rate::Rate;
    use rand::SeedableRng;

    fn stage(secs: u64, rate: Option<f64>, ramp_to: Option<f64>) -> Stage {
        Stage {
            duration: HumanDuration(Duration::from_secs(secs)),
            rate: rate.map(Rate::per_second),
            ramp_to: ramp_to.map(Rate::per_second),
            users: None,
        }
    }

    #[test]
    fn constant_arrivals_are_evenly_spaced() {
        let segs = segments(&[stage(2, Some(5.0), None)], Duration::from_secs(2));
        let at: Vec<_> = ArrivalClock::new(segs, Arrivals::Constant, ChaCha8Rng::seed_from_u64(1))
            .take_while(|d| *d < Duration::from_secs(2))
            .map(|d| (d.as_secs_f64() * 1000.0).round() as u64)
            .collect();
        assert_eq!(at, [200, 400, 600, 800, 1000, 1200, 1400, 1600, 1800]);
    }

    #[test]
    fn ramps_integrate_to_the_right_count() {
        // 5/s for 5 s, then 5 -> 20/s over 15 s: 25 + 187.5 = 212.5 arrivals.
        let stages = [stage(5, Some(5.0), None), stage(15, None, Some(20.0))];
        let segs = segments(&stages, Duration::from_secs(20));
        assert!((rate_at(&segs, 12.5) - 12.5).abs() < 1e-9);
        let n = ArrivalClock::new(
            segs.clone(),
            Arrivals::Constant,
            ChaCha8Rng::seed_from_u64(1),
        )
        .take_while(|d| *d < Duration::from_secs(20))
        .count();
        assert_eq!(n, 212);
        // Poisson: the mean over many seeds is close to 212.5.
        let total: usize = (0..200)
            .map(|s| {
                ArrivalClock::new(
                    segs.clone(),
                    Arrivals::Poisson,
                    ChaCha8Rng::seed_from_u64(s),
                )
                .count()
            })
            .sum();
        let mean = total as f64 / 200.0;
        assert!((mean - 212.5).abs() < 3.0, "{mean}");
    }

    #[test]
    fn the_last_stage_holds_until_the_end() {
        let segs = segments(&[stage(1, Some(10.0), None)], Duration::from_secs(3));
        let n = ArrivalClock::new(segs, Arrivals::Constant, ChaCha8Rng::seed_from_u64(1))
            .take_while(|d| *d < Duration::from_secs(3))
            .count();
        assert_eq!(n, 29);
    }
}
