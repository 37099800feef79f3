//! What a streamed answer's tokens add up to: each request's token arrivals while it is in
//! flight ([`TokenLog`]), and the run's and each interval's token figures ([`TokenTotals`],
//! [`TokenRow`], [`TokenInterval`]).
//!
//! A gap is kept per request until the request ends, because only then is it known whether the
//! stream ended well: the gaps of a stream that broke (and of an attempt the retry layer started
//! again) go to their own histogram, never into the good streams' inter-token latency.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::serialization::{Serializer as _, V2Serializer};
use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::time::Instant;

use super::histogram::{new_histogram, record, MAX_US};
use crate::client::TokenObserver;

/// Most gaps one request keeps (4 MiB of them): an endless stream is cut off by the client's
/// response limit long before, and gaps beyond this are counted as chunks but not kept.
pub const MAX_GAPS: usize = 1 << 20;

/// One request's token arrivals, filled by the client's adapter as chunks arrive and taken by
/// the driver when the request ends. One lock per arrival, held for a subtraction and a push.
#[derive(Debug, Default)]
pub struct TokenLog {
    state: Mutex<TokenState>,
}

/// One request's tokens as its end found them.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TokenState {
    /// The attempt whose chunks are in `first`, `chunks` and `gaps`.
    attempt: u32,
    /// When that attempt's first content chunk arrived.
    pub first: Option<Instant>,
    last: Option<Instant>,
    /// Content chunks of that attempt.
    pub chunks: u32,
    /// Gaps between that attempt's chunks, µs (chunks that arrived together have gaps of 0).
    pub gaps: Vec<u32>,
    /// Earlier attempts that delivered content and then were started again.
    pub broken_streams: u32,
    /// Content chunks those earlier attempts delivered.
    pub broken_chunks: u64,
    /// Their gaps, µs.
    pub broken_gaps: Vec<u32>,
}

impl TokenState {
    /// Nothing arrived (a request that did not stream).
    pub const EMPTY: TokenState = TokenState {
        attempt: 0,
        first: None,
        last: None,
        chunks: 0,
        gaps: Vec::new(),
        broken_streams: 0,
        broken_chunks: 0,
        broken_gaps: Vec::new(),
    };

    /// `count` chunks of `attempt` arrived at `at`.
    pub fn add(&mut self, attempt: u32, count: u32, at: Instant) {
        if attempt != self.attempt {
            self.restart(attempt);
        }
        if let Some(last) = self.last {
            let gap = at.saturating_duration_since(last).as_micros();
            self.push_gap(u32::try_from(gap).unwrap_or(u32::MAX));
        } else {
            self.first = Some(at);
        }
        for _ in 1..count {
            self.push_gap(0);
        }
        self.last = Some(at);
        self.chunks = self.chunks.saturating_add(count);
    }

    fn push_gap(&mut self, us: u32) {
        if self.gaps.len() < MAX_GAPS {
            self.gaps.push(us);
        }
    }

    /// A new attempt began: what the last one delivered was a stream that broke.
    fn restart(&mut self, attempt: u32) {
        self.attempt = attempt;
        self.break_current();
        self.first = None;
        self.last = None;
        self.chunks = 0;
    }

    /// Counts the current attempt's content as a broken stream's.
    pub fn break_current(&mut self) {
        if self.chunks > 0 {
            self.broken_streams += 1;
            self.broken_chunks += u64::from(self.chunks);
            if self.broken_gaps.is_empty() {
                std::mem::swap(&mut self.broken_gaps, &mut self.gaps);
            } else {
                self.broken_gaps.append(&mut self.gaps);
            }
        }
        self.gaps.clear();
        self.chunks = 0;
        self.first = None;
    }
}

