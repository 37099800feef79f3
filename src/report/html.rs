//! `report.html`: one self-contained file — the scenario's story, the summary table, thresholds
//! pass/fail, every chart as inline SVG, and the fault timeline. Inline CSS, no network.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::charts::{svg, ChartData, CHARTS};
use super::summary::Summary;
use super::table::threshold_actual;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Writes the HTML report.
pub fn write_html<W: Write>(
    s: &Summary,
    description: &str,
    data: &ChartData,
    mut out: W,
) -> io::Result<()> {
    let mut h = String::new();
    let verdict = if s.passed() {
        ("passed", "pass")
    } else {
        ("FAILED", "fail")
    };
    let _ = write!(
        h,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Gauntlet: {name}</title>
<style>
body {{ font-family: sans-serif; margin: 2em auto; max-width: 1040px; color: #222; }}
h1 {{ margin-bottom: 0.2em; }} .story {{ white-space: pre-wrap; color: #444; }}
table {{ border-collapse: collapse; margin: 1em 0; }} td, th {{ border: 1px solid #ccc; padding: 4px 10px; text-align: left; }}
th {{ background: #f3f3f3; }} .pass {{ color: #176a17; font-weight: bold; }} .fail {{ color: #b00; font-weight: bold; }}
figure {{ margin: 1.5em 0; }} svg {{ max-width: 100%; height: auto; }}
</style></head><body>
<h1>{name} <span class="{class}">{verdict}</span></h1>
<p>Seed {seed}, {mode} mode, {dur:.1} s{interrupted}.</p>
<p class="story">{story}</p>
"#,
        name = esc(&s.scenario),
        class = verdict.1,
        verdict = verdict.0,
        seed = s.seed,
        mode = esc(&s.mode),
        dur = s.duration_s,
        interrupted = if s.interrupted { ", interrupted" } else { "" },
        story = esc(description.trim()),
    );
    h.push_str("<h2>Summary</h2><table>\n");
    let l = &s.latency_ms;
    let rows = [
        (
            "requests",
            format!(
                "{} started, {} ok, {} errors, {} dropped, {} cut off",
                s.requests.total,
                s.requests.ok,
                s.requests.errors,
                s.requests.dropped,
                s.requests.cut_off
            ),
        ),
        ("error rate", format!("{:.2} %", s.error_rate * 100.0)),
        (
            "latency (from intended start)",
            format!(
                "p50 {:.1} / p90 {:.1} / p95 {:.1} / p99 {:.1} / p99.9 {:.1} / max {:.1} ms",
                l.p50, l.p90, l.p95, l.p99, l.p999, l.max
            ),
        ),
        (
            "goodput / offered",
            format!("{:.2} / {:.2} req/s", s.goodput_rps, s.offered_rps),
        ),
        (
            "upstream calls (retries)",
            format!(
                "{} ({}), amplification {:.2}",
                s.upstream.calls, s.upstream.retries, s.amplification
            ),
        ),
        (
            "outcomes",
            s.outcomes
                .iter()
                .filter(|(_, v)| **v > 0)
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", "),
        ),
    ];
    for (k, v) in rows {
        let _ = writeln!(h, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&v));
    }
    for (k, v) in super::llm_table::markdown_rows(s) {
        let _ = writeln!(h, "<tr><th>{}</th><td>{}</td></tr>", esc(&k), esc(&v));
    }
    h.push_str("</table>\n");
    if !s.thresholds.is_empty() {
        h.push_str(
            "<h2>Thresholds</h2><table><tr><th>threshold</th><th>actual</th><th>result</th></tr>\n",
        );
        for t in &s.thresholds {
            let _ = writeln!(
                h,
                r#"<tr><td>{} {} {}</td><td>{}</td><td class="{}">{}</td></tr>"#,
                esc(&t.metric),
                esc(&t.op),
                esc(&t.limit),
                esc(&threshold_actual(t)),
                if t.pass { "pass" } else { "fail" },
                if t.pass { "pass" } else { "fail" }
            );
        }
        h.push_str("</table>\n");
    }
    if !data.events.is_empty() {
        h.push_str("<h2>Fault timeline</h2><table><tr><th>event</th><th>from</th><th>until</th><th>recovered</th></tr>\n");
        for (e, r) in data.events.iter().zip(&s.recovery) {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{:.1} s</td><td>{}</td><td>{}</td></tr>",
                esc(&e.label),
                e.at_s,
                e.until_s.map_or("end".to_string(), |u| format!("{u:.1} s")),
                r.recovered_after_s
                    .map_or("did not recover".to_string(), |t| format!(
                        "{t:.1} s after it ended"
                    ))
            );
        }
        h.push_str("</table>\n");
    }
    h.push_str("<h2>Charts</h2>\n");
    for name in CHARTS {
        let chart = svg(name, data).map_err(|e| io::Error::other(e.to_string()))?;
        // Drop the XML prolog, if any, so the SVG can sit inside HTML.
        let body = chart.find("<svg").map_or(chart.as_str(), |i| &chart[i..]);
        let _ = writeln!(h, "<figure>{body}</figure>");
    }
    h.push_str("</body></html>\n");
    out.write_all(h.as_bytes())
}
