//! A run's summary from what it recorded: the counts through `Counters`, the percentiles
//! from the totals' histograms, recovery times, the quota and the thresholds. Apart from
//! `summary.rs`, which is the shape alone, so the counters can use that shape without a circle.

use std::collections::BTreeMap;

use mock_upstream::faults::engine::KeyUsage;

use super::counters::Counters;
use super::llm_summary::{self, LlmCounters};
use super::summary::{
    CacheFigures, LimiterFigures, Percentiles, Quota, Requests, Schedule, Summary, Upstream,
};
use crate::record::RunResult;
use crate::scenario::Scenario;

impl Summary {
    /// Builds the summary of a run.
    pub fn build(scenario: &Scenario, run: &RunResult, mode: &str) -> Self {
        let t = &run.totals;
        let secs = run.duration.as_secs_f64().max(1e-9);
        let counters = Counters::of_run(run);
        let mut summary = Summary {
            scenario: scenario.name.clone(),
            description: scenario.description.trim().to_string(),
            seed: run.seed,
            mode: mode.to_string(),
            duration_s: secs,
            interrupted: run.interrupted,
            requests: Requests::default(),
            outcomes: BTreeMap::new(),
            error_kinds: BTreeMap::new(),
            error_rate: 0.0,
            latency_ms: Percentiles::of(&t.latency),
            latency_by_outcome_ms: t
                .by_outcome
                .iter()
                .map(|(k, h)| (k.to_string(), Percentiles::of(h)))
                .collect(),
            by_priority: t
                .by_priority
                .iter()
                .map(|(k, (h, _))| (k.to_string(), counters.priority_figures(k, h)))
                .collect(),
            by_route: if t.by_route.len() > 1 {
                t.by_route
                    .iter()
                    .map(|(k, (h, _))| (k.to_string(), counters.route_figures(k, h)))
                    .collect()
            } else {
                BTreeMap::new()
            },
            ttft_ms: Percentiles::of(&t.ttft),
            ttft_sent_ms: Percentiles::default(),
            ttft_attempt_ms: Percentiles::default(),
            itl_ms: Percentiles::default(),
            tpot_ms: Percentiles::default(),
            itl_broken_ms: Percentiles::default(),
            tokens: Default::default(),
            slo: None,
            upstream: Upstream::default(),
            amplification: 0.0,
            goodput_rps: 0.0,
            offered_rps: 0.0,
            recovery: super::recovery::recoveries(run),
            quota: quota_of_keys(&run.mock_keys),
            schedule: Schedule {
                lag_ms: Percentiles::of(&t.lag),
                service_ms: Percentiles::of(&t.service),
            },
            limiter: LimiterFigures::default(),
            answer_cap: super::summary::AnswerCapFigures::default(),
            cache: CacheFigures::default(),
            pool: Default::default(),
            streams: Default::default(),
            upstream_view: run.upstream_view.as_ref().map(|v| {
                let elapsed = run.elapsed.as_secs_f64();
                super::upstream_view::UpstreamViewFigures::of(v, t.started, elapsed)
            }),
            fleet: None,
            thresholds: Vec::new(),
        };
        counters.apply(&mut summary, secs);
        LlmCounters::of_run(&t.tokens, scenario.slo.is_some()).apply(&mut summary, secs);
        let named = llm_summary::named_histograms(&t.tokens);
        llm_summary::apply_percentiles(&mut summary, |n| {
            named.iter().find(|(k, _)| *k == n).map(|(_, h)| *h)
        });
        summary.thresholds = scenario
            .thresholds
            .iter()
            .map(|(m, c)| summary.check(m, c))
            .collect();
        summary
    }
}

/// The daily quota over every key the embedded mock accounted, if any key has one.
fn quota_of_keys(keys: &[KeyUsage]) -> Quota {
    let limits: Vec<(u64, f64)> = keys
        .iter()
        .filter_map(|k| k.quota_limit.map(|l| (u64::from(l), k.quota_used)))
        .collect();
    if limits.is_empty() {
        return Quota::default();
    }
    let limit: u64 = limits.iter().map(|l| l.0).sum();
    let used: f64 = limits.iter().map(|l| l.1).sum();
    Quota {
        limit_per_day: Some(limit),
        used: Some((used * 100.0).round() / 100.0),
        ratio: Some(if limit == 0 { 0.0 } else { used / limit as f64 }),
    }
}
