//! The summary table printed at the end of a run.

use std::io::{self, Write};

use super::summary::{Summary, ThresholdResult};

/// Writes a human-readable summary with threshold results.
pub fn write_table<W: Write>(s: &Summary, mut out: W) -> io::Result<()> {
    let r = &s.requests;
    let l = &s.latency_ms;
    writeln!(
        out,
        "scenario {} (seed {}, {}, {:.1} s{})",
        s.scenario,
        s.seed,
        s.mode,
        s.duration_s,
        if s.interrupted { ", interrupted" } else { "" }
    )?;
    writeln!(
        out,
        "requests  {} started, {} ok, {} errors ({:.2} %), {} dropped, {} cut off",
        r.total,
        r.ok,
        r.errors,
        s.error_rate * 100.0,
        r.dropped,
        r.cut_off
    )?;
    writeln!(
        out,
        "latency   p50 {:.1} ms  p90 {:.1}  p95 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}  (from intended start)",
        l.p50, l.p90, l.p95, l.p99, l.p999, l.max
    )?;
    writeln!(
        out,
        "          p50 {:.1} ms  p99 {:.1}  (from actual send); schedule lag p99 {:.1} ms, max {:.1}",
        s.schedule.service_ms.p50, s.schedule.service_ms.p99, s.schedule.lag_ms.p99, s.schedule.lag_ms.max
    )?;
    for (route, f) in &s.by_route {
        writeln!(
            out,
            "route     {route}: {} requests, {} errors ({:.2} %), p50 {:.1} ms, p99 {:.1}",
            f.requests,
            f.errors,
            f.error_rate * 100.0,
            f.latency_ms.p50,
            f.latency_ms.p99
        )?;
    }
    super::llm_table::write_lines(s, &mut out)?;
    let outcomes: Vec<String> = s
        .outcomes
        .iter()
        .filter(|(_, v)| **v > 0)
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    writeln!(out, "outcomes  {}", outcomes.join(", "))?;
    if !s.error_kinds.is_empty() {
        let kinds: Vec<String> = s
            .error_kinds
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        writeln!(out, "errors    {}", kinds.join(", "))?;
    }
    writeln!(
        out,
        "upstream  {} calls, {} retries, amplification {:.2}, goodput {:.2}/s of {:.2}/s offered",
        s.upstream.calls, s.upstream.retries, s.amplification, s.goodput_rps, s.offered_rps
    )?;
    if let Some(v) = &s.upstream_view {
        writeln!(out, "upstream view  {}", v.line())?;
    }
    let broken = s
        .outcomes
        .get(crate::record::Outcome::StreamBroken.name())
        .copied()
        .unwrap_or(0);
    if broken > 0 || s.streams.restarts > 0 {
        writeln!(
            out,
            "streams   {broken} broke after their first token ({} content chunks delivered before), {} restarted from the start",
            s.streams.tokens_before_break, s.streams.restarts
        )?;
    }
    if let Some(f) = &s.fleet {
        match f.node_id {
            Some(id) => writeln!(out, "fleet     node {id} of {} (0-based)", f.nodes)?,
            None => writeln!(out, "fleet     {} nodes merged", f.nodes)?,
        }
    }
    if s.limiter.fallback_decisions > 0 {
        writeln!(
            out,
            "limiter   {} decisions by the local share while Redis was unreachable",
            s.limiter.fallback_decisions
        )?;
    }
    if s.answer_cap.capped > 0 {
        writeln!(
            out,
            "quota     {} answers capped (token quota low)",
            s.answer_cap.capped
        )?;
    }
    if s.limiter.deferred + s.limiter.deferrals_expired > 0 {
        writeln!(
            out,
            "quota     {} batch requests deferred, {} deferrals expired",
            s.limiter.deferred, s.limiter.deferrals_expired
        )?;
    }
    if s.cache.shared_errors > 0 {
        writeln!(
            out,
            "cache     {} shared-cache operations failed (those requests went on without it)",
            s.cache.shared_errors
        )?;
    }
    if s.cache.embedding_calls > 0 {
        writeln!(
            out,
            "cache     {} embeddings calls for semantic lookups (quota spent, no answer)",
            s.cache.embedding_calls
        )?;
    }
    for rec in &s.recovery {
        match rec.recovered_after_s {
            Some(t) => writeln!(
                out,
                "recovery  {} at {:.1} s: recovered {:.1} s after it ended",
                rec.event, rec.at_s, t
            )?,
            None => writeln!(
                out,
                "recovery  {} at {:.1} s: did not recover",
                rec.event, rec.at_s
            )?,
        }
    }
    for t in &s.thresholds {
        writeln!(
            out,
            "{}  {} {} {} (actual {})",
            if t.pass { "PASS" } else { "FAIL" },
            t.metric,
            t.op,
            t.limit,
            threshold_actual(t)
        )?;
    }
    Ok(())
}

/// A threshold's measured value as reports show it: "no data" when nothing was measured.
pub fn threshold_actual(t: &ThresholdResult) -> String {
    if t.no_data {
        "no data".to_string()
    } else {
        format_actual(&t.metric, t.actual)
    }
}

/// A metric value in the unit its threshold is written in.
pub fn format_actual(metric: &str, v: f64) -> String {
    // A priority class's figure is shown as the figure itself is.
    let metric = crate::scenario::priority_metric(metric).map_or(metric, |(_, figure)| figure);
    if metric.starts_with("latency.")
        || metric.starts_with("ttft.")
        || metric.starts_with("itl.")
        || metric.starts_with("tpot.")
        || metric == "schedule.max_lag"
    {
        format!("{v:.1}ms")
    } else if metric == "error_rate"
        || metric.starts_with("outcomes.")
        || metric.starts_with("errors.")
        || metric == "quota.ratio"
        || metric == "slo.attainment"
    {
        format!("{:.2}%", v * 100.0)
    } else if metric == "goodput_rps" || metric == "slo.goodput" || metric == "tokens.output_per_s"
    {
        format!("{v:.2}/s")
    } else if v.fract() == 0.0 {
        format!("{v}")
    } else {
        format!("{v:.2}")
    }
}
