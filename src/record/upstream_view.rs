//! The upstream's view of a run — what the mock saw arrive and how it relates to what it
//! answered — on the driver's intervals, so reports put the two views side by side. The mock
//! counts ([`mock_upstream::upstream_view`]); this is the shape reports read.

use std::time::Duration;

use mock_upstream::upstream_view::counters::Counters;
use mock_upstream::upstream_view::{ViewSnapshot, ViewTotals};
use serde::Serialize;

use super::IntervalRow;

/// The mock's view over one run.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamView {
    /// The whole run: counters, first-retry delay quantiles, evidence.
    pub totals: ViewTotals,
    /// How long after an error the same body counted as a retry, seconds.
    pub retry_window_s: f64,
    /// One per driver interval (from the run's start), rebucketed from the mock's intervals.
    pub intervals: Vec<Counters>,
    /// Width of each interval.
    pub interval: Duration,
}

impl UpstreamView {
    /// The mock's snapshot on intervals of `interval`: each of the mock's intervals goes to
    /// the driver interval its start falls in (the two line up when the widths are equal, as
    /// the embedded mock's are).
    pub fn of_snapshot(s: &ViewSnapshot, interval: Duration) -> Self {
        let width_ms = (interval.as_secs_f64() * 1e3).max(1e-3);
        let mut intervals: Vec<Counters> = Vec::new();
        for ic in &s.intervals {
            let i = ((ic.start_ms / width_ms) + 1e-9).floor().max(0.0) as usize;
            let i = i.min(mock_upstream::upstream_view::MAX_INTERVALS - 1);
            if intervals.len() <= i {
                intervals.resize(i + 1, Counters::default());
            }
            intervals[i].add(&ic.counters);
        }
        Self {
            totals: s.totals.clone(),
            retry_window_s: s.retry_window_s,
            intervals,
            interval,
        }
    }

    /// Puts each interval's figures on its row; what arrived after the last row (a drain's
    /// tail) goes on the last one, so the column sums to the run's total.
    pub fn fill_rows(&self, rows: &mut [IntervalRow]) {
        let Some(last) = rows.len().checked_sub(1) else {
            return;
        };
        let mut per_row = vec![Counters::default(); rows.len()];
        for (i, c) in self.intervals.iter().enumerate() {
            per_row[i.min(last)].add(c);
        }
        let width_ms = self.interval.as_secs_f64() * 1e3;
        for (row, c) in rows.iter_mut().zip(&per_row) {
            row.upstream_view = Some(ViewInterval::of(c, width_ms));
        }
    }
}

/// One interval of the view, as `timeseries.csv` carries it (columns `up_*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ViewInterval {
    /// Attempts that arrived.
    pub attempts: u64,
    /// Of them, retries.
    pub retries: u64,
    /// Attempts before their key's `retry-after` ran out.
    pub early_429: u64,
    /// Retries of answers the API marks non-retryable.
    pub non_retryable_retries: u64,
    /// Prompt tokens of the retries.
    pub prompt_tokens_resent: u64,
    /// Quota burned.
    pub tokens_charged: u64,
    /// Most attempts in the mock at once.
    pub concurrency_max: u64,
    /// Mean attempts in the mock.
    pub concurrency_mean: f64,
    /// Coefficient of variation of the retry delays (`None` under two).
    pub retry_delay_cv: Option<f64>,
}

impl ViewInterval {
    /// From one interval's counters, `width_ms` wide.
    pub fn of(c: &Counters, width_ms: f64) -> Self {
        Self {
            attempts: c.attempts,
            retries: c.retries,
            early_429: c.early_after_429,
            non_retryable_retries: c.non_retryable_retries,
            prompt_tokens_resent: c.prompt_tokens_resent,
            tokens_charged: c.tokens_charged,
            concurrency_max: c.concurrency_max,
            concurrency_mean: c.concurrency_mean(width_ms),
            retry_delay_cv: c.retry_delays.cv(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mock_upstream::upstream_view::IntervalCounters;

    fn snapshot(starts_ms: &[f64]) -> ViewSnapshot {
        ViewSnapshot {
            interval_ms: 500.0,
            intervals: starts_ms
                .iter()
                .map(|s| IntervalCounters {
                    start_ms: *s,
                    counters: Counters {
                        attempts: 1,
                        busy_ms: 250.0,
                        ..Counters::default()
                    },
                })
                .collect(),
            ..ViewSnapshot::default()
        }
    }

    #[test]
    fn narrow_intervals_add_into_wide_ones_and_the_tail_into_the_last_row() {
        let v = UpstreamView::of_snapshot(
            &snapshot(&[0.0, 500.0, 1_000.0, 1_500.0, 2_000.0]),
            Duration::from_secs(1),
        );
        assert_eq!(
            v.intervals.iter().map(|c| c.attempts).collect::<Vec<_>>(),
            [2, 2, 1]
        );
        let mut rows = vec![IntervalRow::default(); 2];
        v.fill_rows(&mut rows);
        let up: Vec<_> = rows.iter().map(|r| r.upstream_view.unwrap()).collect();
        assert_eq!((up[0].attempts, up[1].attempts), (2, 3));
        assert_eq!(up[0].concurrency_mean, 0.5);
        assert_eq!(up[0].retry_delay_cv, None);
    }
}
