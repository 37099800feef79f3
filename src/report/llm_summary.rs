//! `summary.json`'s LLM figures: `tokens` and `slo`, the counts behind them (which add across a
//! fleet's nodes, like [`Counters`](super::counters::Counters)), the percentile fields
//! (`ttft_sent_ms`, `ttft_attempt_ms`, `itl_ms`, `tpot_ms`, `itl_broken_ms`,
//! `tokens.per_request_output_per_s`) read off histograms by name, and their threshold metrics.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::summary::{Percentiles, Summary};
use crate::record::{SloCount, TokenTotals};

/// `summary.json`'s `tokens` object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenFigures {
    /// Prompt tokens of answered requests, as the upstream reported them (0 when it did not).
    pub input: u64,
    /// Completion tokens of answered requests: usage when reported, else the stream's content
    /// chunks.
    pub output: u64,
    /// `input` / duration.
    pub input_per_s: f64,
    /// `output` / duration.
    pub output_per_s: f64,
    /// Completed requests (answered or failed) / duration.
    pub requests_per_s: f64,
    /// Each answered stream's output tokens over its latency, in tokens per second (the
    /// percentile shape, in tokens/s instead of ms).
    pub per_request_output_per_s: Percentiles,
    /// Streams that broke after their first content chunk (attempts the retry layer started
    /// again included): their content is in none of the figures above.
    pub broken_streams: u64,
    /// Content chunks those broken streams had delivered.
    pub broken_output: u64,
}

/// One class's SLO figures (a route, a priority class, a tenant).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SloClass {
    /// Requests completed.
    pub requests: u64,
    /// Of them, answered within every objective.
    pub met: u64,
    /// `met / requests` (0 without requests).
    pub attainment: f64,
    /// `met` / duration.
    pub goodput_rps: f64,
}

/// `summary.json`'s `slo` object (absent without `[slo]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SloFigures {
    /// Requests that met every objective, per second of duration.
    pub goodput_rps: f64,
    /// Share of completed requests (cut-off ones included) that met every objective.
    pub attainment: f64,
    /// Requests completed.
    pub requests: u64,
    /// Of them, answered within every objective.
    pub met: u64,
    /// Per API route.
    pub by_route: BTreeMap<String, SloClass>,
    /// Per priority class.
    pub by_priority: BTreeMap<String, SloClass>,
    /// Per tenant key (empty without tenants).
    pub by_tenant: BTreeMap<String, SloClass>,
}

/// The SLO counts of a run or a fleet, by class.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SloCounts {
    /// Overall.
    pub all: SloCount,
    /// Per route.
    pub by_route: BTreeMap<String, SloCount>,
    /// Per priority class.
    pub by_priority: BTreeMap<String, SloCount>,
    /// Per tenant.
    pub by_tenant: BTreeMap<String, SloCount>,
}

/// The LLM counts of a summary, which add across nodes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LlmCounters {
    /// Prompt tokens.
    pub input: u64,
    /// Completion tokens.
    pub output: u64,
    /// Broken streams.
    pub broken_streams: u64,
    /// Their content chunks.
    pub broken_output: u64,
    /// SLO counts; `None` when the scenario has no `[slo]`.
    pub slo: Option<SloCounts>,
}

fn add_counts(into: &mut BTreeMap<String, SloCount>, from: &BTreeMap<String, SloCount>) {
    for (k, v) in from {
        let e = into.entry(k.clone()).or_default();
        e.requests += v.requests;
        e.met += v.met;
    }
}

fn ratio(n: u64, d: u64) -> f64 {
    if d == 0 {
        0.0
    } else {
        n as f64 / d as f64
    }
}

fn class(c: &SloCount, secs: f64) -> SloClass {
    SloClass {
        requests: c.requests,
        met: c.met,
        attainment: ratio(c.met, c.requests),
        goodput_rps: c.met as f64 / secs,
    }
}

fn classes(m: &BTreeMap<String, SloCount>, secs: f64) -> BTreeMap<String, SloClass> {
    m.iter().map(|(k, c)| (k.clone(), class(c, secs))).collect()
}

fn counts(m: &BTreeMap<String, SloClass>) -> BTreeMap<String, SloCount> {
    m.iter()
        .map(|(k, c)| {
            let n = SloCount {
                requests: c.requests,
                met: c.met,
            };
            (k.clone(), n)
        })
        .collect()
}

