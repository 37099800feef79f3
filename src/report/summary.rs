//! `summary.json`: the run's figures under stable keys (documented in `scenarios/README.md`),
//! threshold results and recovery times. Built from recorded data only.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

pub use super::llm_summary::{SloClass, SloFigures, TokenFigures};
pub use super::recovery::Recovery;
use crate::scenario::{Condition, MetricName};

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Fastest sample, ms (0 when there were no samples, as for every field here).
    pub min: f64,
    /// Mean in ms, rounded to the microsecond.
    pub mean: f64,
    /// Median, ms.
    pub p50: f64,
    /// 90th.
    pub p90: f64,
    /// 95th.
    pub p95: f64,
    /// 99th.
    pub p99: f64,
    /// 99.9th.
    pub p999: f64,
    /// Slowest sample, ms (an hour at most: the histogram's upper bound).
    pub max: f64,
    /// Number of samples the percentiles are read from.
    pub count: u64,
}

impl Percentiles {
    /// From a histogram in microseconds.
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let ms = |v: u64| v as f64 / 1000.0;
        Self {
            min: ms(h.min()),
            mean: (h.mean()).round() / 1000.0,
            p50: ms(h.value_at_quantile(0.5)),
            p90: ms(h.value_at_quantile(0.9)),
            p95: ms(h.value_at_quantile(0.95)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
            count: h.len(),
        }
    }
}

/// `summary.json`'s `requests` object: what happened to the user requests (not attempts).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Requests {
    /// Started (dropped arrivals not included).
    pub total: u64,
    /// Completed with an answer of any kind (upstream, cache hit, fallback, ...).
    pub ok: u64,
    /// Failed (cut-off included).
    pub errors: u64,
    /// Arrivals dropped by the in-flight bound.
    pub dropped: u64,
    /// Still open when the drain ended.
    pub cut_off: u64,
}

/// `summary.json`'s `upstream` object: the traffic the stack sent to the upstream.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Upstream {
    /// Attempts sent upstream.
    pub calls: u64,
    /// Retries the retry layer decided on (a `Retry` event each), whether or not they were sent.
    pub retries: u64,
    /// Answers by status, as the embedded mock counted them (`no_response` for resets).
    pub status_counts: BTreeMap<String, u64>,
    /// Requests whose handler panicked in the embedded mock (each answered with a 500): a bug in
    /// Gauntlet, and a run that saw one does not exit 0. Absent from `summary.json` when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub panics: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// `summary.json`'s `quota` object, from the embedded mock's per-key accounting; every field is
/// `null` when no key has a daily quota (or the upstream is not the embedded mock).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Quota {
    /// Daily request quota over all keys, if any is set.
    pub limit_per_day: Option<u64>,
    /// Requests of the daily quota spent, summed over keys, rounded to two decimals.
    pub used: Option<f64>,
    /// used / limit (0 when the limit is 0).
    pub ratio: Option<f64>,
}

/// One entry of `thresholds`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// The metric's threshold name, as in the scenario (`latency.p99`, `error_rate`, ...).
    pub metric: String,
    /// `<`, `<=`, `>`, `>=`.
    pub op: String,
    /// The limit as written.
    pub limit: String,
    /// The measured value (ms for latencies, a fraction for rates).
    pub actual: f64,
    /// Whether it holds; never when there was no data.
    pub pass: bool,
    /// Nothing was measured for the metric (no request completed, no stream, no quota): the
    /// threshold fails, whatever the reason, so a run stopped before its first answer cannot
    /// pass. Absent from `summary.json` when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_data: bool,
}

/// Schedule accuracy of the driver.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// How late requests started behind their intended time, ms.
    pub lag_ms: Percentiles,
    /// Latency measured from the actual send (as wrx2's -U), ms: the difference to
    /// `latency_ms` is time spent behind schedule.
    pub service_ms: Percentiles,
}

/// The limiter's own figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LimiterFigures {
    /// Decisions taken by a node's local share because the shared (Redis) limiter was
    /// unreachable: while this is above 0 the fleet was not held to one quota.
    pub fallback_decisions: u64,
    /// Batch requests that waited for spare quota (`batch_reserve`), then went on.
    #[serde(default)]
    pub deferred: u64,
    /// Batch requests refused after `batch_max_wait` without spare quota (then the
    /// fallback's queue step, if any).
    #[serde(default)]
    pub deferrals_expired: u64,
}

/// The answer cap's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AnswerCapFigures {
    /// Requests sent with a lowered `max_tokens` because the token quota was nearly spent.
    pub capped: u64,
}

/// The cache's own figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CacheFigures {
    /// Shared (Redis) cache reads, writes and locks that failed: while this is above 0 the
    /// fleet was not sharing its cache (those requests went on without it).
    pub shared_errors: u64,
    /// Upstream `/v1/embeddings` calls the semantic cache made to look prompts up: each took
    /// quota (and is in `upstream.calls`) without answering a user.
    #[serde(default)]
    pub embedding_calls: u64,
}

