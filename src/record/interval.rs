//! One interval's figures: what `timeseries.csv`, `latency.hlog`, the charts and recovery times
//! are made of. The recorder closes a row at each interval's end, so memory per row is fixed.

use serde::Serialize;

use super::outcome::OutcomeCounts;

/// One interval's figures, kept for the time series.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct IntervalRow {
    /// Start offset, seconds.
    pub start_s: f64,
    /// Requests whose intended start fell in the interval.
    pub started: u64,
    /// Requests completed in it.
    pub completed: u64,
    /// Successful answers completed in it.
    pub ok: u64,
    /// Errors completed in it.
    pub errors: u64,
    /// Arrivals dropped (in-flight bound).
    pub dropped: u64,
    /// Latency percentiles of the requests completed in it, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Maximum, ms.
    pub max_ms: f64,
    /// Completed per outcome, indexed by [`Outcome::index`](super::Outcome::index).
    pub outcomes: OutcomeCounts,
    /// Upstream attempts of the requests completed in it.
    pub attempts: u64,
    /// Retries scheduled in it.
    pub retries: u64,
    /// Time requests spent in the limiter, ms (requests completed in it).
    pub limiter_wait_ms: f64,
    /// Deepest limiter queue seen.
    pub queue_depth_max: u64,
    /// Breaker state at the interval's end.
    pub breaker: &'static str,
    /// Last `x-ratelimit-remaining-requests` seen.
    pub quota_remaining: Option<u64>,
    /// Offered rate of the schedule, per second (open model).
    pub offered_rps: f64,
    /// The interval's latency histogram (µs), HdrHistogram V2 encoded (compressed only when
    /// `latency.hlog` is written, once), for `latency.hlog` and merges.
    #[serde(skip)]
    pub histogram: Vec<u8>,
    /// What the mock saw arrive in this interval; `None` when no mock's view was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_view: Option<super::ViewInterval>,
}
