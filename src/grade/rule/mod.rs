//! Each question's pass/fail rule, on the upstream's view and the driver's view of its run. A
//! rule that finds nothing to judge (the question was never asked: no 429 was sent, no stream
//! was answered) fails, as a threshold with no data does: a system that did not start answering
//! cannot pass.

use serde::Serialize;

mod capacity;
mod outage;
mod retries;
#[cfg(test)]
mod tests;

use super::observed::Observed;
use super::question::Question;

/// Most caller requests' worth of upstream attempts per request during an outage.
pub const MAX_OUTAGE_AMPLIFICATION: f64 = 1.5;
/// Seconds after an outage within which callers must be served normally again.
pub const MAX_RECOVERY_S: f64 = 3.0;
/// Share of the requests completed during an outage that a fallback must answer.
pub const MIN_FALLBACK_SHARE: f64 = 0.9;
/// Least spread (p90 − p10) of a burst's first retries, ms: closer, they hit as one burst.
pub const MIN_RETRY_SPREAD_MS: f64 = 50.0;
/// Least coefficient of variation of retry delays: below, the delays are one fixed value.
pub const MIN_RETRY_DELAY_CV: f64 = 0.04;
/// The concurrency cap of `scenarios/grade/concurrency_cap.toml`.
pub const CONCURRENCY_CAP: f64 = 4.0;

/// What a failed question shows: where, how many, and one request.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Evidence {
    /// The interval of the run the rule looked at, seconds from its start.
    pub interval: Option<(f64, f64)>,
    /// The counts the rule compared, by name.
    pub counts: Vec<(String, String)>,
    /// One request that broke the rule, as the upstream saw it.
    pub example: Option<String>,
}

/// A question's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// Whether the rule holds.
    pub pass: bool,
    /// What was measured against what the rule wants, in one line.
    pub measured: String,
    /// The figures behind it.
    pub evidence: Evidence,
}

impl Verdict {
    pub(super) fn new(pass: bool, measured: String, evidence: Evidence) -> Self {
        Self {
            pass,
            measured,
            evidence,
        }
    }
}

pub(super) fn count(name: &str, v: impl ToString) -> (String, String) {
    (name.to_string(), v.to_string())
}

/// Judges `question` on its run.
pub fn judge(question: Question, o: &Observed) -> Verdict {
    match question {
        Question::RetryAfter => retries::retry_after(o),
        Question::QuotaNotRetried => retries::quota_not_retried(o),
        Question::Jitter => retries::jitter(o),
        Question::OutageAmplification => outage::outage_amplification(o),
        Question::Recovery => outage::recovery(o),
        Question::Slowdown => capacity::slowdown(o),
        Question::BrokenStream => capacity::broken_stream(o),
        Question::Fallback => outage::fallback(o),
        Question::ConcurrencyCap => capacity::concurrency_cap(o),
    }
}

/// The view's number, or a failed verdict saying the run had no view of the upstream.
pub(super) fn needs_view(o: &Observed, key: &str) -> Result<f64, Verdict> {
    o.view(key).ok_or_else(|| {
        Verdict::new(
            false,
            format!("no data: the run has no upstream_view.{key}"),
            Evidence::default(),
        )
    })
}

impl Observed {
    /// The width of one row's interval, seconds (1 when the run had fewer than two rows).
    pub(super) fn row_width(&self) -> f64 {
        match self.rows.as_slice() {
            [a, b, ..] => b.interval_start_s - a.interval_start_s,
            _ => 1.0,
        }
    }
}
