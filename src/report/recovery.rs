//! Recovery time per timeline event: how long after the fault ends the success ratio and p99
//! return to their level before it — or `null` when they never do within the run, which is what
//! a metastable collapse looks like.

use crate::record::IntervalRow;
use serde::{Deserialize, Serialize};

use crate::record::{EventWindow, RunResult};

/// One entry of `recovery`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recovery {
    /// The event's label.
    pub event: String,
    /// When it started, seconds.
    pub at_s: f64,
    /// When it ended, seconds (= `at_s` for step changes).
    pub end_s: f64,
    /// Seconds after the end until success ratio and p99 were back at their level before the
    /// event for 3 intervals; `null`: did not recover within the run.
    pub recovered_after_s: Option<f64>,
}

/// Intervals before the event that make its baseline.
const BASELINE_INTERVALS: usize = 5;
/// Consecutive good intervals that count as recovered.
const STABLE_INTERVALS: usize = 3;

fn success_ratio(r: &IntervalRow) -> Option<f64> {
    (r.completed > 0).then(|| r.ok as f64 / r.completed as f64)
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

/// Recovery of each event of the run.
pub fn recoveries(run: &RunResult) -> Vec<Recovery> {
    recoveries_of(&run.rows, &run.events, run.interval, run.duration)
}

/// Recovery of each of `events` in `rows` (a live run's or a merged fleet's).
pub fn recoveries_of(
    rows: &[IntervalRow],
    events: &[EventWindow],
    interval: std::time::Duration,
    duration: std::time::Duration,
) -> Vec<Recovery> {
    let step = interval.as_secs_f64();
    let end_of_run = duration.as_secs_f64();
    events
        .iter()
        .map(|e| {
            let end_s = e.until_s.unwrap_or(e.at_s);
            let before: Vec<&IntervalRow> = rows
                .iter()
                .filter(|r| r.start_s + step <= e.at_s + 1e-9)
                .rev()
                .take(BASELINE_INTERVALS)
                .collect();
            let base_ratio = median(before.iter().filter_map(|r| success_ratio(r)).collect());
            let base_p99 = median(
                before
                    .iter()
                    .filter(|r| r.completed > 0)
                    .map(|r| r.p99_ms)
                    .collect(),
            );
            let recovered_after_s = match (base_ratio, base_p99) {
                (Some(ratio), Some(p99)) => {
                    let good = |r: &IntervalRow| {
                        success_ratio(r).is_some_and(|s| s >= ratio - 0.05)
                            && r.p99_ms <= (p99 * 1.5).max(p99 + 50.0)
                    };
                    let after: Vec<&IntervalRow> = rows
                        .iter()
                        .filter(|r| {
                            r.start_s + 1e-9 >= end_s && r.start_s + step <= end_of_run + 1e-9
                        })
                        .collect();
                    // Good for STABLE_INTERVALS in a row, or for all that is left of the run.
                    (0..after.len())
                        .find(|&i| {
                            let stop = (i + STABLE_INTERVALS).min(after.len());
                            after[i..stop].iter().all(|r| good(r))
                        })
                        .map(|i| ((after[i].start_s - end_s).max(0.0) * 1000.0).round() / 1000.0)
                }
                _ => None,
            };
            Recovery {
                event: e.label.clone(),
                at_s: e.at_s,
                end_s,
                recovered_after_s,
            }
        })
        .collect()
}