/// `summary.json`'s `pool` object: what the key pool's answers cost, and how much of the load
/// the paid keys took (the figure a free-tier plan is judged by).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PoolFigures {
    /// Answers sent with a key of the pool.
    pub requests: u64,
    /// Of those, answers with a key whose `cost_per_1k_tokens` is above 0.
    pub paid_requests: u64,
    /// `paid_requests / requests` (0 with no answers).
    pub paid_share: f64,
    /// Tokens (prompt plus completion) of the pool's answers.
    pub tokens: u64,
    /// Their price: each answer's tokens / 1000 × its key's `cost_per_1k_tokens`.
    pub cost: f64,
    /// Keys rested after a 429.
    pub cooldowns: u64,
    /// Keys found spent (`insufficient_quota`), each until its day ends.
    pub spent_keys: u64,
}

impl PoolFigures {
    /// Whether there is nothing to show (no pool in the run).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// `summary.json`'s `streams` object: what the streams that broke after their first token
/// (`outcomes.stream_broken`) had delivered, and how many the retry layer started again.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamFigures {
    /// Content chunks the broken streams had delivered before they broke, summed: what users
    /// saw of answers that never finished.
    pub tokens_before_break: u64,
    /// Broken streams sent again from the start (`retry.restart_broken_streams`); each is also
    /// one of `upstream.retries`.
    pub restarts: u64,
}

/// Which part of a fleet a run was.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Fleet {
    /// Nodes in the fleet.
    pub nodes: u32,
    /// This node (absent in a merged report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<u32>,
    /// The run directories a merged report was made from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<String>,
}

/// The contents of `summary.json`: written by [`write_run`](super::write_run), read back by
/// `gauntlet report`, `compare` and `merge`. Keys are documented in `scenarios/README.md`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The scenario's `name`; `merge` refuses runs whose names differ.
    pub scenario: String,
    /// The scenario's story, so a report can be rebuilt from the run directory alone.
    #[serde(default)]
    pub description: String,
    /// The scenario's seed after any `--seed` override: rerunning with it repeats the draws.
    pub seed: u64,
    /// `real` or `sim`.
    pub mode: String,
    /// Configured duration (or until Ctrl-C), seconds.
    pub duration_s: f64,
    /// Whether Ctrl-C ended it early.
    pub interrupted: bool,
    /// User requests started, answered, failed, dropped and cut off.
    pub requests: Requests,
    /// Completed per outcome (`error` included).
    pub outcomes: BTreeMap<String, u64>,
    /// Errors per `ClientError::kind` (`rate_limited`, `server_error`, ..., and `cut_off`).
    pub error_kinds: BTreeMap<String, u64>,
    /// errors / (ok + errors).
    pub error_rate: f64,
    /// From intended start, ms.
    pub latency_ms: Percentiles,
    /// Per outcome, ms.
    pub latency_by_outcome_ms: BTreeMap<String, Percentiles>,
    /// Per priority class: latency and error rate.
    pub by_priority: BTreeMap<String, PriorityFigures>,
    /// Per API route (`chat`, `responses`, `embeddings`): requests, errors and latency. Absent
    /// when every request went to one route (that route's figures are the run's own).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_route: BTreeMap<String, RouteFigures>,
    /// Time to first token of streams that ended well, from the intended start, ms.
    pub ttft_ms: Percentiles,
    /// Time to first token from the actual send, ms.
    #[serde(default)]
    pub ttft_sent_ms: Percentiles,
    /// Time to first token from the start of the successful attempt (the stack's own), ms.
    #[serde(default)]
    pub ttft_attempt_ms: Percentiles,
    /// Every gap between content chunks of streams that ended well, ms.
    #[serde(default)]
    pub itl_ms: Percentiles,
    /// Time per output token: (e2e − TTFT) / (output tokens − 1) per stream, ms.
    #[serde(default)]
    pub tpot_ms: Percentiles,
    /// The gaps of streams that broke mid-way (kept out of `itl_ms`), ms.
    #[serde(default)]
    pub itl_broken_ms: Percentiles,
    /// Tokens in and out, their rates, and what broken streams delivered.
    #[serde(default)]
    pub tokens: TokenFigures,
    /// Goodput and attainment under `[slo]`; absent without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<SloFigures>,
    /// Attempts sent upstream, retries, and the mock's answers by status.
    pub upstream: Upstream,
    /// Upstream attempts / user requests.
    pub amplification: f64,
    /// Successful answers per second of duration.
    pub goodput_rps: f64,
    /// Offered arrivals per second (started + dropped).
    pub offered_rps: f64,
    /// Recovery per timeline event.
    pub recovery: Vec<Recovery>,
    /// Daily quota spent over the keys that have one.
    pub quota: Quota,
    /// The driver's own timing.
    pub schedule: Schedule,
    /// The limiter's figures.
    #[serde(default)]
    pub limiter: LimiterFigures,
    /// What the answer cap did.
    #[serde(default)]
    pub answer_cap: AnswerCapFigures,
    /// The cache's figures.
    #[serde(default)]
    pub cache: CacheFigures,
    /// The key pool's figures; absent for a run without `[client.pool]`.
    #[serde(default, skip_serializing_if = "PoolFigures::is_empty")]
    pub pool: PoolFigures,
    /// Streams that broke after their first token.
    #[serde(default)]
    pub streams: StreamFigures,
    /// What the mock saw the system do to it (retries, early ones, tokens resent); absent when
    /// no mock's view was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_view: Option<super::upstream_view::UpstreamViewFigures>,
    /// Set when the run was one node of a fleet, or a merge of several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet: Option<Fleet>,
    /// One result per scenario threshold, in the scenario's order; the exit code is 1 when one
    /// fails.
    pub thresholds: Vec<ThresholdResult>,
}

