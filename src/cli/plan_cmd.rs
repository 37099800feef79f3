//! `gauntlet plan`: the capacity at which a scenario still meets an SLO, by a bracketing search
//! in simulation (`plan.json`, `plan.csv`, `plan.md`, the knee chart `plan.svg`, and with
//! `--compare` the strategies table `compare.md` / `compare.csv`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use toml::Table;

use super::run_cmd::utc_stamp;
use super::{PlanArgs, EXIT_INTERRUPTED, EXIT_OK, EXIT_THRESHOLDS, EXIT_USAGE};
use crate::plan::confirm::run_real;
use crate::plan::probe::{columns, Planner};
use crate::plan::search::{Range, MAX_STEPS};
use crate::plan::spec::{check_names, Set, Until, Variant, Vary};
use crate::report::plan_chart::write_plan_chart;
use crate::report::plan_files::{write_plan_files, Confirmed, PlanAnswer, PlanFile};
use crate::report::{self, Summary};
use crate::scenario::Scenario;
use crate::signals::Interrupt;

/// Steps a plan takes without `--step` or `--steps`.
const DEFAULT_STEPS: usize = 12;
/// Most `--jobs`: more threads than this only add memory.
const MAX_JOBS: usize = 256;

/// Runs the plan; returns the exit code.
pub(crate) fn run(args: PlanArgs) -> u8 {
    match plan(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("gauntlet plan: {e:#}");
            EXIT_USAGE
        }
    }
}

/// The arguments, read and checked before anything runs.
struct Checked {
    vary: Vary,
    until: Until,
    sets: Vec<Set>,
    variants: Vec<Variant>,
    range: Range,
    jobs: usize,
}

fn check(args: &PlanArgs, base: &Table) -> anyhow::Result<Checked> {
    let vary: Vary = args.vary.parse()?;
    let until: Until = args.until.parse()?;
    let sets: Vec<Set> = args
        .set
        .iter()
        .map(|s| s.parse())
        .collect::<Result<_, _>>()?;
    let variants: Vec<Variant> = args
        .compare
        .iter()
        .map(|s| s.parse())
        .collect::<Result<_, _>>()?;
    check_names(&variants)?;
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if jobs == 0 || jobs > MAX_JOBS {
        anyhow::bail!("--jobs {jobs}: give 1..={MAX_JOBS}");
    }
    let integer = vary.integer(base);
    let resolution = match (args.step, args.steps) {
        (Some(step), _) => step,
        (None, steps) => {
            let steps = steps.unwrap_or(DEFAULT_STEPS);
            if !(3..=MAX_STEPS).contains(&steps) {
                anyhow::bail!("--steps {steps}: give 3..={MAX_STEPS}");
            }
            Range::resolution_for(vary.lo, vary.hi, steps, jobs, integer)
        }
    };
    let range = Range {
        lo: vary.lo,
        hi: vary.hi,
        resolution,
        integer,
    }
    .checked()
    .with_context(|| format!("--vary {}", args.vary))?;
    Ok(Checked {
        vary,
        until,
        sets,
        variants,
        range,
        jobs,
    })
}

