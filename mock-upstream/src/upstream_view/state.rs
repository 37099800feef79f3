//! The view's arithmetic: one arrival in, its counters added to its interval and the run.
//! Pure: every time comes in the [`Arrival`], so tests drive it on any clock.

use gauntlet_wire::hash::stable_hash;
use tokio::time::{Duration, Instant};

use super::counters::Counters;
use super::delays::DelayHistogram;
use super::keys::{KeyBook, Seen};
use super::snapshot::{Example, ExampleKind, IntervalCounters, ViewSnapshot, ViewTotals};
use super::{Arrival, MAX_INTERVALS};

/// Counters since `epoch`, per interval of `width`, and the per-key memory they are drawn from.
#[derive(Debug)]
pub(super) struct ViewState {
    epoch: Instant,
    width: Duration,
    window: Duration,
    intervals: Vec<Counters>,
    totals: Counters,
    first_delays: DelayHistogram,
    examples: Vec<Example>,
    keys: KeyBook,
}

impl ViewState {
    pub(super) fn new(epoch: Instant, width: Duration, window: Duration) -> Self {
        Self {
            epoch,
            width: width.max(Duration::from_millis(1)),
            window,
            intervals: Vec::new(),
            totals: Counters::default(),
            first_delays: DelayHistogram::default(),
            examples: Vec::new(),
            keys: KeyBook::default(),
        }
    }

    pub(super) fn width(&self) -> Duration {
        self.width
    }

    pub(super) fn window(&self) -> Duration {
        self.window
    }

    /// The interval `at` falls in, made when first needed; `None` before the epoch.
    fn interval(&mut self, at: Instant) -> Option<&mut Counters> {
        let offset = at.checked_duration_since(self.epoch)?;
        let i = (offset.as_nanos() / self.width.as_nanos()).min(MAX_INTERVALS as u128 - 1);
        let i = i as usize;
        if self.intervals.len() <= i {
            self.intervals.resize(i + 1, Counters::default());
        }
        Some(&mut self.intervals[i])
    }

    /// Adds an attempt's time in the mock to the interval it arrived in.
    pub(super) fn busy(&mut self, arrived: Instant, left: Instant) {
        let ms = left.saturating_duration_since(arrived).as_secs_f64() * 1e3;
        if let Some(c) = self.interval(arrived) {
            c.busy_ms += ms;
            self.totals.busy_ms += ms;
        }
    }

    /// What an attempt is, judged against what its key had been answered when it arrived:
    /// done as soon as its body is known, so answers sent while it is in the mock (hundreds,
    /// under load) do not hide the one it retries.
    pub(super) fn classify(
        &mut self,
        key: u64,
        at: Instant,
        retry_count: Option<u32>,
        body: Option<u64>,
    ) -> Classified {
        let window = self.window;
        let ks = self.keys.get(key, at);
        let early = ks.early_by(at);
        let by_header = retry_count.is_some_and(|n| n > 0);
        let by_body = body.and_then(|h| ks.failed_body(h, at, window));
        let prior = by_body.or_else(|| by_header.then(|| ks.last_error(at)).flatten());
        let retry = by_header || by_body.is_some();
        let ordinal = match (retry, retry_count.filter(|n| *n > 0)) {
            (false, _) => 0,
            (true, Some(n)) => n,
            (true, None) => prior.map_or(1, |p| p.ordinal + 1),
        };
        Classified {
            early,
            by_header,
            retry,
            prior,
            ordinal,
        }
    }

