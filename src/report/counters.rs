//! The counts of a run that add across the nodes of a fleet, and the one function that derives
//! `summary.json`'s rates from them: a run's summary and a merged fleet's are computed the same
//! way, so the two can never drift apart.

use std::collections::BTreeMap;
use std::ops::AddAssign;

use hdrhistogram::Histogram;

use super::summary::{
    CacheFigures, LimiterFigures, Percentiles, PoolFigures, PriorityFigures, Requests,
    RouteFigures, StreamFigures, Summary, Upstream,
};
use crate::record::{Outcome, RunResult};

/// Everything in a summary that is a count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counters {
    /// Requests started, answered, failed, dropped and cut off.
    pub requests: Requests,
    /// Completed per outcome name, every outcome present (`error` included).
    pub outcomes: BTreeMap<String, u64>,
    /// Errors per kind.
    pub error_kinds: BTreeMap<String, u64>,
    /// Upstream attempts, retries and the mock's answers by status.
    pub upstream: Upstream,
    /// Limiter decisions taken locally because the shared limiter was unreachable.
    pub limiter_fallbacks: u64,
    /// Shared cache operations that failed.
    pub shared_cache_errors: u64,
    /// Requests the answer cap shortened.
    pub answers_capped: u64,
    /// Batch requests deferred, then sent.
    pub deferred: u64,
    /// Batch requests whose deferral ran out.
    pub deferrals_expired: u64,
    /// Upstream embeddings calls made by the semantic cache.
    pub embedding_calls: u64,
    /// Errors per priority class.
    pub priority_errors: BTreeMap<String, u64>,
    /// What broken streams delivered, and their restarts.
    pub streams: StreamFigures,
    /// Errors per API route.
    pub route_errors: BTreeMap<String, u64>,
    /// The key pool's answers and cost (`paid_share` is derived in [`Counters::apply`]).
    pub pool: PoolFigures,
}

fn add_maps(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (k, v) in from {
        *into.entry(k.clone()).or_insert(0) += v;
    }
}

impl AddAssign<&Counters> for Counters {
    fn add_assign(&mut self, o: &Counters) {
        let (r, q) = (&mut self.requests, &o.requests);
        r.total += q.total;
        r.ok += q.ok;
        r.errors += q.errors;
        r.dropped += q.dropped;
        r.cut_off += q.cut_off;
        add_maps(&mut self.outcomes, &o.outcomes);
        add_maps(&mut self.error_kinds, &o.error_kinds);
        self.upstream.calls += o.upstream.calls;
        self.upstream.retries += o.upstream.retries;
        add_maps(&mut self.upstream.status_counts, &o.upstream.status_counts);
        self.upstream.panics += o.upstream.panics;
        self.limiter_fallbacks += o.limiter_fallbacks;
        self.shared_cache_errors += o.shared_cache_errors;
        self.answers_capped += o.answers_capped;
        self.deferred += o.deferred;
        self.deferrals_expired += o.deferrals_expired;
        self.embedding_calls += o.embedding_calls;
        add_maps(&mut self.priority_errors, &o.priority_errors);
        self.streams.tokens_before_break += o.streams.tokens_before_break;
        self.streams.restarts += o.streams.restarts;
        add_maps(&mut self.route_errors, &o.route_errors);
        let (p, q) = (&mut self.pool, &o.pool);
        p.requests += q.requests;
        p.paid_requests += q.paid_requests;
        p.tokens += q.tokens;
        p.cost += q.cost;
        p.cooldowns += q.cooldowns;
        p.spent_keys += q.spent_keys;
    }
}

/// `n / d`, 0 when nothing was counted.
fn ratio(n: u64, d: u64) -> f64 {
    if d == 0 {
        0.0
    } else {
        n as f64 / d as f64
    }
}

impl Counters {
    /// The counts of a run that just ended.
    pub fn of_run(run: &RunResult) -> Self {
        let t = &run.totals;
        Self {
            requests: Requests {
                total: t.started,
                ok: t.ok,
                errors: t.errors,
                dropped: t.dropped,
                cut_off: t.cut_off,
            },
            outcomes: Outcome::ALL
                .iter()
                .map(|o| (o.name().to_string(), t.outcomes[o.index()]))
                .collect(),
            error_kinds: t
                .error_kinds
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            upstream: Upstream {
                calls: t.attempts,
                retries: t.retries,
                status_counts: run
                    .mock_stats
                    .as_ref()
                    .map(|s| s.by_status.clone())
                    .unwrap_or_default(),
                panics: run.mock_stats.as_ref().map_or(0, |s| s.panics),
            },
            limiter_fallbacks: t.limiter_fallbacks,
            shared_cache_errors: t.shared_cache_errors,
            answers_capped: t.answers_capped,
            deferred: t.deferred,
            deferrals_expired: t.deferrals_expired,
            embedding_calls: t.embedding_calls,
            priority_errors: t
                .by_priority
                .iter()
                .map(|(k, (_, errors))| (k.to_string(), *errors))
                .collect(),
            streams: StreamFigures {
                tokens_before_break: t.stream_broken_tokens,
                restarts: t.stream_restarts,
            },
            route_errors: t
                .by_route
                .iter()
                .map(|(k, (_, errors))| (k.to_string(), *errors))
                .collect(),
            pool: PoolFigures {
                requests: t.pool.requests,
                paid_requests: t.pool.paid_requests,
                paid_share: 0.0,
                tokens: t.pool.tokens,
                cost: t.pool.cost,
                cooldowns: t.pool.cooldowns,
                spent_keys: t.pool.spent,
            },
        }
    }

