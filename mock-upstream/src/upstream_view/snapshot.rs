//! The view copied out: what `/_mock/stats` sends as `upstream_view` and what an in-process
//! reader gets, in one serde shape so an external reader deserialises what the server wrote.

use serde::{Deserialize, Serialize};

use super::counters::Counters;
use super::delays::DelayQuantiles;

/// The view since the epoch (the mock's start or last reset).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ViewSnapshot {
    /// Width of each interval, ms.
    pub interval_ms: f64,
    /// How long after an error the same body counts as a retry, seconds.
    pub retry_window_s: f64,
    /// Time since the epoch when copied out, ms.
    pub elapsed_ms: f64,
    /// The whole run.
    pub totals: ViewTotals,
    /// One per interval from the epoch to the last arrival.
    pub intervals: Vec<IntervalCounters>,
}

/// The run's counters, the first retries' delay quantiles and the evidence.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ViewTotals {
    /// Summed over every interval.
    #[serde(flatten)]
    pub counters: Counters,
    /// Delays of first retries after the errors they follow.
    pub first_retry_delay_ms: DelayQuantiles,
    /// The first attempt of each [`ExampleKind`].
    pub examples: Vec<Example>,
}

/// One interval's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct IntervalCounters {
    /// Its start after the epoch, ms.
    pub start_ms: f64,
    /// What arrived in it.
    #[serde(flatten)]
    pub counters: Counters,
}

/// What an example is evidence of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExampleKind {
    /// An attempt before its key's `retry-after` ran out.
    #[serde(rename = "early_after_429")]
    EarlyAfter429,
    /// A retry of an answer the API marks non-retryable.
    NonRetryableRetry,
    /// Any retry.
    Retry,
}

/// One attempt, as evidence: enough to find it in a system's logs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Example {
    /// What it shows.
    pub kind: ExampleKind,
    /// Its arrival after the epoch, seconds.
    pub at_s: f64,
    /// Its route.
    pub route: String,
    /// Its key's first six characters.
    pub key: String,
    /// Its `x-stainless-retry-count`.
    pub retry_count: Option<u32>,
    /// What it was answered (`None`: connection closed).
    pub status: Option<u16>,
    /// What the attempt it retried was answered.
    pub previous_status: Option<u16>,
    /// How early it came, for an early one.
    pub early_by_ms: Option<f64>,
}
