//! The bracketing search, as pure logic: it proposes the values to probe next and is told which
//! passed, and never runs anything itself (as governor's GCRA decides and lets others wait), so
//! its unit tests drive it with a synthetic pass/fail function.
//!
//! First the bounds: LO must pass (else no value does) and HI must fail (else the answer is "at
//! least HI"). Then each round probes `jobs` points spread evenly inside the bracket (a
//! k-section, so `jobs` simulations run at once) until the bracket is no wider than the
//! resolution. The search assumes the SLO holds below some value and fails above it; a pass seen
//! above a fail is reported as non-monotone.

/// What the search looks for, validated by [`Search::new`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    /// The lowest value probed: expected to pass.
    pub lo: f64,
    /// The highest value probed: expected to fail.
    pub hi: f64,
    /// The bracket's width at which the search stops.
    pub resolution: f64,
    /// Probe integers only (a number of users), never 12.5.
    pub integer: bool,
}

/// Why a range cannot be searched.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RangeError {
    /// LO or HI is NaN or infinite.
    #[error("the bounds must be finite numbers (got {lo}..{hi})")]
    NotFinite {
        /// LO as given.
        lo: f64,
        /// HI as given.
        hi: f64,
    },
    /// LO is not below HI.
    #[error("LO must be below HI (got {lo}..{hi})")]
    Empty {
        /// LO as given.
        lo: f64,
        /// HI as given.
        hi: f64,
    },
    /// The resolution is not a positive finite number, or (for an integer key) below 1.
    #[error("the step must be a positive finite number{} (got {step})", if *integer { ", at least 1 for an integer key" } else { "" })]
    BadResolution {
        /// The step.
        step: f64,
        /// The key takes integers.
        integer: bool,
    },
    /// The resolution would take more steps than any plan needs.
    #[error(
        "a step of {step} over {lo}..{hi} needs more than {MAX_STEPS} steps; use a larger --step"
    )]
    TooFine {
        /// The step.
        step: f64,
        /// LO.
        lo: f64,
        /// HI.
        hi: f64,
    },
}

/// Most probes one search may make: a bound on the time any accepted input can take.
pub const MAX_STEPS: usize = 400;

/// Where a search stands.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    /// Values still to probe: call [`Search::next`] and [`Search::record`].
    Searching,
    /// LO failed: no value in the range meets the SLO.
    None,
    /// HI passed: the answer is at least HI.
    AtLeast(f64),
    /// The highest passing value and the lowest failing one, within the resolution.
    Found {
        /// The highest value that met the SLO.
        pass: f64,
        /// The lowest value above it that did not.
        fail: f64,
    },
}

/// A search in progress: every probe's value and result, and the bracket.
#[derive(Debug, Clone)]
pub struct Search {
    range: Range,
    jobs: usize,
    probes: Vec<(f64, bool)>,
}

impl Range {
    /// Checks the bounds and resolution.
    pub fn checked(self) -> Result<Self, RangeError> {
        let Range {
            lo,
            hi,
            resolution,
            integer,
        } = self;
        if !lo.is_finite() || !hi.is_finite() {
            return Err(RangeError::NotFinite { lo, hi });
        }
        if lo >= hi {
            return Err(RangeError::Empty { lo, hi });
        }
        if !resolution.is_finite() || resolution <= 0.0 || (integer && resolution < 1.0) {
            return Err(RangeError::BadResolution {
                step: resolution,
                integer,
            });
        }
        // A round of k >= 1 probes at least halves the bracket.
        if ((hi - lo) / resolution).log2() > (MAX_STEPS - 2) as f64 {
            return Err(RangeError::TooFine {
                step: resolution,
                lo,
                hi,
            });
        }
        Ok(self)
    }

    /// The resolution that makes a search of `jobs` probes a round take about `steps` probes:
    /// two for the bounds, then rounds that each cut the bracket into `jobs + 1` parts.
    pub fn resolution_for(lo: f64, hi: f64, steps: usize, jobs: usize, integer: bool) -> f64 {
        let k = jobs.max(1) as f64;
        let rounds = (steps.saturating_sub(2) as f64 / k).floor().max(1.0);
        let r = (hi - lo) / (k + 1.0).powf(rounds);
        if integer {
            r.round().max(1.0)
        } else {
            r
        }
    }
}

impl Search {
    /// Starts a search over a checked range with `jobs` probes a round.
    pub fn new(range: Range, jobs: usize) -> Self {
        Self {
            range,
            jobs: jobs.max(1),
            probes: Vec::new(),
        }
    }

    /// Every probe so far, in the order recorded.
    pub fn probes(&self) -> &[(f64, bool)] {
        &self.probes
    }

    fn result(&self, v: f64) -> Option<bool> {
        self.probes.iter().find(|p| p.0 == v).map(|p| p.1)
    }

    /// The highest pass below the lowest fail, and that fail (`None` until both bounds ran).
    fn bracket(&self) -> (Option<f64>, Option<f64>) {
        let fail = self
            .probes
            .iter()
            .filter(|p| !p.1)
            .map(|p| p.0)
            .reduce(f64::min);
        let pass = self
            .probes
            .iter()
            .filter(|p| p.1 && fail.is_none_or(|f| p.0 < f))
            .map(|p| p.0)
            .reduce(f64::max);
        (pass, fail)
    }

    /// Where the search stands.
    pub fn state(&self) -> State {
        let (lo, hi) = (self.range.lo, self.range.hi);
        match (self.result(lo), self.result(hi)) {
            (Some(false), _) => return State::None,
            (Some(true), Some(true)) => return State::AtLeast(hi),
            (Some(true), Some(false)) => {}
            _ => return State::Searching,
        }
        let (Some(pass), Some(fail)) = self.bracket() else {
            return State::Searching;
        };
        // A relative slack, so a bracket cut to exactly the resolution in floats still ends.
        let width = self.range.resolution * (1.0 + 1e-9);
        if fail - pass <= width || self.probes.len() >= MAX_STEPS {
            State::Found { pass, fail }
        } else {
            State::Searching
        }
    }

