//! `summary.json`'s `upstream_view`: what the mock saw the system under test do to it, for the
//! run, with the metrics thresholds may name (`upstream_view.<figure>`) and the one line the
//! terminal table and `summary.md` print. Keys are documented in `scenarios/README.md`.

use serde::{Deserialize, Serialize};

use crate::record::UpstreamView;
use mock_upstream::upstream_view::Example;

/// The figures, as `summary.json` carries them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpstreamViewFigures {
    /// Attempts that arrived at the mock.
    pub attempts: u64,
    /// User requests the driver started (`requests.total`).
    pub driver_requests: u64,
    /// attempts / driver_requests: how much the system multiplied the load.
    pub amplification: f64,
    /// Attempts identified as retries (by `x-stainless-retry-count` or by body).
    pub retries: u64,
    /// Of them, by header.
    pub retries_by_header: u64,
    /// Attempts that came before their key's `retry-after` ran out.
    pub early_after_429: u64,
    /// Of them, retries.
    pub early_retries_after_429: u64,
    /// How early they came.
    pub early_by_ms: EarlyBy,
    /// 429s sent.
    pub answers_429: u64,
    /// Answers the API marks non-retryable (400, 401, 404, `x-should-retry: false`).
    pub non_retryable_answers: u64,
    /// Retries of those.
    pub non_retryable_retries: u64,
    /// Delays of retries after the errors they follow.
    pub retry_delay_ms: RetryDelayFigures,
    /// Prompt tokens of every attempt.
    pub prompt_tokens: u64,
    /// Prompt tokens of the retries: sent again.
    pub prompt_tokens_resent: u64,
    /// Tokens charged to the keys (prompt + completion of admitted attempts): quota burned.
    pub tokens_charged: u64,
    /// Most attempts in the mock at once.
    pub concurrency_max: u64,
    /// Mean attempts in the mock over the run.
    pub concurrency_mean: f64,
    /// How long after an error the same body counted as a retry, seconds.
    pub retry_window_s: f64,
    /// The first attempt of each kind (`early_after_429`, `non_retryable_retry`, `retry`): the
    /// evidence to look for in the system's logs.
    #[serde(default)]
    pub examples: Vec<Example>,
}

/// How early attempts came before `retry-after` ran out, ms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct EarlyBy {
    /// Mean.
    pub mean: f64,
    /// Largest.
    pub max: f64,
}

/// The spread of retry delays: lock-step retries have a small one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RetryDelayFigures {
    /// Delays measured (every retry whose previous attempt is known).
    pub count: u64,
    /// Of them, first retries (what `p10`..`p90` are over).
    #[serde(default)]
    pub first_count: u64,
    /// 10th percentile of first-retry delays, ms.
    pub p10: f64,
    /// Median, ms.
    pub p50: f64,
    /// 90th percentile, ms.
    pub p90: f64,
    /// p90 − p10, ms.
    pub spread_ms: f64,
    /// Stddev ÷ mean within each retry ordinal, count-weighted (0 when not measured): near 0
    /// lock-step, about 0.58 for full jitter.
    pub cv: f64,
    /// Whether `cv` was measured (two delays of one ordinal or more).
    #[serde(default)]
    pub cv_measured: bool,
}

/// The metrics thresholds may name, after `upstream_view.`.
pub const METRICS: [&str; 13] = [
    "attempts",
    "amplification",
    "retries",
    "early_after_429",
    "early_retries_after_429",
    "early_by_ms_max",
    "non_retryable_retries",
    "retry_delay_cv",
    "retry_delay_spread_ms",
    "prompt_tokens_resent",
    "tokens_charged",
    "concurrency_max",
    "concurrency_mean",
];