    /// Counts one answered request (one that arrived before the epoch belongs to no run),
    /// classified when it arrived or, without that, now.
    pub(super) fn record(&mut self, a: &Arrival<'_>, classified: Option<Classified>) {
        if a.arrived < self.epoch {
            return;
        }
        let key = key_hash(a.key);
        let Classified {
            early,
            by_header,
            retry,
            prior,
            ordinal,
        } = classified
            .unwrap_or_else(|| self.classify(key, a.arrived, a.retry_count, a.note.body_hash));
        let ks = self.keys.get(key, a.arrived);
        let non_retryable =
            a.should_retry == Some(false) || matches!(a.status, Some(400 | 401 | 404));
        ks.remember(
            Seen {
                body: a.note.body_hash.unwrap_or(0),
                sent: a.sent,
                status: a.status,
                error: a.status.is_none_or(|s| s >= 400),
                non_retryable,
                ordinal,
                until: a
                    .retry_after
                    .filter(|_| a.status == Some(429))
                    .map(|w| a.sent + w),
            },
            a.note.body_hash.is_some(),
        );
        // A retry is held to the wait of the answer it retries, not to the key's latest one:
        // under concurrency another request's later 429 would make a patient retry look early.
        let early_retry = retry && prior.and_then(|p| p.until).is_some_and(|u| a.arrived < u);

        let mut c = Counters {
            attempts: 1,
            prompt_tokens: u64::from(a.note.prompt_tokens),
            tokens_charged: a.note.charged_tokens,
            concurrency_max: u64::from(a.concurrency),
            answers_429: u64::from(a.status == Some(429)),
            abandoned: u64::from(a.abandoned),
            non_retryable_answers: u64::from(non_retryable),
            ..Counters::default()
        };
        if let Some(by) = early {
            let ms = by.as_secs_f64() * 1e3;
            c.early_after_429 = 1;
            c.early_by_ms_sum = ms;
            c.early_by_ms_max = ms;
            self.example(ExampleKind::EarlyAfter429, a, prior, Some(ms));
        }
        c.early_retries_after_429 = u64::from(early_retry);
        if retry {
            c.retries = 1;
            c.retries_by_header = u64::from(by_header);
            c.prompt_tokens_resent = u64::from(a.note.prompt_tokens);
            self.example(ExampleKind::Retry, a, prior, None);
            if let Some(p) = prior {
                let ms = a.arrived.saturating_duration_since(p.sent).as_secs_f64() * 1e3;
                c.retry_delays.push(ordinal, ms);
                if ordinal == 1 {
                    self.first_delays.push(ms);
                }
                if p.non_retryable {
                    c.non_retryable_retries = 1;
                    self.example(ExampleKind::NonRetryableRetry, a, prior, None);
                }
            }
        }
        self.totals.add(&c);
        if let Some(i) = self.interval(a.arrived) {
            i.add(&c);
        }
    }

    /// Keeps the first attempt of each kind, as evidence a reader can show.
    fn example(
        &mut self,
        kind: ExampleKind,
        a: &Arrival<'_>,
        prior: Option<Seen>,
        early: Option<f64>,
    ) {
        if self.examples.iter().any(|e| e.kind == kind) {
            return;
        }
        self.examples.push(Example {
            kind,
            at_s: a
                .arrived
                .saturating_duration_since(self.epoch)
                .as_secs_f64(),
            route: a.route.to_string(),
            key: a.key.map_or_else(|| "(none)".to_string(), mask),
            retry_count: a.retry_count,
            status: a.status,
            previous_status: prior.and_then(|p| p.status),
            early_by_ms: early,
        });
    }

    pub(super) fn snapshot(&self) -> ViewSnapshot {
        let width_ms = self.width.as_secs_f64() * 1e3;
        ViewSnapshot {
            interval_ms: width_ms,
            retry_window_s: self.window.as_secs_f64(),
            elapsed_ms: Instant::now()
                .saturating_duration_since(self.epoch)
                .as_secs_f64()
                * 1e3,
            totals: ViewTotals {
                counters: self.totals,
                first_retry_delay_ms: self.first_delays.quantiles(),
                examples: self.examples.clone(),
            },
            intervals: self
                .intervals
                .iter()
                .enumerate()
                .map(|(i, c)| IntervalCounters {
                    start_ms: i as f64 * width_ms,
                    counters: *c,
                })
                .collect(),
        }
    }
}

/// An attempt's relation to its key's earlier answers.
#[derive(Debug, Clone, Copy)]
pub struct Classified {
    early: Option<Duration>,
    by_header: bool,
    retry: bool,
    prior: Option<Seen>,
    ordinal: u32,
}

/// The key's identity in the book: a hash of its token (the token is not kept).
pub fn key_hash(key: Option<&str>) -> u64 {
    key.map_or(0, |k| stable_hash(k.as_bytes()))
}

/// A key as evidence may show it: a short hash that tells keys apart and gives away none of
/// the token (not even a prefix, which for some providers names the account).
pub fn mask(key: &str) -> String {
    format!("key#{:08x}", stable_hash(key.as_bytes()) >> 32)
}