    /// The counts a summary holds. A class's errors are its error rate times its count: exact,
    /// because the rate was written as `errors / count` with every digit it needs to read back
    /// as the same number (serde_json writes the shortest text that round-trips).
    pub fn of_summary(s: &Summary) -> Self {
        Self {
            requests: s.requests.clone(),
            outcomes: s.outcomes.clone(),
            error_kinds: s.error_kinds.clone(),
            upstream: s.upstream.clone(),
            limiter_fallbacks: s.limiter.fallback_decisions,
            shared_cache_errors: s.cache.shared_errors,
            answers_capped: s.answer_cap.capped,
            deferred: s.limiter.deferred,
            deferrals_expired: s.limiter.deferrals_expired,
            embedding_calls: s.cache.embedding_calls,
            priority_errors: s
                .by_priority
                .iter()
                .map(|(k, p)| {
                    (
                        k.clone(),
                        (p.error_rate * p.latency_ms.count as f64).round() as u64,
                    )
                })
                .collect(),
            streams: s.streams.clone(),
            route_errors: s
                .by_route
                .iter()
                .map(|(k, r)| (k.clone(), r.errors))
                .collect(),
            pool: s.pool.clone(),
        }
    }

    /// Writes the counts into `s`, and every rate derived from them over `secs` of run.
    pub fn apply(&self, s: &mut Summary, secs: f64) {
        let r = &self.requests;
        s.requests = r.clone();
        s.outcomes = self.outcomes.clone();
        s.error_kinds = self.error_kinds.clone();
        s.upstream = self.upstream.clone();
        s.streams = self.streams.clone();
        s.limiter = LimiterFigures {
            fallback_decisions: self.limiter_fallbacks,
            deferred: self.deferred,
            deferrals_expired: self.deferrals_expired,
        };
        s.answer_cap = super::summary::AnswerCapFigures {
            capped: self.answers_capped,
        };
        s.cache = CacheFigures {
            shared_errors: self.shared_cache_errors,
            embedding_calls: self.embedding_calls,
        };
        s.pool = PoolFigures {
            paid_share: ratio(self.pool.paid_requests, self.pool.requests),
            ..self.pool.clone()
        };
        s.error_rate = ratio(r.errors, r.ok + r.errors);
        s.amplification = ratio(self.upstream.calls, r.total);
        s.goodput_rps = r.ok as f64 / secs;
        s.offered_rps = (r.total + r.dropped) as f64 / secs;
    }

    /// A route's figures: its requests (its latencies), errors and latency.
    pub fn route_figures(&self, route: &str, latency: &Histogram<u64>) -> RouteFigures {
        let errors = self.route_errors.get(route).copied().unwrap_or(0);
        RouteFigures {
            requests: latency.len(),
            errors,
            error_rate: ratio(errors, latency.len()),
            latency_ms: Percentiles::of(latency),
        }
    }

    /// A priority class's figures: its latency, and its errors over its completed requests.
    pub fn priority_figures(&self, class: &str, latency: &Histogram<u64>) -> PriorityFigures {
        let errors = self.priority_errors.get(class).copied().unwrap_or(0);
        PriorityFigures {
            latency_ms: Percentiles::of(latency),
            error_rate: ratio(errors, latency.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_field_by_field_and_rates_follow() {
        let mut a = Counters {
            requests: Requests {
                total: 10,
                ok: 8,
                errors: 2,
                dropped: 1,
                cut_off: 1,
            },
            priority_errors: [("batch".to_string(), 2)].into(),
            ..Counters::default()
        };
        a.upstream.calls = 15;
        a.outcomes.insert("error".into(), 2);
        let mut b = a.clone();
        b.outcomes.insert("cache_hit".into(), 3);
        a += &b;
        assert_eq!(a.requests.total, 20);
        assert_eq!(a.outcomes["error"], 4);
        assert_eq!(a.outcomes["cache_hit"], 3);
        assert_eq!(a.priority_errors["batch"], 4);
        let mut s: Summary =
            serde_json::from_str(include_str!("../../reports/example/summary.json")).unwrap();
        a.apply(&mut s, 2.0);
        assert_eq!(s.error_rate, 4.0 / 20.0);
        assert_eq!(s.amplification, 30.0 / 20.0);
        assert_eq!((s.goodput_rps, s.offered_rps), (8.0, 11.0));
    }

    #[test]
    fn a_summary_gives_back_its_class_errors_exactly() {
        let mut s: Summary =
            serde_json::from_str(include_str!("../../reports/example/summary.json")).unwrap();
        let mut h = crate::record::new_histogram();
        for v in 1..=7919u64 {
            h.record(v).unwrap();
        }
        let counters = Counters {
            priority_errors: [("interactive".to_string(), 4099)].into(),
            ..Counters::default()
        };
        let figures = counters.priority_figures("interactive", &h);
        s.by_priority = [("interactive".to_string(), figures)].into();
        let text = serde_json::to_string(&s).unwrap();
        let back: Summary = serde_json::from_str(&text).unwrap();
        assert_eq!(
            Counters::of_summary(&back).priority_errors["interactive"],
            4099
        );
    }
}
