//! Runs a search to its end: each round's values become scenario variants (the base file with
//! `--set`, a variant's overrides and the varied key written in), simulated at once on
//! `--jobs` threads by the sweep's [`run_grid`], and judged against `--until`.

use std::collections::BTreeMap;

use toml::Table;

use super::search::{Range, Search, State};
use super::spec::{format_number, Set, Until, Vary};
use crate::record::Outcome;
use crate::report::plan_files::{Failed, PlanAnswer, PlanStep};
use crate::report::Summary;
use crate::scenario::{MetricName, Scenario};
use crate::signals::Interrupt;
use crate::sim::grid::{set_path, SetError};
use crate::sim::sweep::{run_grid, GridError};

/// Why a plan could not run; each names the variant and value.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// A key cannot be set in the scenario.
    #[error("{variant}: {source}")]
    Set {
        /// The variant's name.
        variant: String,
        /// Why.
        source: SetError,
    },
    /// A variant does not serialise back to TOML.
    #[error("{0}")]
    Serialise(#[from] toml::ser::Error),
    /// The scenario with these values is not valid (the message names them).
    #[error(transparent)]
    Scenario(#[from] crate::scenario::ConfigError),
    /// A simulation failed.
    #[error(transparent)]
    Grid(#[from] GridError),
}

/// Everything a search needs besides the variant's own overrides.
#[derive(Debug)]
pub struct Planner<'a> {
    /// The scenario file's table.
    pub base: &'a Table,
    /// The scenario file's path, for messages.
    pub path: &'a str,
    /// The varied key.
    pub vary: &'a Vary,
    /// Its range and resolution.
    pub range: Range,
    /// The SLO.
    pub until: &'a Until,
    /// `--set`, applied to every variant.
    pub sets: &'a [Set],
    /// Simulations at once, and probes a round.
    pub jobs: usize,
    /// SIGINT or SIGTERM.
    pub interrupt: &'a Interrupt,
}

/// Every metric a step records: the `--until` ones, then the knee chart's and the strategies
/// table's (each once).
pub fn columns(until: &Until) -> Vec<String> {
    let mut cols: Vec<String> = until.conditions.iter().map(|(m, _)| m.clone()).collect();
    let fixed = [
        "latency.p99",
        "error_rate",
        "goodput_rps",
        "quota.used",
        "upstream.calls",
    ];
    let outcomes = Outcome::ALL
        .iter()
        .map(|o| format!("outcomes.{}", o.name()));
    for c in fixed.iter().map(|s| s.to_string()).chain(outcomes) {
        if !cols.contains(&c) {
            cols.push(c);
        }
    }
    cols
}

impl Planner<'_> {
    /// The scenario at value `v` with the variant's overrides.
    pub fn scenario_at(&self, name: &str, extra: &[Set], v: f64) -> Result<Scenario, ProbeError> {
        let mut t = self.base.clone();
        let set_err = |source| ProbeError::Set {
            variant: name.to_string(),
            source,
        };
        for s in self.sets.iter().chain(extra) {
            set_path(&mut t, &s.key, s.value()).map_err(set_err)?;
        }
        let integer = self.range.integer;
        set_path(&mut t, &self.vary.key, self.vary.value(v, integer)).map_err(set_err)?;
        let text = toml::to_string(&t)?;
        let label = format!(
            "{} ({name}) with {}={}",
            self.path,
            self.vary.key,
            format_number(v)
        );
        Ok(Scenario::parse(&text, &label)?)
    }

    /// Whether a summary meets every `--until` condition, and the ones it misses.
    pub fn judge(&self, summary: &Summary) -> Vec<Failed> {
        self.until
            .conditions
            .iter()
            .map(|(m, c)| (summary.check(&MetricName(m.clone()), c), c))
            .filter(|(r, _)| !r.pass)
            .map(|(r, c)| Failed {
                metric: r.metric,
                condition: c.text.clone(),
                actual: r.actual,
            })
            .collect()
    }

    /// Searches for variant `name`'s answer; `step` is called after each simulation. The
    /// boolean is true when a signal cut the search short (the answer is then the best so far).
    pub fn plan(
        &self,
        name: &str,
        extra: &[Set],
        step: &(dyn Fn(usize) + Sync),
    ) -> Result<(PlanAnswer, bool), ProbeError> {
        let cols = columns(self.until);
        let mut search = Search::new(self.range, self.jobs);
        let mut steps: Vec<(PlanStep, Vec<Failed>)> = Vec::new();
        let mut interrupted = false;
        loop {
            let values = search.next();
            if values.is_empty() {
                break;
            }
            let variants = values
                .iter()
                .enumerate()
                .map(|(i, &v)| Ok((vec![i.to_string()], self.scenario_at(name, extra, v)?)))
                .collect::<Result<Vec<_>, ProbeError>>()?;
            let done = steps.len();
            let grid = run_grid(variants, self.jobs, &|n| step(done + n), self.interrupt)?;
            for row in &grid.rows {
                let i: usize = row.settings[0].parse().unwrap_or(0);
                let failed = self.judge(&row.summary);
                let metrics: BTreeMap<String, f64> = cols
                    .iter()
                    .map(|c| (c.clone(), row.summary.metric(c)))
                    .collect();
                search.record(values[i], failed.is_empty());
                steps.push((
                    PlanStep {
                        value: values[i],
                        pass: failed.is_empty(),
                        metrics,
                    },
                    failed,
                ));
            }
            if grid.interrupted {
                interrupted = true;
                break;
            }
        }
        Ok((self.answer(name, extra, &search, steps), interrupted))
    }

    fn answer(
        &self,
        name: &str,
        extra: &[Set],
        search: &Search,
        steps: Vec<(PlanStep, Vec<Failed>)>,
    ) -> PlanAnswer {
        let (answer, at_least, next_failing) = match search.state() {
            State::None => (None, false, Some(self.range.lo)),
            State::AtLeast(hi) => (Some(hi), true, None),
            State::Found { pass, fail } => (Some(pass), false, Some(fail)),
            // Cut short: the best bracket so far.
            State::Searching => {
                let fail = steps
                    .iter()
                    .filter(|s| !s.0.pass)
                    .map(|s| s.0.value)
                    .reduce(f64::min);
                let pass = steps
                    .iter()
                    .filter(|s| s.0.pass && fail.is_none_or(|f| s.0.value < f))
                    .map(|s| s.0.value)
                    .reduce(f64::max);
                (pass, false, fail)
            }
        };
        let failed = steps
            .iter()
            .find(|s| Some(s.0.value) == next_failing)
            .map(|s| s.1.clone())
            .unwrap_or_default();
        let at_answer = steps
            .iter()
            .find(|s| Some(s.0.value) == answer)
            .map(|s| s.0.metrics.clone())
            .unwrap_or_default();
        PlanAnswer {
            name: name.to_string(),
            sets: extra
                .iter()
                .map(|s| format!("{}={}", s.key, s.text))
                .collect(),
            complete: search.state() != State::Searching,
            answer,
            at_least,
            next_failing,
            failed,
            non_monotone: search.non_monotone(),
            at_answer,
            steps: steps.into_iter().map(|s| s.0).collect(),
            confirm: None,
        }
    }
}
