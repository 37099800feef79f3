//! `gauntlet sweep`: a grid of scenario variants run in simulation, spread over threads (each
//! simulation is single-threaded and deterministic), with the Pareto front of p99 against error
//! rate and the best row for an objective.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::Serialize;
use toml::Table;

use super::grid::{combinations, set_path, toml_value, Axis, SetError};
use crate::driver::run::RunError;
use crate::record::RunResult;
use crate::report::Summary;
use crate::scenario::{is_metric, Condition, Scenario};
use crate::signals::Interrupt;

/// One combination's settings and figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepRow {
    /// The values, in axis order.
    pub settings: Vec<String>,
    /// The variant's simulated `summary.json`, what the Pareto front and the objective read.
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
    /// The threshold metric name to minimise or maximise (see [`is_metric`]).
    pub metric: String,
    /// The `where` clauses: metric name and condition, all of which a feasible row meets.
    pub constraints: Vec<(String, Condition)>,
}

/// Why an `--objective` could not be read: the text and what was wrong with it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("--objective {text:?}: {problem} (like \"min latency.p99 where error_rate < 1%\")")]
pub struct ObjectiveError {
    /// The objective as written.
    pub text: String,
    /// What is wrong with it.
    pub problem: String,
}

/// Why the variants of a sweep could not be built.
#[derive(Debug, thiserror::Error)]
pub enum VariantError {
    /// The scenario file is not TOML.
    #[error("{path}: {source}")]
    Toml {
        /// The scenario file.
        path: String,
        /// Where and why.
        source: toml::de::Error,
    },
    /// A `--set` key cannot be set.
    #[error(transparent)]
    Set(#[from] SetError),
    /// A variant does not serialise back to TOML.
    #[error("{0}")]
    Serialise(#[from] toml::ser::Error),
    /// A variant is not a valid scenario (the error names its settings).
    #[error(transparent)]
    Scenario(#[from] crate::scenario::ConfigError),
}

impl std::str::FromStr for Objective {
    type Err = ObjectiveError;
    fn from_str(s: &str) -> Result<Self, ObjectiveError> {
        let err = |m: &str| ObjectiveError {
            text: s.to_string(),
            problem: m.to_string(),
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
        if !is_metric(&metric) {
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
            if !is_metric(m) {
                return Err(err(&format!("unknown metric {m:?}")));
            }
            parsed.push((
                m.to_string(),
                cond.parse::<Condition>().map_err(|e| err(&e.to_string()))?,
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
) -> Result<Vec<(Vec<String>, Scenario)>, VariantError> {
    let base: Table = toml::from_str(text).map_err(|source| VariantError::Toml {
        path: path.to_string(),
        source,
    })?;
    combinations(axes)
        .into_iter()
        .map(|combo| {
            let mut t = base.clone();
            for (axis, v) in axes.iter().zip(&combo) {
                set_path(&mut t, &axis.key, toml_value(v))?;
            }
            let text = toml::to_string(&t)?;
            let label: Vec<String> = axes
                .iter()
                .zip(&combo)
                .map(|(a, v)| format!("{}={v}", a.key))
                .collect();
            let scenario = Scenario::parse(&text, &format!("{path} with {}", label.join(" ")))?;
            Ok((combo, scenario))
        })
        .collect()
}

/// Why a sweep's grid did not run through; names the variant.
#[derive(Debug, thiserror::Error)]
pub enum GridError {
    /// A variant's simulation failed.
    #[error("{}: {source}", settings.join(" "))]
    Run {
        /// The variant's values.
        settings: Vec<String>,
        /// Why it failed.
        source: RunError,
    },
}

/// The rows of a sweep's grid, and whether a signal cut it short.
#[derive(Debug)]
pub struct Grid {
    /// One row per variant that ran to its end, in the variants' order.
    pub rows: Vec<SweepRow>,
    /// Variants in all, finished or not.
    pub planned: usize,
    /// SIGINT or SIGTERM arrived: `rows` holds only the variants that had finished, and the
    /// ones interrupted or not started are left out.
    pub interrupted: bool,
}

/// Runs every variant in simulation on `jobs` threads; `progress` is called after each. When
/// `interrupt` is raised, running simulations stop, no new one starts, and the grid holds the
/// finished ones.
pub fn run_grid(
    variants: Vec<(Vec<String>, Scenario)>,
    jobs: usize,
    progress: &(dyn Fn(usize) + Sync),
    interrupt: &Interrupt,
) -> Result<Grid, GridError> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    type Outcome = Option<Result<RunResult, RunError>>;
    let results: Mutex<Vec<Outcome>> = Mutex::new((0..variants.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| loop {
                if interrupt.raised() {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((_, scenario)) = variants.get(i) else {
                    break;
                };
                let result = super::run(scenario, interrupt.clone().wait());
                results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(result);
                progress(done.fetch_add(1, Ordering::Relaxed) + 1);
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    let planned = variants.len();
    let mut rows = Vec::with_capacity(planned);
    for ((settings, scenario), r) in variants.into_iter().zip(results) {
        let run = match r {
            Some(Ok(run)) if !run.interrupted => run,
            // Cut short or never started: only a signal leaves a variant so.
            Some(Ok(_)) | None => continue,
            Some(Err(source)) => return Err(GridError::Run { settings, source }),
        };
        rows.push(SweepRow {
            settings,
            summary: Summary::build(&scenario, &run, "sim"),
            pareto: false,
            feasible: true,
        });
    }
    mark_pareto(&mut rows);
    Ok(Grid {
        interrupted: rows.len() < planned,
        rows,
        planned,
    })
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
