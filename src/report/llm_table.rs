//! The LLM lines of the terminal table and rows of `summary.md`: TTFT, inter-token latency,
//! TPOT, tokens and SLO goodput. Shown only when there is something to show (a run without
//! streams or tokens prints what it always did).

use std::io::{self, Write};

use super::llm_summary::SloClass;
use super::summary::Summary;

fn streamed(s: &Summary) -> bool {
    s.ttft_ms.count > 0 || s.tokens.output > 0 || s.tokens.broken_streams > 0
}

fn classes(m: &std::collections::BTreeMap<String, SloClass>, what: &str) -> Vec<String> {
    m.iter()
        .map(|(k, c)| format!("{what} {k} {:.1} %", c.attainment * 100.0))
        .collect()
}

/// Writes the terminal table's LLM lines.
pub fn write_lines<W: Write>(s: &Summary, mut out: W) -> io::Result<()> {
    if streamed(s) {
        let (t, sent, own) = (&s.ttft_ms, &s.ttft_sent_ms, &s.ttft_attempt_ms);
        writeln!(
            out,
            "ttft      p50 {:.1} ms  p99 {:.1}  (from intended start); from send p50 {:.1}  p99 {:.1}; the successful attempt's p50 {:.1}  p99 {:.1}",
            t.p50, t.p99, sent.p50, sent.p99, own.p50, own.p99
        )?;
        writeln!(
            out,
            "itl       p50 {:.1} ms  p99 {:.1}  max {:.1}; tpot p50 {:.1} ms  p99 {:.1}",
            s.itl_ms.p50, s.itl_ms.p99, s.itl_ms.max, s.tpot_ms.p50, s.tpot_ms.p99
        )?;
        let k = &s.tokens;
        writeln!(
            out,
            "tokens    {} in, {} out ({:.1}/s out, {:.2} requests/s); {} broken streams ({} chunks) kept apart",
            k.input, k.output, k.output_per_s, k.requests_per_s, k.broken_streams, k.broken_output
        )?;
    }
    if let Some(slo) = &s.slo {
        let mut by = classes(&slo.by_route, "route");
        by.extend(classes(&slo.by_priority, "priority"));
        by.extend(classes(&slo.by_tenant, "tenant"));
        writeln!(
            out,
            "slo       goodput {:.2}/s, attainment {:.2} % ({} of {} met){}{}",
            slo.goodput_rps,
            slo.attainment * 100.0,
            slo.met,
            slo.requests,
            if by.is_empty() { "" } else { "; " },
            by.join(", ")
        )?;
    }
    Ok(())
}

/// The `summary.md` rows of the LLM figures, as (metric, value).
pub fn markdown_rows(s: &Summary) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    if streamed(s) {
        let p = |p: &super::summary::Percentiles| format!("{:.1} / {:.1} ms", p.p50, p.p99);
        rows.push(("TTFT p50 / p99 (from intended start)".into(), p(&s.ttft_ms)));
        rows.push(("inter-token latency p50 / p99".into(), p(&s.itl_ms)));
        rows.push(("time per output token p50 / p99".into(), p(&s.tpot_ms)));
        let k = &s.tokens;
        rows.push((
            "tokens in / out (out per s)".into(),
            format!("{} / {} ({:.1}/s)", k.input, k.output, k.output_per_s),
        ));
        if k.broken_streams > 0 {
            rows.push((
                "broken streams (their chunks, kept apart)".into(),
                format!("{} ({})", k.broken_streams, k.broken_output),
            ));
        }
    }
    if let Some(slo) = &s.slo {
        rows.push((
            "SLO goodput / attainment".into(),
            format!(
                "{:.2} req/s / {:.2} %",
                slo.goodput_rps,
                slo.attainment * 100.0
            ),
        ));
        let all = [
            ("route", &slo.by_route),
            ("priority", &slo.by_priority),
            ("tenant", &slo.by_tenant),
        ];
        for (what, m) in all {
            for (k, c) in m {
                rows.push((
                    format!("SLO attainment, {what} {k}"),
                    format!(
                        "{:.2} % ({} of {})",
                        c.attainment * 100.0,
                        c.met,
                        c.requests
                    ),
                ));
            }
        }
    }
    rows
}
