//! `gauntlet plan`'s files: `plan.json` (the answer, its margin, every step), `plan.csv` (one
//! row per simulated step), `plan.md`, and with `--compare` the strategies table as
//! `compare.md` / `compare.csv`. The plan builds these plain types; this module only renders
//! them, so a report never depends on how the search ran.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::atomic::{write_atomic, AtomicFile};
use super::table::format_actual;

/// One simulated run of the search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanStep {
    /// The varied key's value.
    pub value: f64,
    /// Met every `--until` condition.
    pub pass: bool,
    /// The step's figures by threshold metric name (the `--until` ones, p99, error rate,
    /// goodput, quota used, upstream calls and each outcome's share).
    pub metrics: BTreeMap<String, f64>,
}

/// An `--until` condition a run missed, with the value it had: the answer's margin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failed {
    /// The metric.
    pub metric: String,
    /// The condition, as written (`< 1%`).
    pub condition: String,
    /// What the run measured.
    pub actual: f64,
}

/// The real run at the answer (`--confirm`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Confirmed {
    /// The value run.
    pub value: f64,
    /// Met every `--until` condition on real time.
    pub pass: bool,
    /// Its figures, as a step's.
    pub metrics: BTreeMap<String, f64>,
    /// The conditions it missed.
    pub failed: Vec<Failed>,
    /// Where its full report was written.
    pub report: String,
}

/// One variant's answer (the base scenario's is named `base`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanAnswer {
    /// `base`, or the `--compare` name.
    pub name: String,
    /// The variant's overrides (`key=value`), besides `--set`.
    pub sets: Vec<String>,
    /// The search ended (not cut short by a signal).
    pub complete: bool,
    /// The highest value that met the SLO; `null` when even LO failed.
    pub answer: Option<f64>,
    /// HI met the SLO: the capacity is at least `answer`, beyond the range searched.
    pub at_least: bool,
    /// The lowest value above `answer` that failed (LO when none passed).
    pub next_failing: Option<f64>,
    /// The conditions `next_failing` missed, with their values.
    pub failed: Vec<Failed>,
    /// A pass was seen above a fail: the SLO is not monotone in the key over the range.
    pub non_monotone: bool,
    /// The figures of the run at `answer`.
    pub at_answer: BTreeMap<String, f64>,
    /// Every step, in the order run.
    pub steps: Vec<PlanStep>,
    /// The real run at the answer, with `--confirm`.
    pub confirm: Option<Confirmed>,
}

/// `plan.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanFile {
    /// The scenario's name.
    pub scenario: String,
    /// The varied key (dotted path).
    pub key: String,
    /// The unit written after its values (`/s`), or empty.
    pub unit: String,
    /// The range's low end.
    pub lo: f64,
    /// The range's high end.
    pub hi: f64,
    /// The bracket width the search stopped at.
    pub resolution: f64,
    /// `--until`, as written.
    pub until: String,
    /// `--set`, as written, applied to every variant (`sets` are a variant's own).
    pub set: Vec<String>,
    /// The metric columns of `plan.csv`, in order.
    pub columns: Vec<String>,
    /// A signal cut the plan short.
    pub interrupted: bool,
    /// The base scenario's answer (its fields at the top level).
    #[serde(flatten)]
    pub base: PlanAnswer,
    /// The `--compare` variants' answers.
    pub compare: Vec<PlanAnswer>,
}