impl TokenLog {
    /// Hands out what was recorded, leaving the log empty.
    pub fn take(&self) -> TokenState {
        std::mem::take(&mut *self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl TokenObserver for TokenLog {
    fn on_tokens(&self, attempt: u32, count: u32, at: Instant) {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .add(attempt, count, at);
    }
}

/// Records a rate (per second) with three decimals into a histogram made by `new_histogram`.
pub fn record_rate(h: &mut Histogram<u64>, per_s: f64) {
    let milli = (per_s * 1000.0).round();
    let v = if milli.is_finite() { milli as u64 } else { 0 };
    h.saturating_record(v.clamp(1, MAX_US));
}

/// Records a gap kept in µs.
pub fn record_gap(h: &mut Histogram<u64>, us: u32) {
    record(h, Duration::from_micros(u64::from(us)));
}

/// Requests and those of them that met every objective of `[slo]`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Serialize)]
pub struct SloCount {
    /// Requests completed.
    pub requests: u64,
    /// Of them, answered and within every objective.
    pub met: u64,
}

impl SloCount {
    /// Counts one request.
    pub fn add(&mut self, met: bool) {
        self.requests += 1;
        self.met += u64::from(met);
    }
}

/// SLO counts overall and per route, priority class and tenant.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SloTotals {
    /// Over every completed request (cut-off ones included, as not met).
    pub all: SloCount,
    /// Per route (`Route::as_str`).
    pub by_route: BTreeMap<&'static str, SloCount>,
    /// Per priority class.
    pub by_priority: BTreeMap<&'static str, SloCount>,
    /// Per tenant key (requests sent without a tenant are not in it).
    pub by_tenant: BTreeMap<String, SloCount>,
}

/// The run's token figures: what `summary.json`'s `itl_ms`, `tpot_ms`, `tokens` and `slo` and
/// the matching `histograms.hlog` entries are made of. (`Totals::ttft` is the TTFT from the
/// intended start.)
#[derive(Debug)]
pub struct TokenTotals {
    /// TTFT from the actual send, µs.
    pub ttft_sent: Histogram<u64>,
    /// TTFT from the start of the successful attempt (the stack's own), µs.
    pub ttft_attempt: Histogram<u64>,
    /// Every gap between content chunks of streams that ended well, µs.
    pub itl: Histogram<u64>,
    /// Per request: (e2e − TTFT) / (output tokens − 1), µs.
    pub tpot: Histogram<u64>,
    /// The gaps of streams that broke (restarted attempts included), µs.
    pub itl_broken: Histogram<u64>,
    /// Per answered stream: output tokens / e2e, in thousandths of a token per second.
    pub tokens_per_s: Histogram<u64>,
    /// Prompt tokens of answered requests, as the upstream reported them.
    pub input: u64,
    /// Completion tokens of answered requests (usage, else the stream's content chunks).
    pub output: u64,
    /// Streams that broke after their first content chunk, restarted ones included.
    pub broken_streams: u64,
    /// Content chunks those streams delivered.
    pub broken_output: u64,
    /// SLO counts; all zero when the scenario has no `[slo]`.
    pub slo: SloTotals,
}

impl Default for TokenTotals {
    fn default() -> Self {
        Self {
            ttft_sent: new_histogram(),
            ttft_attempt: new_histogram(),
            itl: new_histogram(),
            tpot: new_histogram(),
            itl_broken: new_histogram(),
            tokens_per_s: new_histogram(),
            input: 0,
            output: 0,
            broken_streams: 0,
            broken_output: 0,
            slo: SloTotals::default(),
        }
    }
}

/// One interval's token figures (of the requests completed in it), a part of
/// [`IntervalRow`](super::IntervalRow).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct TokenRow {
    /// TTFT from the intended start, median, ms.
    pub ttft_p50_ms: f64,
    /// TTFT 99th percentile, ms.
    pub ttft_p99_ms: f64,
    /// Inter-token latency median, ms.
    pub itl_p50_ms: f64,
    /// Inter-token latency 99th percentile, ms.
    pub itl_p99_ms: f64,
    /// Time per output token, median, ms.
    pub tpot_p50_ms: f64,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Requests that met every objective of `[slo]`.
    pub slo_met: u64,
    /// The interval's TTFT histogram (µs), V2 encoded, for `tokens.hlog` and merges; empty
    /// when no stream completed in it.
    #[serde(skip)]
    pub ttft_histogram: Vec<u8>,
    /// The interval's inter-token histogram, likewise.
    #[serde(skip)]
    pub itl_histogram: Vec<u8>,
    /// The interval's time-per-output-token histogram, likewise.
    #[serde(skip)]
    pub tpot_histogram: Vec<u8>,
}

impl TokenRow {
    /// Reads the percentiles off the interval's histograms.
    pub fn set_percentiles(
        &mut self,
        ttft: &Histogram<u64>,
        itl: &Histogram<u64>,
        tpot: &Histogram<u64>,
    ) {
        let ms = |h: &Histogram<u64>, q: f64| {
            if h.is_empty() {
                0.0
            } else {
                h.value_at_quantile(q) as f64 / 1000.0
            }
        };
        self.ttft_p50_ms = ms(ttft, 0.5);
        self.ttft_p99_ms = ms(ttft, 0.99);
        self.itl_p50_ms = ms(itl, 0.5);
        self.itl_p99_ms = ms(itl, 0.99);
        self.tpot_p50_ms = ms(tpot, 0.5);
    }
}

/// The open interval's token histograms, closed into its [`TokenRow`] at its end.
#[derive(Debug)]
pub struct TokenInterval {
    /// TTFT from the intended start, µs.
    pub ttft: Histogram<u64>,
    /// Inter-token gaps, µs.
    pub itl: Histogram<u64>,
    /// Time per output token, µs.
    pub tpot: Histogram<u64>,
}

impl Default for TokenInterval {
    fn default() -> Self {
        Self {
            ttft: new_histogram(),
            itl: new_histogram(),
            tpot: new_histogram(),
        }
    }
}

impl TokenInterval {
    /// Writes the interval's figures into `row` and starts the next interval empty.
    pub fn close(&mut self, row: &mut TokenRow, serializer: &mut V2Serializer) {
        row.set_percentiles(&self.ttft, &self.itl, &self.tpot);
        let encode = |h: &Histogram<u64>, s: &mut V2Serializer| {
            let mut out = Vec::new();
            if !h.is_empty() && s.serialize(h, &mut out).is_err() {
                out.clear();
            }
            out
        };
        row.ttft_histogram = encode(&self.ttft, serializer);
        row.itl_histogram = encode(&self.itl, serializer);
        row.tpot_histogram = encode(&self.tpot, serializer);
        self.ttft.reset();
        self.itl.reset();
        self.tpot.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn gaps_are_kept_per_attempt_and_a_restart_is_a_broken_stream() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let log = TokenLog::default();
        log.on_tokens(1, 1, t0);
        log.on_tokens(1, 2, t0 + ms(10));
        // The retry layer started the stream again.
        log.on_tokens(2, 1, t0 + ms(100));
        log.on_tokens(2, 1, t0 + ms(120));
        let s = log.take();
        assert_eq!(s.first, Some(t0 + ms(100)));
        assert_eq!((s.chunks, s.gaps.clone()), (2, vec![20_000]));
        assert_eq!((s.broken_streams, s.broken_chunks), (1, 3));
        assert_eq!(s.broken_gaps, vec![10_000, 0]);
        assert_eq!(log.take(), TokenState::default());
        let mut s = s;
        s.break_current();
        assert_eq!((s.broken_streams, s.broken_chunks, s.chunks), (2, 5, 0));
        assert_eq!(s.broken_gaps, vec![10_000, 0, 20_000]);
        assert!(s.gaps.is_empty() && s.first.is_none());
    }

    #[test]
    fn a_rate_keeps_three_decimals() {
        let mut h = new_histogram();
        record_rate(&mut h, 12.5);
        assert_eq!(h.max(), h.highest_equivalent(12_500));
        record_rate(&mut h, f64::NAN);
        assert_eq!(h.min(), 1);
    }
}
