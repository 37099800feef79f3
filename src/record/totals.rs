//! What a whole run adds up to: the histograms and counters `summary.json` and
//! `histograms.hlog` are made from.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::histogram::new_histogram;
use super::outcome::{Outcome, OutcomeCounts};
use super::tokens::TokenTotals;

/// Totals over the run.
#[derive(Debug)]
pub struct Totals {
    /// Latency from intended start, µs.
    pub latency: Histogram<u64>,
    /// Latency from actual send, µs (the stack's own queueing excluded from the difference).
    pub service: Histogram<u64>,
    /// Per outcome, by [`Outcome::name`] (so in name order, the order of `histograms.hlog`).
    pub by_outcome: BTreeMap<&'static str, Histogram<u64>>,
    /// Per priority class: latency and errors.
    pub by_priority: BTreeMap<&'static str, (Histogram<u64>, u64)>,
    /// Per API route (`Route::as_str`): latency and errors. Reports show it only when more than
    /// one route was used.
    pub by_route: BTreeMap<&'static str, (Histogram<u64>, u64)>,
    /// Time to first token of streams that ended well, from the intended start, µs.
    pub ttft: Histogram<u64>,
    /// Token figures of streamed answers and SLO counts.
    pub tokens: TokenTotals,
    /// How late the driver started requests, µs.
    pub lag: Histogram<u64>,
    /// Requests started on schedule (dropped arrivals not included): `requests.total`.
    pub started: u64,
    /// Requests that got an answer of any kind (cache hits and fallbacks included).
    pub ok: u64,
    /// Errors (cut-off ones included).
    pub errors: u64,
    /// Arrivals dropped by the in-flight bound.
    pub dropped: u64,
    /// Requests still open when the drain ended.
    pub cut_off: u64,
    /// Completed per outcome, indexed by [`Outcome::index`].
    pub outcomes: OutcomeCounts,
    /// Errors per `ClientError::kind` (`cut_off` for requests still open at the end).
    pub error_kinds: BTreeMap<&'static str, u64>,
    /// Upstream attempts of the completed requests (cut-off ones' not counted): `upstream.calls`.
    pub attempts: u64,
    /// Retries the stack decided on, one per `Retry` event: `upstream.retries`.
    pub retries: u64,
    /// Content chunks the broken streams (`stream_broken`) had delivered, summed:
    /// `streams.tokens_before_break`.
    pub stream_broken_tokens: u64,
    /// Broken streams the retry layer sent again from the start (`Retry` events of error
    /// `stream_broken`): `streams.restarts`.
    pub stream_restarts: u64,
    /// Time the completed requests spent queued in the limiter, summed.
    pub limiter_wait: Duration,
    /// Limiter decisions taken locally because the shared (Redis) limiter was unreachable.
    pub limiter_fallbacks: u64,
    /// Shared (Redis) cache operations that failed.
    pub shared_cache_errors: u64,
    /// Upstream embeddings calls the semantic cache made (`Event::EmbeddingCall`): quota spent
    /// on lookups, not answers.
    pub embedding_calls: u64,
    /// Last rate-limit figures seen (remaining, limit).
    pub last_rate_limit: Option<(Option<u64>, Option<u64>)>,
    /// The key pool's answers, tokens and cost.
    pub pool: super::pool::PoolTotals,
    /// Requests the answer cap sent with a lowered `max_tokens`.
    pub answers_capped: u64,
    /// Batch requests that waited for spare quota, then went on.
    pub deferred: u64,
    /// Batch requests refused after waiting `batch_max_wait` for spare quota.
    pub deferrals_expired: u64,
}

impl Default for Totals {
    fn default() -> Self {
        Self::new()
    }
}

impl Totals {
    /// Nothing recorded yet.
    pub fn new() -> Self {
        Self {
            latency: new_histogram(),
            service: new_histogram(),
            by_outcome: BTreeMap::new(),
            by_priority: BTreeMap::new(),
            by_route: BTreeMap::new(),
            ttft: new_histogram(),
            tokens: TokenTotals::default(),
            lag: new_histogram(),
            started: 0,
            ok: 0,
            errors: 0,
            dropped: 0,
            cut_off: 0,
            outcomes: [0; Outcome::COUNT],
            error_kinds: BTreeMap::new(),
            attempts: 0,
            retries: 0,
            stream_broken_tokens: 0,
            stream_restarts: 0,
            limiter_wait: Duration::ZERO,
            limiter_fallbacks: 0,
            shared_cache_errors: 0,
            embedding_calls: 0,
            last_rate_limit: None,
            pool: Default::default(),
            answers_capped: 0,
            deferred: 0,
            deferrals_expired: 0,
        }
    }
}
