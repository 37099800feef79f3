//! `gauntlet sweep`: a grid of scenario variants run in simulation, spread over threads (each
//! simulation is single-threaded and deterministic), with the Pareto front of p99 against error
//! rate and the best row for an objective.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::Serialize;
use toml::Table;

use super::grid::{combinations, set_path, toml_value, Axis};
use crate::report::Summary;
use crate::scenario::{Condition, Scenario, METRICS};

/// One combination's settings and figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepRow {
    /// The values, in axis order.
    pub settings: Vec<String>,
    /// Its summary.
    #[serde(skip)]
    pub summary: Summary,
    /// Not dominated on (p99, error rate).
    pub pareto: bool,
    /// Meets the objective's constraints.
    pub feasible: bool,
}

/// `min METRIC [where METRIC OP LIMIT [and ...]]`, or `max ...`.
#[derive(Debug, Clone, PartialEq)]
pub struct Objective {
    /// Minimise (else maximise).
    pub minimise: bool,
    /// The metric.
    pub metric: String,
    /// Constraints.
    pub constraints: Vec<(String, Condition)>,
}

impl std::str::FromStr for Objective {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let err = |m: &str| {
            format!("--objective {s:?}: {m} (like \"min latency.p99 where error_rate < 1%\")")
        };
        let (head, constraints) = match s.split_once(" where ") {
            Some((h, c)) => (h, Some(c)),
            None => (s, None),
        };
        let mut words = head.split_whitespace();
        let minimise = match words.next() {
            Some("min") => true,
            Some("max") => false,
            _ => return Err(err("start with min or max")),
        };
        let metric = words
            .next()
            .ok_or_else(|| err("name a metric"))?
            .to_string();
        if !METRICS.contains(&metric.as_str()) {
            return Err(err(&format!("unknown metric {metric:?}")));
        }
        let mut parsed = Vec::new();
        for c in constraints.into_iter().flat_map(|c| c.split(" and ")) {
            let c = c.trim();
            let pos = c
                .find(['<', '>'])
                .ok_or_else(|| err(&format!("constraint {c:?} needs < or >")))?;
            let (m, cond) = c.split_at(pos);
            let m = m.trim();
            if !METRICS.contains(&m) {
                return Err(err(&format!("unknown metric {m:?}")));
            }
            parsed.push((
                m.to_string(),
                cond.parse::<Condition>().map_err(|e| err(&e))?,
            ));
        }
        Ok(Self {
            minimise,
            metric,
            constraints: parsed,
        })
    }
}

/// Builds every variant of the scenario; an invalid one is an error naming its settings.
pub fn variants(
    text: &str,
    path: &str,
    axes: &[Axis],
) -> Result<Vec<(Vec<String>, Scenario)>, String> {
    let base: Table = toml::from_str(text).map_err(|e| format!("{path}: {e}"))?;
    combinations(axes)
        .into_iter()
        .map(|combo| {
            let mut t = base.clone();
            for (axis, v) in axes.iter().zip(&combo) {
                set_path(&mut t, &axis.key, toml_value(v))?;
            }
            let text = toml::to_string(&t).map_err(|e| e.to_string())?;
            let label: Vec<String> = axes
                .iter()
                .zip(&combo)
                .map(|(a, v)| format!("{}={v}", a.key))
                .collect();
            let scenario = Scenario::parse(&text, &format!("{path} with {}", label.join(" ")))
                .map_err(|e| e.to_string())?;
            Ok((combo, scenario))
        })
        .collect()
}

/// Runs every variant in simulation on `jobs` threads; `progress` is called after each.
pub fn run_grid(
    variants: Vec<(Vec<String>, Scenario)>,
    jobs: usize,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Vec<SweepRow>, String> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<Summary, String>>>> =
        Mutex::new(vec![None; variants.len()]);
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((_, scenario)) = variants.get(i) else {
                    break;
                };
                let result = super::run(scenario, std::future::pending())
                    .map(|r| Summary::build(scenario, &r, "sim"))
                    .map_err(|e| e.to_string());
                results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(result);
                progress(done.fetch_add(1, Ordering::Relaxed) + 1);
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut rows = Vec::with_capacity(variants.len());
    for ((settings, _), r) in variants.into_iter().zip(results) {
        let summary = r.ok_or("a variant did not run")??;
        rows.push(SweepRow {
            settings,
            summary,
            pareto: false,
            feasible: true,
        });
    }
    mark_pareto(&mut rows);
    Ok(rows)
}

/// Marks the rows no other row beats on both p99 and error rate.
pub fn mark_pareto(rows: &mut [SweepRow]) {
    let points: Vec<(f64, f64)> = rows
        .iter()
        .map(|r| (r.summary.latency_ms.p99, r.summary.error_rate))
        .collect();
    for (i, row) in rows.iter_mut().enumerate() {
        let (p, e) = points[i];
        row.pareto = !points
            .iter()
            .enumerate()
            .any(|(j, &(q, f))| j != i && q <= p && f <= e && (q < p || f < e));
    }
}

/// Applies an objective: marks feasible rows and sorts them best first (infeasible last).
pub fn rank(rows: &mut [SweepRow], objective: &Objective) {
    for r in rows.iter_mut() {
        r.feasible = objective
            .constraints
            .iter()
            .all(|(m, c)| c.op.holds(r.summary.metric(m), c.limit));
    }
    let key = |r: &SweepRow| {
        let v = r.summary.metric(&objective.metric);
        if objective.minimise {
            v
        } else {
            -v
        }
    };
    rows.sort_by(|a, b| b.feasible.cmp(&a.feasible).then(key(a).total_cmp(&key(b))));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objectives_parse() {
        let o: Objective = "min latency.p99 where error_rate < 1%".parse().unwrap();
        assert!(o.minimise);
        assert_eq!(o.metric, "latency.p99");
        assert_eq!(o.constraints[0].0, "error_rate");
        assert_eq!(o.constraints[0].1.limit, 0.01);
        let o: Objective = "max goodput_rps where error_rate < 5% and latency.p99 < 2s"
            .parse()
            .unwrap();
        assert_eq!(o.constraints.len(), 2);
        assert!("fastest please".parse::<Objective>().is_err());
        assert!("min latency.p98".parse::<Objective>().is_err());
    }
}