/// Figures per API route.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RouteFigures {
    /// Requests completed on the route (answered or failed; cut-off ones are not known to a
    /// route).
    pub requests: u64,
    /// Of them, failed.
    pub errors: u64,
    /// errors / requests.
    pub error_rate: f64,
    /// Latency from intended start, ms.
    pub latency_ms: Percentiles,
}

/// Figures per priority class.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PriorityFigures {
    /// Latency, ms.
    pub latency_ms: Percentiles,
    /// errors / completed.
    pub error_rate: f64,
}

impl Summary {
    /// A metric's value by its threshold name (ms for latencies, fractions for rates).
    pub fn metric(&self, name: &str) -> f64 {
        let total = (self.requests.ok + self.requests.errors).max(1) as f64;
        let pct = |p: &Percentiles, which: &str| match which {
            "min" => p.min,
            "mean" => p.mean,
            "p50" => p.p50,
            "p90" => p.p90,
            "p95" => p.p95,
            "p99" => p.p99,
            "p999" => p.p999,
            _ => p.max,
        };
        if let Some(v) = self.llm_metric(name) {
            return v;
        }
        if let Some((class, figure)) = crate::scenario::priority_metric(name) {
            let Some(f) = self.by_priority.get(class.as_str()) else {
                return f64::NAN;
            };
            return match figure.split_once('.') {
                Some((_, w)) => pct(&f.latency_ms, w),
                None => f.error_rate,
            };
        }
        match name.split_once('.') {
            Some(("latency", w)) => pct(&self.latency_ms, w),
            Some(("ttft", w)) => pct(&self.ttft_ms, w),
            Some(("outcomes", o)) => self.outcomes.get(o).copied().unwrap_or(0) as f64 / total,
            Some(("requests", "total")) => self.requests.total as f64,
            Some(("requests", "ok")) => self.requests.ok as f64,
            Some(("requests", "errors")) => self.requests.errors as f64,
            Some(("requests", "dropped")) => self.requests.dropped as f64,
            Some(("upstream", "calls")) => self.upstream.calls as f64,
            Some(("upstream", "calls_per_minute")) => {
                self.upstream.calls as f64 * 60.0 / self.duration_s.max(1e-9)
            }
            Some(("errors", kind)) => {
                self.error_kinds.get(kind).copied().unwrap_or(0) as f64 / total
            }
            Some(("upstream", "retries")) => self.upstream.retries as f64,
            Some(("quota", "used")) => self.quota.used.unwrap_or(0.0),
            Some(("quota", "ratio")) => self.quota.ratio.unwrap_or(0.0),
            Some(("schedule", "max_lag")) => self.schedule.lag_ms.max,
            Some(("upstream_view", w)) => self
                .upstream_view
                .as_ref()
                .map_or(f64::NAN, |v| v.metric(w)),
            _ => match name {
                "error_rate" => self.error_rate,
                "amplification" => self.amplification,
                "goodput_rps" => self.goodput_rps,
                _ => f64::NAN,
            },
        }
    }

    /// The result of one threshold on these figures.
    pub(crate) fn check(&self, metric: &MetricName, c: &Condition) -> ThresholdResult {
        let actual = self.metric(&metric.0);
        let no_data = !self.has_data(&metric.0);
        ThresholdResult {
            metric: metric.0.clone(),
            op: c.op.as_str().to_string(),
            limit: c.text.trim_start_matches(c.op.as_str()).trim().to_string(),
            actual,
            pass: !no_data && c.op.holds(actual, c.limit),
            no_data,
        }
    }

    /// Whether anything was measured for a metric: its own samples for latencies, streams,
    /// the schedule and the quota, and at least one completed request for every other.
    pub fn has_data(&self, name: &str) -> bool {
        if let Some(has) = self.llm_has_data(name) {
            return has;
        }
        if let Some((class, _)) = crate::scenario::priority_metric(name) {
            return self
                .by_priority
                .get(class.as_str())
                .is_some_and(|f| f.latency_ms.count > 0);
        }
        match name.split_once('.') {
            Some(("latency", _)) => self.latency_ms.count > 0,
            Some(("ttft", _)) => self.ttft_ms.count > 0,
            Some(("schedule", _)) => self.schedule.lag_ms.count > 0,
            Some(("quota", _)) => self.quota.used.is_some(),
            Some(("upstream_view", w)) => {
                self.upstream_view.as_ref().is_some_and(|v| v.has_data(w))
            }
            _ => self.requests.ok + self.requests.errors > 0,
        }
    }

    /// Whether every threshold holds.
    pub fn passed(&self) -> bool {
        self.thresholds.iter().all(|t| t.pass)
    }
}
