//! `summary.md`: the run's figures as a Markdown table, fit for a CI job summary
//! (`cat summary.md >> $GITHUB_STEP_SUMMARY`).

use std::io::{self, Write};

use super::summary::Summary;
use super::table::threshold_actual;

/// Writes the Markdown summary.
pub fn write_markdown<W: Write>(s: &Summary, mut out: W) -> io::Result<()> {
    let verdict = if s.passed() { "passed" } else { "FAILED" };
    writeln!(out, "## Gauntlet: {} ({verdict})\n", s.scenario)?;
    writeln!(
        out,
        "Seed {}, {} mode, {:.1} s{}.\n",
        s.seed,
        s.mode,
        s.duration_s,
        if s.interrupted { ", interrupted" } else { "" }
    )?;
    writeln!(out, "| metric | value |\n| --- | --- |")?;
    let l = &s.latency_ms;
    let rows = [
        (
            "requests",
            format!(
                "{} ({} ok, {} errors, {} dropped)",
                s.requests.total, s.requests.ok, s.requests.errors, s.requests.dropped
            ),
        ),
        ("error rate", format!("{:.2} %", s.error_rate * 100.0)),
        (
            "latency p50 / p95 / p99 / max",
            format!(
                "{:.1} / {:.1} / {:.1} / {:.1} ms",
                l.p50, l.p95, l.p99, l.max
            ),
        ),
        (
            "goodput / offered",
            format!("{:.2} / {:.2} req/s", s.goodput_rps, s.offered_rps),
        ),
        (
            "upstream calls (retries)",
            format!("{} ({})", s.upstream.calls, s.upstream.retries),
        ),
        ("amplification", format!("{:.2}", s.amplification)),
    ];
    for (k, v) in rows {
        writeln!(out, "| {k} | {v} |")?;
    }
    if let Some(v) = &s.upstream_view {
        writeln!(out, "| upstream's view | {} |", v.line())?;
    }
    for (k, v) in super::llm_table::markdown_rows(s) {
        writeln!(out, "| {k} | {v} |")?;
    }
    for (route, f) in &s.by_route {
        writeln!(
            out,
            "| route {route}: requests (errors), p50 / p99 | {} ({}), {:.1} / {:.1} ms |",
            f.requests, f.errors, f.latency_ms.p50, f.latency_ms.p99
        )?;
    }
    for (k, v) in s.outcomes.iter().filter(|(_, v)| **v > 0) {
        writeln!(out, "| outcome {k} | {v} |")?;
    }
    if let Some(f) = &s.fleet {
        let v = f.node_id.map_or(format!("{} nodes merged", f.nodes), |id| {
            format!("node {id} of {}", f.nodes)
        });
        writeln!(out, "| fleet | {v} |")?;
    }
    if s.limiter.fallback_decisions > 0 {
        writeln!(
            out,
            "| limiter decisions by the local share (Redis unreachable) | {} |",
            s.limiter.fallback_decisions
        )?;
    }
    if s.answer_cap.capped > 0 {
        writeln!(
            out,
            "| answers capped (token quota low) | {} |",
            s.answer_cap.capped
        )?;
    }
    if s.limiter.deferred + s.limiter.deferrals_expired > 0 {
        writeln!(
            out,
            "| batch requests deferred / deferral expired | {} / {} |",
            s.limiter.deferred, s.limiter.deferrals_expired
        )?;
    }
    if s.cache.shared_errors > 0 {
        writeln!(
            out,
            "| shared-cache operations that failed | {} |",
            s.cache.shared_errors
        )?;
    }
    if s.pool.requests > 0 {
        let p = &s.pool;
        writeln!(
            out,
            "| key pool | {} answers, {:.1} % on paid keys, cost {:.4}, {} cooldowns, {} keys spent |",
            p.requests,
            p.paid_share * 100.0,
            p.cost,
            p.cooldowns,
            p.spent_keys
        )?;
    }
    if s.cache.embedding_calls > 0 {
        writeln!(
            out,
            "| embeddings calls for semantic-cache lookups (quota, no answer) | {} |",
            s.cache.embedding_calls
        )?;
    }
    for r in &s.recovery {
        let v = r
            .recovered_after_s
            .map_or("did not recover".to_string(), |t| {
                format!("{t:.1} s after it ended")
            });
        writeln!(
            out,
            "| recovery from {} at {:.1} s | {v} |",
            r.event, r.at_s
        )?;
    }
    if !s.thresholds.is_empty() {
        writeln!(
            out,
            "\n| threshold | actual | result |\n| --- | --- | --- |"
        )?;
        for t in &s.thresholds {
            writeln!(
                out,
                "| `{} {} {}` | {} | {} |",
                t.metric,
                t.op,
                t.limit,
                threshold_actual(t),
                if t.pass { "pass" } else { "**fail**" }
            )?;
        }
    }
    Ok(())
}