    /// A pass seen above a fail: the SLO is not monotone in the key over this range, and the
    /// answer is the edge below the lowest fail.
    pub fn non_monotone(&self) -> bool {
        let fail = self
            .probes
            .iter()
            .filter(|p| !p.1)
            .map(|p| p.0)
            .reduce(f64::min);
        fail.is_some_and(|f| self.probes.iter().any(|p| p.1 && p.0 > f))
    }

    /// The values to probe in the next round (empty once the search has ended).
    pub fn next(&self) -> Vec<f64> {
        if self.state() != State::Searching {
            return Vec::new();
        }
        let (lo, hi) = (self.range.lo, self.range.hi);
        let bounds: Vec<f64> = [lo, hi]
            .into_iter()
            .filter(|v| self.result(*v).is_none())
            .collect();
        if !bounds.is_empty() {
            // LO first when only one probe runs: if it fails, HI need not run.
            return bounds.into_iter().take(self.jobs).collect();
        }
        let (Some(pass), Some(fail)) = self.bracket() else {
            return Vec::new();
        };
        let k = self.jobs;
        let mut points: Vec<f64> = (1..=k)
            .map(|i| pass + (fail - pass) * i as f64 / (k + 1) as f64)
            .map(|v| if self.range.integer { v.round() } else { v })
            .filter(|v| *v > pass && *v < fail && self.result(*v).is_none())
            .collect();
        points.dedup();
        points
    }

    /// Records one probe's result.
    pub fn record(&mut self, value: f64, pass: bool) {
        self.probes.push((value, pass));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(range: Range, jobs: usize, passes: impl Fn(f64) -> bool) -> (State, Search) {
        let mut s = Search::new(range.checked().unwrap(), jobs);
        while s.state() == State::Searching {
            let next = s.next();
            assert!(!next.is_empty(), "a searching state proposes a probe");
            assert!(next.len() <= jobs);
            for v in next {
                s.record(v, passes(v));
            }
        }
        (s.state(), s)
    }

    fn range(lo: f64, hi: f64, resolution: f64, integer: bool) -> Range {
        Range {
            lo,
            hi,
            resolution,
            integer,
        }
    }

    #[test]
    fn finds_a_monotone_edge_within_the_resolution() {
        for jobs in [1, 2, 4] {
            let (state, s) = run(range(0.0, 1000.0, 1.0, false), jobs, |v| v <= 343.7);
            let State::Found { pass, fail } = state else {
                panic!("{state:?}")
            };
            assert!(
                pass <= 343.7 && fail > 343.7 && fail - pass <= 1.0,
                "{pass} {fail}"
            );
            assert!(!s.non_monotone());
        }
    }

    #[test]
    fn integer_keys_probe_integers_and_end_one_apart() {
        let (state, s) = run(range(1.0, 500.0, 1.0, true), 2, |v| v <= 340.0);
        assert_eq!(
            state,
            State::Found {
                pass: 340.0,
                fail: 341.0
            }
        );
        assert!(
            s.probes().iter().all(|p| p.0.fract() == 0.0),
            "{:?}",
            s.probes()
        );
        // Two probes a round each cut the bracket in three: 2 bounds + about 2 * log3(500).
        assert!(s.probes().len() <= 14, "{}", s.probes().len());
    }

    #[test]
    fn bounds_decide_none_and_at_least() {
        let (state, s) = run(range(10.0, 20.0, 1.0, true), 1, |_| false);
        assert_eq!(state, State::None);
        assert_eq!(s.probes().len(), 1, "HI need not run when LO fails");
        let (state, _) = run(range(10.0, 20.0, 1.0, true), 2, |_| true);
        assert_eq!(state, State::AtLeast(20.0));
    }

    #[test]
    fn a_pass_above_a_fail_is_non_monotone() {
        // Passes below 20 and again in 45..70: the first round probes 30 (fails) and 60 (passes).
        let (state, s) = run(range(0.0, 90.0, 1.0, true), 2, |v| {
            v < 20.0 || (45.0..70.0).contains(&v)
        });
        // The answer is the edge below the lowest failure.
        assert_eq!(
            state,
            State::Found {
                pass: 19.0,
                fail: 20.0
            }
        );
        assert!(s.non_monotone(), "{:?}", s.probes());
    }

    #[test]
    fn default_resolution_gives_about_twelve_steps() {
        let r = Range::resolution_for(0.0, 1000.0, 12, 2, false);
        let (_, s) = run(range(0.0, 1000.0, r, false), 2, |v| v < 377.0);
        assert!(
            (10..=13).contains(&s.probes().len()),
            "{}",
            s.probes().len()
        );
        assert_eq!(Range::resolution_for(1.0, 5.0, 12, 2, true), 1.0);
    }

    #[test]
    fn bad_ranges_are_refused() {
        assert!(range(5.0, 5.0, 1.0, false).checked().is_err());
        assert!(range(f64::NAN, 5.0, 1.0, false).checked().is_err());
        assert!(range(0.0, f64::INFINITY, 1.0, false).checked().is_err());
        assert!(range(0.0, 5.0, 0.0, false).checked().is_err());
        assert!(range(0.0, 5.0, -1.0, false).checked().is_err());
        assert!(range(0.0, 5.0, 0.5, true).checked().is_err());
        assert!(range(0.0, 1e300, 1e-300, false).checked().is_err());
    }
}
