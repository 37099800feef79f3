//! The `up_*` columns of `timeseries.csv`: the upstream's view per interval, written after the
//! driver's columns and read back by name (empty cells when the run had no view).

use serde::Deserialize;

use crate::record::ViewInterval;

/// The columns, in file order.
pub const COLUMNS: [&str; 9] = [
    "up_attempts",
    "up_retries",
    "up_early_429",
    "up_non_retryable_retries",
    "up_prompt_tokens_resent",
    "up_tokens_charged",
    "up_concurrency_max",
    "up_concurrency_mean",
    "up_retry_delay_cv",
];

/// One row's cells.
pub fn cells(v: Option<&ViewInterval>) -> [String; 9] {
    let Some(v) = v else {
        return Default::default();
    };
    [
        v.attempts.to_string(),
        v.retries.to_string(),
        v.early_429.to_string(),
        v.non_retryable_retries.to_string(),
        v.prompt_tokens_resent.to_string(),
        v.tokens_charged.to_string(),
        v.concurrency_max.to_string(),
        format!("{:.3}", v.concurrency_mean),
        v.retry_delay_cv
            .map(|c| format!("{c:.3}"))
            .unwrap_or_default(),
    ]
}

/// The columns as read back; every one optional, so a file written before them reads too.
#[derive(Debug, Deserialize)]
pub struct CsvColumns {
    #[serde(default)]
    up_attempts: Option<u64>,
    #[serde(default)]
    up_retries: Option<u64>,
    #[serde(default)]
    up_early_429: Option<u64>,
    #[serde(default)]
    up_non_retryable_retries: Option<u64>,
    #[serde(default)]
    up_prompt_tokens_resent: Option<u64>,
    #[serde(default)]
    up_tokens_charged: Option<u64>,
    #[serde(default)]
    up_concurrency_max: Option<u64>,
    #[serde(default)]
    up_concurrency_mean: Option<f64>,
    #[serde(default)]
    up_retry_delay_cv: Option<f64>,
}

impl CsvColumns {
    /// The interval's view, `None` when its attempts cell is empty or absent.
    pub fn view(&self) -> Option<ViewInterval> {
        Some(ViewInterval {
            attempts: self.up_attempts?,
            retries: self.up_retries.unwrap_or(0),
            early_429: self.up_early_429.unwrap_or(0),
            non_retryable_retries: self.up_non_retryable_retries.unwrap_or(0),
            prompt_tokens_resent: self.up_prompt_tokens_resent.unwrap_or(0),
            tokens_charged: self.up_tokens_charged.unwrap_or(0),
            concurrency_max: self.up_concurrency_max.unwrap_or(0),
            concurrency_mean: self.up_concurrency_mean.unwrap_or(0.0),
            retry_delay_cv: self.up_retry_delay_cv,
        })
    }
}