impl LlmCounters {
    /// The counts of a run that just ended; `slo` says whether the scenario has `[slo]`.
    pub fn of_run(t: &TokenTotals, slo: bool) -> Self {
        let named = |m: &BTreeMap<&'static str, SloCount>| {
            m.iter().map(|(k, v)| (k.to_string(), *v)).collect()
        };
        Self {
            input: t.input,
            output: t.output,
            broken_streams: t.broken_streams,
            broken_output: t.broken_output,
            slo: slo.then(|| SloCounts {
                all: t.slo.all,
                by_route: named(&t.slo.by_route),
                by_priority: named(&t.slo.by_priority),
                by_tenant: t.slo.by_tenant.clone(),
            }),
        }
    }

    /// The counts a summary holds.
    pub fn of_summary(s: &Summary) -> Self {
        Self {
            input: s.tokens.input,
            output: s.tokens.output,
            broken_streams: s.tokens.broken_streams,
            broken_output: s.tokens.broken_output,
            slo: s.slo.as_ref().map(|f| SloCounts {
                all: SloCount {
                    requests: f.requests,
                    met: f.met,
                },
                by_route: counts(&f.by_route),
                by_priority: counts(&f.by_priority),
                by_tenant: counts(&f.by_tenant),
            }),
        }
    }

    /// Adds another node's counts.
    pub fn add(&mut self, o: &LlmCounters) {
        self.input += o.input;
        self.output += o.output;
        self.broken_streams += o.broken_streams;
        self.broken_output += o.broken_output;
        if let Some(theirs) = &o.slo {
            let mine = self.slo.get_or_insert_with(SloCounts::default);
            mine.all.requests += theirs.all.requests;
            mine.all.met += theirs.all.met;
            add_counts(&mut mine.by_route, &theirs.by_route);
            add_counts(&mut mine.by_priority, &theirs.by_priority);
            add_counts(&mut mine.by_tenant, &theirs.by_tenant);
        }
    }

    /// Writes the counts and every rate derived from them over `secs` into `s` (whose
    /// `requests` are already set).
    pub fn apply(&self, s: &mut Summary, secs: f64) {
        let t = &mut s.tokens;
        t.input = self.input;
        t.output = self.output;
        t.input_per_s = self.input as f64 / secs;
        t.output_per_s = self.output as f64 / secs;
        t.requests_per_s = (s.requests.ok + s.requests.errors) as f64 / secs;
        t.broken_streams = self.broken_streams;
        t.broken_output = self.broken_output;
        s.slo = self.slo.as_ref().map(|c| {
            let all = class(&c.all, secs);
            SloFigures {
                goodput_rps: all.goodput_rps,
                attainment: all.attainment,
                requests: all.requests,
                met: all.met,
                by_route: classes(&c.by_route, secs),
                by_priority: classes(&c.by_priority, secs),
                by_tenant: classes(&c.by_tenant, secs),
            }
        });
    }
}

/// The whole-run histograms of the LLM figures by their `histograms.hlog` name.
pub fn named_histograms(t: &TokenTotals) -> [(&'static str, &Histogram<u64>); 6] {
    [
        ("ttft_sent", &t.ttft_sent),
        ("ttft_attempt", &t.ttft_attempt),
        ("itl", &t.itl),
        ("tpot", &t.tpot),
        ("itl_broken", &t.itl_broken),
        ("tokens_per_s", &t.tokens_per_s),
    ]
}

/// Sets the percentile fields from histograms found by name (`None`: nothing recorded).
pub fn apply_percentiles<'a>(s: &mut Summary, hist: impl Fn(&str) -> Option<&'a Histogram<u64>>) {
    let pct = |name: &str| hist(name).map(Percentiles::of).unwrap_or_default();
    s.ttft_sent_ms = pct("ttft_sent");
    s.ttft_attempt_ms = pct("ttft_attempt");
    s.itl_ms = pct("itl");
    s.tpot_ms = pct("tpot");
    s.itl_broken_ms = pct("itl_broken");
    s.tokens.per_request_output_per_s = pct("tokens_per_s");
}

/// A percentile by its threshold suffix.
fn pick(p: &Percentiles, which: &str) -> f64 {
    match which {
        "min" => p.min,
        "mean" => p.mean,
        "p50" => p.p50,
        "p90" => p.p90,
        "p95" => p.p95,
        "p99" => p.p99,
        "p999" => p.p999,
        _ => p.max,
    }
}

impl Summary {
    /// An LLM metric's value (`itl.p99`, `tpot.p50`, `tokens.output_per_s`, `slo.goodput`,
    /// `slo.attainment`); `None` for a name that is not one.
    pub fn llm_metric(&self, name: &str) -> Option<f64> {
        let (head, tail) = name.split_once('.')?;
        Some(match (head, tail) {
            ("itl", w) => pick(&self.itl_ms, w),
            ("tpot", w) => pick(&self.tpot_ms, w),
            ("tokens", "input") => self.tokens.input as f64,
            ("tokens", "output") => self.tokens.output as f64,
            ("tokens", "output_per_s") => self.tokens.output_per_s,
            ("slo", "goodput") => self.slo.as_ref().map_or(0.0, |s| s.goodput_rps),
            ("slo", "attainment") => self.slo.as_ref().map_or(0.0, |s| s.attainment),
            _ => return None,
        })
    }

    /// Whether an LLM metric had data: gaps for `itl`, TPOTs for `tpot`, a completed request
    /// under `[slo]` for `slo`; `None` for a name that is not one.
    pub fn llm_has_data(&self, name: &str) -> Option<bool> {
        let (head, _) = name.split_once('.')?;
        Some(match head {
            "itl" => self.itl_ms.count > 0,
            "tpot" => self.tpot_ms.count > 0,
            "slo" => self.slo.as_ref().is_some_and(|s| s.requests > 0),
            "tokens" => self.requests.ok + self.requests.errors > 0,
            _ => return None,
        })
    }
}
