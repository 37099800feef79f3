//! The addable counters of the upstream's view: one set per interval and one for the run, so
//! an interval of any width is the sum of narrower ones and the run is the sum of its intervals.

use serde::{Deserialize, Serialize};

/// Retry ordinals the delay moments are kept for: 1st, 2nd, 3rd and 4th-or-later retries.
pub const ORDINALS: usize = 4;

/// Count, sum and sum of squares of retry delays: enough for a mean and a coefficient of
/// variation, addable across intervals, and fixed in size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    /// Delays measured.
    pub n: u64,
    /// Their sum, ms.
    pub sum_ms: f64,
    /// The sum of their squares, ms².
    pub sum_sq_ms: f64,
}

impl Moments {
    /// Adds one delay.
    pub fn push(&mut self, ms: f64) {
        self.n += 1;
        self.sum_ms += ms;
        self.sum_sq_ms += ms * ms;
    }

    /// Adds another set of delays.
    pub fn add(&mut self, o: &Moments) {
        self.n += o.n;
        self.sum_ms += o.sum_ms;
        self.sum_sq_ms += o.sum_sq_ms;
    }

    /// Standard deviation ÷ mean (population), `None` under two delays or a zero mean.
    pub fn cv(&self) -> Option<f64> {
        if self.n < 2 {
            return None;
        }
        let n = self.n as f64;
        let mean = self.sum_ms / n;
        if mean <= 0.0 {
            return None;
        }
        let var = (self.sum_sq_ms / n - mean * mean).max(0.0);
        Some(var.sqrt() / mean)
    }
}

/// Retry delays per ordinal. Backoff grows with the ordinal, so delays of different ordinals
/// differ even without jitter; comparing each ordinal's delays with each other is what tells
/// lock-step retries from jittered ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RetryDelays(pub [Moments; ORDINALS]);

impl RetryDelays {
    /// Adds the delay of a retry with this ordinal (1 = first retry).
    pub fn push(&mut self, ordinal: u32, ms: f64) {
        let i = (ordinal.max(1) as usize - 1).min(ORDINALS - 1);
        self.0[i].push(ms);
    }

    /// Adds another set.
    pub fn add(&mut self, o: &RetryDelays) {
        for (a, b) in self.0.iter_mut().zip(&o.0) {
            a.add(b);
        }
    }

    /// Delays measured, every ordinal.
    pub fn count(&self) -> u64 {
        self.0.iter().map(|m| m.n).sum()
    }

    /// The count-weighted mean of each ordinal's coefficient of variation, over the ordinals
    /// with two delays or more: near 0 for lock-step retries, about 0.58 for full jitter.
    pub fn cv(&self) -> Option<f64> {
        let (weighted, n) = self
            .0
            .iter()
            .filter_map(|m| m.cv().map(|cv| (cv * m.n as f64, m.n)))
            .fold((0.0, 0u64), |(w, n), (cw, cn)| (w + cw, n + cn));
        (n > 0).then(|| weighted / n as f64)
    }
}

/// What arrived in one interval (or the run), and what it was answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    /// Attempts that arrived.
    pub attempts: u64,
    /// Attempts identified as retries (by header or by body).
    pub retries: u64,
    /// Of the retries, those with `x-stainless-retry-count` > 0.
    pub retries_by_header: u64,
    /// Attempts that came before their key's `retry-after` ran out.
    pub early_after_429: u64,
    /// Of those, the retries.
    pub early_retries_after_429: u64,
    /// How early they came, summed, ms.
    pub early_by_ms_sum: f64,
    /// The earliest one, ms before the deadline.
    pub early_by_ms_max: f64,
    /// 429s sent (rate limits and quota).
    pub answers_429: u64,
    /// Answers the API marks non-retryable (400, 401, 404, `x-should-retry: false`).
    pub non_retryable_answers: u64,
    /// Retries of such answers.
    pub non_retryable_retries: u64,
    /// Prompt tokens of every attempt, as the mock counts them.
    pub prompt_tokens: u64,
    /// Prompt tokens of the retries: what the client sent again.
    pub prompt_tokens_resent: u64,
    /// Prompt and completion tokens of attempts admitted past the limits: quota burned.
    pub tokens_charged: u64,
    /// Most attempts in the mock at once, seen at an arrival.
    pub concurrency_max: u64,
    /// Time the attempts that arrived here spent in the mock, summed, ms.
    pub busy_ms: f64,
    /// Delays of the retries after the error they follow.
    pub retry_delays: RetryDelays,
}