/// `12`, `2.5`, `0.3333`, `1.5e-6`: a value of the varied key as a report shows it, without
/// float noise (the plan's messages use it too).
pub fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if v.abs() < 1e-3 {
        format!("{v:.3e}")
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

impl PlanFile {
    /// A value of the key with its unit.
    pub fn value(&self, v: f64) -> String {
        format!("{}{}", num(v), self.unit)
    }

    /// The answer's sentence: `workload.users: 340 meets the SLO; 350 fails (latency.p99 = 5.4s)`.
    pub fn sentence(&self, a: &PlanAnswer) -> String {
        let failed = |f: &[Failed]| {
            f.iter()
                .map(|f| {
                    format!(
                        "{} = {}, needs {}",
                        f.metric,
                        format_actual(&f.metric, f.actual),
                        f.condition
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        let mut s = match (a.answer, a.next_failing) {
            (None, Some(lo)) => format!(
                "{}: no value meets the SLO; even {} fails ({})",
                self.key,
                self.value(lo),
                failed(&a.failed)
            ),
            (Some(v), _) if a.at_least => format!(
                "{}: at least {} meets the SLO (the top of the range; search higher)",
                self.key,
                self.value(v)
            ),
            (Some(v), Some(f)) => format!(
                "{}: {} meets the SLO; {} fails ({})",
                self.key,
                self.value(v),
                self.value(f),
                failed(&a.failed)
            ),
            (Some(v), None) => format!("{}: {} meets the SLO", self.key, self.value(v)),
            (None, None) => format!("{}: no step finished", self.key),
        };
        if !a.complete {
            s.push_str(" [interrupted: the bracket is not narrowed to the step]");
        }
        if a.non_monotone {
            s.push_str(
                " [non-monotone: a higher value passed after a lower one failed; the answer is \
                 the edge below the lowest failure]",
            );
        }
        s
    }

    fn answers(&self) -> impl Iterator<Item = &PlanAnswer> {
        std::iter::once(&self.base).chain(&self.compare)
    }
}

/// Writes `plan.json`, `plan.csv`, `plan.md`, and (with variants) `compare.md` / `compare.csv`.
pub fn write_plan_files(dir: &Path, plan: &PlanFile) -> io::Result<()> {
    let json = serde_json::to_vec_pretty(plan).map_err(io::Error::other)?;
    write_atomic(&dir.join("plan.json"), &json)?;
    write_steps_csv(&dir.join("plan.csv"), plan)?;
    write_atomic(&dir.join("plan.md"), markdown(plan).as_bytes())?;
    if !plan.compare.is_empty() {
        write_atomic(&dir.join("compare.md"), compare_markdown(plan).as_bytes())?;
        write_compare_csv(&dir.join("compare.csv"), plan)?;
    }
    Ok(())
}

fn csv_err(e: csv::Error) -> io::Error {
    io::Error::other(e)
}

fn write_steps_csv(path: &Path, plan: &PlanFile) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(AtomicFile::create(path)?);
    let mut header = vec![
        "variant".to_string(),
        "step".into(),
        plan.key.clone(),
        "pass".into(),
    ];
    header.extend(plan.columns.iter().cloned());
    w.write_record(&header).map_err(csv_err)?;
    for a in plan.answers() {
        for (i, s) in a.steps.iter().enumerate() {
            let mut rec = vec![
                a.name.clone(),
                (i + 1).to_string(),
                num(s.value),
                s.pass.to_string(),
            ];
            rec.extend(plan.columns.iter().map(|c| cell(s.metrics.get(c))));
            w.write_record(&rec).map_err(csv_err)?;
        }
    }
    w.into_inner().map_err(|e| e.into_error())?.commit()
}

fn cell(v: Option<&f64>) -> String {
    v.filter(|v| v.is_finite())
        .map_or(String::new(), |v| format!("{v:.6}"))
}

/// The strategies table's figures at each answer, besides the answer itself.
const AT_ANSWER: [(&str, &str); 5] = [
    ("quota used", "quota.used"),
    ("error rate", "error_rate"),
    ("p99", "latency.p99"),
    ("goodput", "goodput_rps"),
    ("upstream calls", "upstream.calls"),
];

/// The outcomes shown in the strategies table: every recorded one that is not zero in some
/// variant at its answer (cache hits, fallbacks, ...).
fn outcome_columns(plan: &PlanFile) -> Vec<String> {
    plan.columns
        .iter()
        .filter(|c| c.starts_with("outcomes."))
        .filter(|c| {
            plan.answers()
                .any(|a| a.at_answer.get(*c).is_some_and(|v| *v > 0.0))
        })
        .cloned()
        .collect()
}

fn answer_cell(plan: &PlanFile, a: &PlanAnswer) -> String {
    match a.answer {
        None => "none".into(),
        Some(v) if a.at_least => format!("≥ {}", plan.value(v)),
        Some(v) => plan.value(v),
    }
}

fn write_compare_csv(path: &Path, plan: &PlanFile) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(AtomicFile::create(path)?);
    let outcomes = outcome_columns(plan);
    let mut header: Vec<String> = ["variant", "sets", "answer", "at_least", "next_failing"]
        .map(String::from)
        .into();
    header.extend(AT_ANSWER.iter().map(|c| c.1.to_string()));
    header.extend(outcomes.iter().cloned());
    w.write_record(&header).map_err(csv_err)?;
    for a in plan.answers() {
        let mut rec = vec![
            a.name.clone(),
            a.sets.join(" "),
            a.answer.map_or(String::new(), num),
            a.at_least.to_string(),
            a.next_failing.map_or(String::new(), num),
        ];
        rec.extend(AT_ANSWER.iter().map(|c| cell(a.at_answer.get(c.1))));
        rec.extend(outcomes.iter().map(|c| cell(a.at_answer.get(c))));
        w.write_record(&rec).map_err(csv_err)?;
    }
    w.into_inner().map_err(|e| e.into_error())?.commit()
}

fn fmt_at(a: &PlanAnswer, metric: &str) -> String {
    a.at_answer
        .get(metric)
        .filter(|v| v.is_finite())
        .map_or("–".into(), |v| format_actual(metric, *v))
}

fn compare_markdown(plan: &PlanFile) -> String {
    let outcomes = outcome_columns(plan);
    let mut s = format!(
        "# Strategies for {}: the highest {} meeting `{}`\n\nEach variant searched in simulation \
         over {}..{}; figures are those of the run at its answer.\n\n",
        plan.scenario,
        plan.key,
        plan.until,
        plan.value(plan.lo),
        plan.value(plan.hi)
    );
    let mut header: Vec<String> = vec!["variant".into(), "settings".into(), "answer".into()];
    header.extend(AT_ANSWER.iter().map(|c| c.0.to_string()));
    header.extend(
        outcomes
            .iter()
            .map(|c| c.trim_start_matches("outcomes.").replace('_', " ")),
    );
    s.push_str(&format!(
        "| {} |\n|{}\n",
        header.join(" | "),
        " --- |".repeat(header.len())
    ));
    for a in plan.answers() {
        let mut cells = vec![a.name.clone(), a.sets.join(" "), answer_cell(plan, a)];
        cells.extend(AT_ANSWER.iter().map(|c| fmt_at(a, c.1)));
        cells.extend(outcomes.iter().map(|c| fmt_at(a, c)));
        s.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    s
}

/// `plan.md`: the answer sentences, then the base search's steps.
pub fn markdown(plan: &PlanFile) -> String {
    let mut s = format!(
        "# Plan for {}: the highest {} meeting `{}`\n\n",
        plan.scenario, plan.key, plan.until
    );
    if plan.interrupted {
        s.push_str("**Partial:** interrupted; the answers are the best brackets found so far.\n\n");
    }
    for a in plan.answers() {
        let who = if plan.compare.is_empty() {
            String::new()
        } else {
            format!("**{}**: ", a.name)
        };
        s.push_str(&format!("- {who}{}\n", plan.sentence(a)));
        if let Some(c) = &a.confirm {
            s.push_str(&format!(
                "  - confirmed on real time at {}: {} (report {})\n",
                plan.value(c.value),
                if c.pass {
                    "meets the SLO".to_string()
                } else {
                    format!(
                        "FAILS ({})",
                        c.failed
                            .iter()
                            .map(|f| format!(
                                "{} = {}",
                                f.metric,
                                format_actual(&f.metric, f.actual)
                            ))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
                c.report
            ));
        }
    }
    s.push_str(&format!(
        "\nSearched {}..{} in simulation to a step of {}. Steps of `{}`:\n\n",
        plan.value(plan.lo),
        plan.value(plan.hi),
        num(plan.resolution),
        plan.base.name
    ));
    let shown: Vec<&String> = plan
        .columns
        .iter()
        .filter(|c| !c.starts_with("outcomes."))
        .collect();
    let mut header: Vec<String> = vec!["step".into(), plan.key.clone(), "meets".into()];
    header.extend(shown.iter().map(|c| c.to_string()));
    s.push_str(&format!(
        "| {} |\n|{}\n",
        header.join(" | "),
        " --- |".repeat(header.len())
    ));
    for (i, st) in plan.base.steps.iter().enumerate() {
        let mut cells = vec![
            (i + 1).to_string(),
            plan.value(st.value),
            if st.pass { "yes" } else { "no" }.into(),
        ];
        cells.extend(shown.iter().map(|c| {
            st.metrics
                .get(*c)
                .filter(|v| v.is_finite())
                .map_or("–".into(), |v| format_actual(c, *v))
        }));
        s.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    if !plan.compare.is_empty() {
        s.push('\n');
        s.push_str(&compare_markdown(plan));
    }
    s
}