fn plan(args: &PlanArgs) -> anyhow::Result<u8> {
    let path = args.scenario.display().to_string();
    let text = std::fs::read_to_string(&args.scenario).with_context(|| path.clone())?;
    // The base file must be valid on its own: its errors point at its own lines.
    let scenario = Scenario::parse(&text, &path)?;
    if scenario.system.is_some() {
        anyhow::bail!(
            "{path}: a plan runs in simulation, which cannot start the scenario's [system]"
        );
    }
    let base: Table = toml::from_str(&text).with_context(|| path.clone())?;
    let c = check(args, &base)?;
    let interrupt = Interrupt::listen();
    let planner = Planner {
        base: &base,
        path: &path,
        vary: &c.vary,
        range: c.range,
        until: &c.until,
        sets: &c.sets,
        jobs: c.jobs,
        interrupt: &interrupt,
    };
    // Every variant must build at both ends before the first simulation starts.
    for v in std::iter::once(&[][..]).chain(c.variants.iter().map(|v| &v.sets[..])) {
        planner.scenario_at("check", v, c.range.lo)?;
        planner.scenario_at("check", v, c.range.hi)?;
    }
    let bar = progress_bar(
        args.quiet,
        (1 + c.variants.len()) as u64 * DEFAULT_STEPS as u64,
    );
    let mut interrupted = false;
    let mut answers: Vec<PlanAnswer> = Vec::new();
    let mut done = 0;
    for (name, extra) in std::iter::once(("base", &[][..]))
        .chain(c.variants.iter().map(|v| (v.name.as_str(), &v.sets[..])))
    {
        bar.set_message(name.to_string());
        let at = done;
        let (answer, cut) = planner.plan(name, extra, &|n| bar.set_position((at + n) as u64))?;
        done += answer.steps.len();
        answers.push(answer);
        if cut {
            interrupted = true;
            break;
        }
    }
    bar.finish_and_clear();
    let out = out_dir(args, &scenario.name);
    std::fs::create_dir_all(&out).with_context(|| out.display().to_string())?;
    let mut answers = answers.into_iter();
    let mut file = PlanFile {
        scenario: scenario.name.clone(),
        key: c.vary.key.clone(),
        unit: c.vary.unit.clone(),
        lo: c.range.lo,
        hi: c.range.hi,
        resolution: c.range.resolution,
        until: c.until.text.clone(),
        set: args.set.clone(),
        columns: columns(&c.until),
        interrupted,
        base: answers.next().context("no search ran")?,
        compare: answers.collect(),
    };
    if args.confirm && !interrupted {
        if let Some(v) = file.base.answer {
            file.base.confirm = Some(confirm(&planner, v, &out, &interrupt)?);
        }
    }
    write_plan_files(&out, &file).with_context(|| out.display().to_string())?;
    let limits: Vec<(String, f64)> = c
        .until
        .conditions
        .iter()
        .map(|(m, cond)| (m.clone(), cond.limit))
        .collect();
    write_plan_chart(&out, &file, &limits).map_err(|e| anyhow::anyhow!("plan.svg: {e}"))?;
    Ok(say(&file, &out))
}

/// Prints the answers and maps them to the exit code.
fn say(file: &PlanFile, out: &Path) -> u8 {
    for a in std::iter::once(&file.base).chain(&file.compare) {
        let who = if file.compare.is_empty() {
            String::new()
        } else {
            format!("{:<10} ", a.name)
        };
        println!("{who}{}", file.sentence(a));
        if let Some(c) = &a.confirm {
            let verdict = if c.pass {
                "meets the SLO"
            } else {
                "FAILS the SLO"
            };
            println!(
                "{who}confirmed on real time at {}: {verdict} (report {})",
                file.value(c.value),
                c.report
            );
        }
    }
    println!("report    {}", out.display());
    if file.interrupted {
        eprintln!("gauntlet plan: interrupted; the files hold the steps that finished");
        EXIT_INTERRUPTED
    } else if file.base.answer.is_none() || file.base.confirm.as_ref().is_some_and(|c| !c.pass) {
        EXIT_THRESHOLDS
    } else {
        EXIT_OK
    }
}

/// The real run at `value`; its full report goes to `OUT/confirm/`.
fn confirm(
    planner: &Planner<'_>,
    value: f64,
    out: &Path,
    interrupt: &Interrupt,
) -> anyhow::Result<Confirmed> {
    let scenario = planner.scenario_at("base", &[], value)?;
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    eprintln!(
        "gauntlet plan: confirming {} = {} on real time ({} s)",
        planner.vary.key,
        crate::plan::spec::format_number(value),
        scenario.duration.0.as_secs()
    );
    let result = run_real(&scenario, threads, interrupt)?;
    let summary = Summary::build(&scenario, &result, "real");
    let dir = out.join("confirm");
    report::write_run(&dir, &summary, &report::Recorded::of(&result))?;
    let failed = planner.judge(&summary);
    let metrics: BTreeMap<String, f64> = columns(planner.until)
        .into_iter()
        .map(|c| (summary.metric(&c), c))
        .map(|(v, c)| (c, v))
        .collect();
    Ok(Confirmed {
        value,
        pass: failed.is_empty() && !result.interrupted,
        metrics,
        failed,
        report: dir.display().to_string(),
    })
}

fn out_dir(args: &PlanArgs, name: &str) -> PathBuf {
    args.out.clone().unwrap_or_else(|| {
        let now = crate::wall_clock::epoch_secs();
        PathBuf::from("reports").join(format!("{name}-plan-{}", utc_stamp(now)))
    })
}

fn progress_bar(quiet: bool, estimate: u64) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(estimate);
    b.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/~{len} steps  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    b
}
