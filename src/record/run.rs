//! Everything a run saw, handed from the driver to the reports.

use std::time::Duration;

use mock_upstream::faults::engine::KeyUsage;
use mock_upstream::server::stats::StatsSnapshot;

use super::interval::IntervalRow;
use super::totals::Totals;

/// A scripted event, for reports.
#[derive(Debug, Clone, PartialEq)]
pub struct EventWindow {
    /// Its label (`outage 503`).
    pub label: String,
    /// Its kind (`outage`, `latency`, ...).
    pub kind: String,
    /// Start offset, seconds.
    pub at_s: f64,
    /// End offset, seconds, if it ends.
    pub until_s: Option<f64>,
}

/// Everything a run saw.
#[derive(Debug)]
pub struct RunResult {
    /// Whole-run histograms and counters: what `summary.json` and `histograms.hlog` are made of.
    pub totals: Totals,
    /// One row per interval.
    pub rows: Vec<IntervalRow>,
    /// Time from start until the last request finished or was cut off.
    pub elapsed: Duration,
    /// The configured duration (or where Ctrl-C stopped it).
    pub duration: Duration,
    /// Whether the run was interrupted.
    pub interrupted: bool,
    /// The embedded mock's counters (its answers by status); `None` against an external target.
    pub mock_stats: Option<StatsSnapshot>,
    /// The embedded mock's per-key usage, for `summary.json`'s `quota`; empty against an
    /// external target.
    pub mock_keys: Vec<KeyUsage>,
    /// What the mock saw arrive (retries, early ones, tokens sent again, concurrency); `None`
    /// when no mock's view was read (an external target that is not a mock).
    pub upstream_view: Option<super::UpstreamView>,
    /// The scripted events.
    pub events: Vec<EventWindow>,
    /// The scenario's seed (after any `--seed` override), copied into `summary.json`.
    pub seed: u64,
    /// Largest delay of a request's actual start behind its intended one, over all driver
    /// threads (reports read the lag histogram in `totals` instead).
    pub max_lag: Duration,
    /// Length of each row's interval: the scenario's `report.interval`, at least 10 ms.
    pub interval: Duration,
    /// Unix time of the start (0 in simulation), for the hlog's `StartTime`.
    pub epoch_secs: u64,
}