impl Counters {
    /// Adds another interval's counters (maxima take the larger).
    pub fn add(&mut self, o: &Counters) {
        self.attempts += o.attempts;
        self.retries += o.retries;
        self.retries_by_header += o.retries_by_header;
        self.early_after_429 += o.early_after_429;
        self.early_retries_after_429 += o.early_retries_after_429;
        self.early_by_ms_sum += o.early_by_ms_sum;
        self.early_by_ms_max = self.early_by_ms_max.max(o.early_by_ms_max);
        self.answers_429 += o.answers_429;
        self.non_retryable_answers += o.non_retryable_answers;
        self.non_retryable_retries += o.non_retryable_retries;
        self.prompt_tokens += o.prompt_tokens;
        self.prompt_tokens_resent += o.prompt_tokens_resent;
        self.tokens_charged += o.tokens_charged;
        self.concurrency_max = self.concurrency_max.max(o.concurrency_max);
        self.busy_ms += o.busy_ms;
        self.retry_delays.add(&o.retry_delays);
    }

    /// Mean attempts in the mock over `width_ms` (Little's law: busy time ÷ elapsed).
    pub fn concurrency_mean(&self, width_ms: f64) -> f64 {
        if width_ms > 0.0 {
            self.busy_ms / width_ms
        } else {
            0.0
        }
    }

    /// Mean of how early the early attempts came, ms (0 when none did).
    pub fn early_by_ms_mean(&self) -> f64 {
        if self.early_after_429 == 0 {
            0.0
        } else {
            self.early_by_ms_sum / self.early_after_429 as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_delays_have_no_spread_and_uneven_ones_do() {
        let mut m = Moments::default();
        for _ in 0..5 {
            m.push(200.0);
        }
        assert!(m.cv().unwrap() < 1e-9);
        let mut j = Moments::default();
        for d in [50.0, 150.0, 250.0, 350.0] {
            j.push(d);
        }
        let cv = j.cv().unwrap();
        assert!((cv - 111.803_398_874_989_5 / 200.0).abs() < 1e-9, "{cv}");
        assert_eq!(Moments::default().cv(), None);
    }

    #[test]
    fn exponential_backoff_without_jitter_is_lock_step() {
        // 100, 200, 400 ms for the three retries of each of three requests.
        let mut r = RetryDelays::default();
        for _ in 0..3 {
            for (i, d) in [100.0, 200.0, 400.0].into_iter().enumerate() {
                r.push(i as u32 + 1, d);
            }
        }
        assert_eq!(r.count(), 9);
        assert!(r.cv().unwrap() < 1e-9);
    }

    #[test]
    fn adding_sums_counts_and_keeps_maxima() {
        let a = Counters {
            attempts: 2,
            early_by_ms_max: 30.0,
            concurrency_max: 4,
            busy_ms: 500.0,
            ..Counters::default()
        };
        let mut b = Counters {
            attempts: 1,
            early_by_ms_max: 10.0,
            concurrency_max: 7,
            busy_ms: 500.0,
            ..Counters::default()
        };
        b.add(&a);
        assert_eq!(b.attempts, 3);
        assert_eq!(b.early_by_ms_max, 30.0);
        assert_eq!(b.concurrency_max, 7);
        assert_eq!(b.concurrency_mean(1000.0), 1.0);
    }
}