impl UpstreamViewFigures {
    /// From a run's view, `driver_requests` started over `elapsed_s`.
    pub fn of(v: &UpstreamView, driver_requests: u64, elapsed_s: f64) -> Self {
        let c = &v.totals.counters;
        let q = v.totals.first_retry_delay_ms;
        let cv = c.retry_delays.cv();
        Self {
            attempts: c.attempts,
            driver_requests,
            amplification: if driver_requests == 0 {
                0.0
            } else {
                c.attempts as f64 / driver_requests as f64
            },
            retries: c.retries,
            retries_by_header: c.retries_by_header,
            early_after_429: c.early_after_429,
            early_retries_after_429: c.early_retries_after_429,
            early_by_ms: EarlyBy {
                mean: c.early_by_ms_mean(),
                max: c.early_by_ms_max,
            },
            answers_429: c.answers_429,
            non_retryable_answers: c.non_retryable_answers,
            non_retryable_retries: c.non_retryable_retries,
            retry_delay_ms: RetryDelayFigures {
                count: c.retry_delays.count(),
                first_count: q.count,
                p10: q.p10,
                p50: q.p50,
                p90: q.p90,
                spread_ms: q.spread_ms(),
                cv: cv.unwrap_or(0.0),
                cv_measured: cv.is_some(),
            },
            prompt_tokens: c.prompt_tokens,
            prompt_tokens_resent: c.prompt_tokens_resent,
            tokens_charged: c.tokens_charged,
            concurrency_max: c.concurrency_max,
            concurrency_mean: c.concurrency_mean(elapsed_s.max(1e-9) * 1e3),
            retry_window_s: v.retry_window_s,
            examples: v.totals.examples.clone(),
        }
    }

    /// A metric by its name after `upstream_view.` (NaN for an unknown one).
    pub fn metric(&self, name: &str) -> f64 {
        match name {
            "attempts" => self.attempts as f64,
            "amplification" => self.amplification,
            "retries" => self.retries as f64,
            "early_after_429" => self.early_after_429 as f64,
            "early_retries_after_429" => self.early_retries_after_429 as f64,
            "early_by_ms_max" => self.early_by_ms.max,
            "non_retryable_retries" => self.non_retryable_retries as f64,
            "retry_delay_cv" => self.retry_delay_ms.cv,
            "retry_delay_spread_ms" => self.retry_delay_ms.spread_ms,
            "prompt_tokens_resent" => self.prompt_tokens_resent as f64,
            "tokens_charged" => self.tokens_charged as f64,
            "concurrency_max" => self.concurrency_max as f64,
            "concurrency_mean" => self.concurrency_mean,
            _ => f64::NAN,
        }
    }

    /// Whether the metric was measured: the spread needs two first retries, the cv two
    /// delays of one ordinal.
    pub fn has_data(&self, name: &str) -> bool {
        match name {
            "retry_delay_cv" => self.retry_delay_ms.cv_measured,
            "retry_delay_spread_ms" => self.retry_delay_ms.first_count >= 2,
            _ => METRICS.contains(&name),
        }
    }

    /// The terminal table's and `summary.md`'s line.
    pub fn line(&self) -> String {
        let spread = if self.retry_delay_ms.cv_measured {
            format!(
                ", retry delay cv {:.2} (p10–p90 {:.0}–{:.0} ms)",
                self.retry_delay_ms.cv, self.retry_delay_ms.p10, self.retry_delay_ms.p90
            )
        } else {
            String::new()
        };
        format!(
            "{} attempts for {} requests (amplification {:.2}), {} retries, {} early after 429 \
             (by up to {:.0} ms), {} retries of non-retryable errors{spread}, {} prompt tokens \
             resent, {} tokens charged, concurrency max {} mean {:.2}",
            self.attempts,
            self.driver_requests,
            self.amplification,
            self.retries,
            self.early_after_429,
            self.early_by_ms.max,
            self.non_retryable_retries,
            self.prompt_tokens_resent,
            self.tokens_charged,
            self.concurrency_max,
            self.concurrency_mean,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_reads_a_figure() {
        let f = UpstreamViewFigures {
            attempts: 30,
            driver_requests: 10,
            amplification: 3.0,
            ..UpstreamViewFigures::default()
        };
        for m in METRICS {
            assert!(!f.metric(m).is_nan(), "{m}");
        }
        assert_eq!(f.metric("amplification"), 3.0);
        assert!(f.metric("nothing").is_nan());
        assert!(f.has_data("attempts"));
        assert!(!f.has_data("retry_delay_cv"));
        assert!(f.line().contains("amplification 3.00"));
    }

    #[test]
    fn thresholds_know_every_metric() {
        for m in METRICS {
            let name = format!("upstream_view.{m}");
            assert!(crate::scenario::is_metric(&name), "{name}");
        }
    }
}
