//! The LLM rows of `gauntlet compare`: TTFT, inter-token latency and TPOT (lower is better)
//! when either run streamed, and SLO attainment and goodput (higher is better) when both ran
//! under an `[slo]`. A run without streams compares as it always did.

use super::compare::Delta;
use super::summary::Summary;

/// Lower-is-better LLM metrics, compared when either run has streamed answers.
const LATENCIES: [&str; 6] = [
    "ttft.p50", "ttft.p99", "itl.p50", "itl.p99", "tpot.p50", "tpot.p99",
];

/// Higher-is-better SLO metrics, compared when both runs have `[slo]`.
const SLO: [&str; 2] = ["slo.attainment", "slo.goodput"];

/// The LLM deltas of two runs; `tolerance` as in [`compare`](super::compare::compare).
pub fn deltas(base: &Summary, candidate: &Summary, tolerance: Option<f64>) -> Vec<Delta> {
    let mut out = Vec::new();
    let streamed = |s: &Summary| s.ttft_ms.count > 0 || s.itl_ms.count > 0;
    if streamed(base) || streamed(candidate) {
        for metric in LATENCIES {
            let (b, c) = (base.metric(metric), candidate.metric(metric));
            let regressed = tolerance.is_some_and(|tol| c > b * (1.0 + tol) + f64::EPSILON);
            out.push(Delta {
                metric,
                base: b,
                candidate: c,
                regressed,
            });
        }
    }
    if base.slo.is_some() && candidate.slo.is_some() {
        for metric in SLO {
            let (b, c) = (base.metric(metric), candidate.metric(metric));
            let regressed = tolerance.is_some_and(|tol| {
                let relative = c < b * (1.0 - tol) - f64::EPSILON;
                // A share must also fall by more than half a percentage point.
                relative && (metric != "slo.attainment" || b - c > 0.005)
            });
            out.push(Delta {
                metric,
                base: b,
                candidate: c,
                regressed,
            });
        }
    }
    out
}

/// An LLM metric as the comparison table shows it; `None` for other metrics.
pub fn show(metric: &str, v: f64) -> Option<String> {
    if LATENCIES.contains(&metric) {
        Some(format!("{v:.1} ms"))
    } else if metric == "slo.attainment" {
        Some(format!("{:.2} %", v * 100.0))
    } else if metric == "slo.goodput" {
        Some(format!("{v:.2}/s"))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::summary::{Percentiles, SloFigures};

    fn summary(itl_p99: f64, attainment: f64) -> Summary {
        let mut s: Summary =
            serde_json::from_str(include_str!("../../reports/example/summary.json")).unwrap();
        s.itl_ms = Percentiles {
            p99: itl_p99,
            count: 10,
            ..Percentiles::default()
        };
        s.slo = Some(SloFigures {
            attainment,
            ..SloFigures::default()
        });
        s
    }

    #[test]
    fn slower_tokens_and_lower_attainment_regress() {
        let base = summary(20.0, 0.99);
        assert!(deltas(&base, &base, Some(0.1)).iter().all(|d| !d.regressed));
        let worse = deltas(&base, &summary(30.0, 0.80), Some(0.1));
        let regressed: Vec<&str> = worse
            .iter()
            .filter(|d| d.regressed)
            .map(|d| d.metric)
            .collect();
        assert_eq!(regressed, ["itl.p99", "slo.attainment"]);
        let better = deltas(&base, &summary(10.0, 1.0), Some(0.1));
        assert!(better.iter().all(|d| !d.regressed));
        let mut plain = base.clone();
        plain.slo = None;
        plain.itl_ms = Percentiles::default();
        plain.ttft_ms = Percentiles::default();
        assert!(deltas(&plain, &plain, None).is_empty());
        assert_eq!(show("itl.p99", 20.0).unwrap(), "20.0 ms");
    }
}
