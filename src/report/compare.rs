//! `gauntlet compare BASE CANDIDATE`: how a tuning change moved the figures that decide whether
//! it is safe — latency percentiles, error and fallback rates, upstream calls — with the deltas,
//! and which of them regressed beyond a tolerance (the exit code for CI).

use std::io::{self, Write};

use super::summary::Summary;

/// One compared metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Delta {
    /// Metric name as in thresholds.
    pub metric: &'static str,
    /// The metric in the base run's summary (ms for latencies, a fraction for rates).
    pub base: f64,
    /// The metric in the candidate run's summary, in the same unit.
    pub candidate: f64,
    /// Whether it got worse by more than the tolerance (all these metrics are better lower).
    pub regressed: bool,
}

/// Metrics compared, all "lower is better".
pub const COMPARED: [&str; 7] = [
    "latency.p50",
    "latency.p95",
    "latency.p99",
    "latency.p999",
    "error_rate",
    "outcomes.fallback",
    "upstream.calls",
];

/// Compares two runs; `tolerance` is relative (0.10 = 10 %). Rates also need to move by more than
/// half a percentage point, so 0.1 % -> 0.2 % of errors is not called a doubling.
pub fn compare(base: &Summary, candidate: &Summary, tolerance: Option<f64>) -> Vec<Delta> {
    let mut deltas: Vec<Delta> = COMPARED
        .iter()
        .map(|&metric| {
            let (b, c) = (base.metric(metric), candidate.metric(metric));
            let is_rate = metric == "error_rate" || metric.starts_with("outcomes.");
            let regressed = tolerance.is_some_and(|tol| {
                let relative = c > b * (1.0 + tol) + f64::EPSILON;
                let absolute = if is_rate { c - b > 0.005 } else { c > b };
                relative && absolute
            });
            Delta {
                metric,
                base: b,
                candidate: c,
                regressed,
            }
        })
        .collect();
    deltas.extend(super::llm_compare::deltas(base, candidate, tolerance));
    deltas
}

fn show(metric: &str, v: f64) -> String {
    if let Some(s) = super::llm_compare::show(metric, v) {
        s
    } else if metric.starts_with("latency.") {
        format!("{v:.1} ms")
    } else if metric == "upstream.calls" {
        format!("{v:.0}")
    } else {
        format!("{:.2} %", v * 100.0)
    }
}

/// Writes the comparison as a Markdown table.
pub fn write_table<W: Write>(
    deltas: &[Delta],
    base: &str,
    candidate: &str,
    mut out: W,
) -> io::Result<()> {
    writeln!(
        out,
        "| metric | {base} | {candidate} | change |  |\n| --- | --- | --- | --- | --- |"
    )?;
    for d in deltas {
        let change = if d.base == 0.0 {
            if d.candidate == 0.0 {
                "0".to_string()
            } else {
                "new".to_string()
            }
        } else {
            format!("{:+.1} %", (d.candidate / d.base - 1.0) * 100.0)
        };
        writeln!(
            out,
            "| {} | {} | {} | {change} | {} |",
            d.metric,
            show(d.metric, d.base),
            show(d.metric, d.candidate),
            if d.regressed { "**regressed**" } else { "" }
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(p99: f64, errors: f64) -> Summary {
        let mut s: Summary =
            serde_json::from_str(include_str!("../../reports/example/summary.json")).unwrap();
        s.latency_ms.p99 = p99;
        s.error_rate = errors;
        s
    }

    #[test]
    fn flags_regressions_beyond_the_tolerance_only() {
        let base = summary(100.0, 0.010);
        let same = compare(&base, &base, Some(0.10));
        assert!(same.iter().all(|d| !d.regressed));
        let worse = compare(&base, &summary(125.0, 0.012), Some(0.10));
        let p99 = worse.iter().find(|d| d.metric == "latency.p99").unwrap();
        assert!(p99.regressed);
        // +20 % relative but only +0.2 points: not a regression of the error rate.
        let err = worse.iter().find(|d| d.metric == "error_rate").unwrap();
        assert!(!err.regressed);
        let better = compare(&base, &summary(50.0, 0.0), Some(0.10));
        assert!(better.iter().all(|d| !d.regressed));
    }
}
