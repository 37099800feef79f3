//! `gauntlet sweep`: a grid of settings in simulation, with `sweep.csv`, `sweep.md` (Pareto rows
//! marked, the objective's best first) and `pareto.svg`.

use anyhow::Context as _;
use std::io::Write;
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};

use super::run_cmd::utc_stamp;
use super::{SweepArgs, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE};
use crate::report::atomic::{write_atomic, AtomicFile};
use crate::report::pareto::{write_pareto_svg, ParetoPoint};
use crate::report::table::format_actual;
use crate::signals::Interrupt;
use crate::sim::grid::{parse_axis, Axis};
use crate::sim::sweep::{rank, run_grid, variants, Objective, SweepRow};

const COLUMNS: [(&str, &str); 8] = [
    ("p50_ms", "latency.p50"),
    ("p99_ms", "latency.p99"),
    ("error_rate", "error_rate"),
    ("fallback_rate", "outcomes.fallback"),
    ("upstream_calls", "upstream.calls"),
    ("quota_used", "quota.used"),
    ("amplification", "amplification"),
    ("goodput_rps", "goodput_rps"),
];

/// Runs the sweep; returns the exit code.
pub(crate) fn run(args: SweepArgs) -> u8 {
    match sweep(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("gauntlet sweep: {e}");
            EXIT_USAGE
        }
    }
}

fn sweep(args: &SweepArgs) -> anyhow::Result<u8> {
    let axes: Vec<Axis> = args
        .set
        .iter()
        .map(|s| parse_axis(s))
        .collect::<Result<_, _>>()?;
    if axes.is_empty() {
        anyhow::bail!("give at least one --set key=value1,value2");
    }
    let objective: Objective = args
        .objective
        .as_deref()
        .unwrap_or("min latency.p99")
        .parse()?;
    let path = args.scenario.display().to_string();
    let text = std::fs::read_to_string(&args.scenario).with_context(|| path.clone())?;
    // The base file must be valid on its own: its errors point at its own lines.
    let base = crate::scenario::Scenario::parse(&text, &path)?;
    let variants = variants(&text, &path, &axes)?;
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        let b = ProgressBar::new(variants.len() as u64);
        b.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} combinations")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        b
    };
    let interrupt = Interrupt::listen();
    let grid = run_grid(variants, jobs, &|n| bar.set_position(n as u64), &interrupt)?;
    bar.finish_and_clear();
    let mut rows = grid.rows;
    rank(&mut rows, &objective);

    let out = args.out.clone().unwrap_or_else(|| {
        let now = crate::wall_clock::epoch_secs();
        PathBuf::from("reports").join(format!("{}-sweep-{}", base.name, utc_stamp(now)))
    });
    std::fs::create_dir_all(&out).with_context(|| out.display().to_string())?;
    write_csv(&out.join("sweep.csv"), &axes, &rows)?;
    let mut md = markdown(&base.name, &axes, &rows, &objective);
    if grid.interrupted {
        md.insert_str(
            md.find("\n\n").map_or(0, |i| i + 2),
            &format!(
                "**Partial:** interrupted with {} of {} combinations finished; the others did not \
                 run to their end and are left out.\n\n",
                rows.len(),
                grid.planned
            ),
        );
    }
    let md_path = out.join("sweep.md");
    write_atomic(&md_path, md.as_bytes()).with_context(|| md_path.display().to_string())?;
    let points: Vec<ParetoPoint> = rows
        .iter()
        .map(|r| ParetoPoint {
            label: r.settings.join(" "),
            p99_ms: r.summary.latency_ms.p99,
            error_rate: r.summary.error_rate,
            front: r.pareto,
        })
        .collect();
    let svg_path = out.join("pareto.svg");
    let mut svg = AtomicFile::create(&svg_path).with_context(|| svg_path.display().to_string())?;
    write_pareto_svg(
        &format!("{}: p99 against error rate", base.name),
        &points,
        &mut svg,
    )
    .and_then(|()| svg.commit())
    .with_context(|| svg_path.display().to_string())?;
    let _ = std::io::stdout().write_all(md.as_bytes());
    println!("report    {}", out.display());
    if grid.interrupted {
        eprintln!("gauntlet sweep: interrupted; the report holds the finished combinations");
        return Ok(EXIT_INTERRUPTED);
    }
    Ok(EXIT_OK)
}

fn write_csv(path: &std::path::Path, axes: &[Axis], rows: &[SweepRow]) -> anyhow::Result<()> {
    let file = AtomicFile::create(path).with_context(|| path.display().to_string())?;
    let mut w = csv::Writer::from_writer(file);
    let mut header: Vec<&str> = axes.iter().map(|a| a.key.as_str()).collect();
    header.extend(COLUMNS.iter().map(|c| c.0));
    header.extend(["pareto", "feasible"]);
    w.write_record(&header)?;
    for r in rows {
        let mut rec = r.settings.clone();
        rec.extend(
            COLUMNS
                .iter()
                .map(|(_, m)| format!("{:.4}", r.summary.metric(m))),
        );
        rec.push(r.pareto.to_string());
        rec.push(r.feasible.to_string());
        w.write_record(&rec)?;
    }
    w.into_inner()
        .map_err(|e| e.into_error())?
        .commit()
        .with_context(|| path.display().to_string())
}

fn markdown(name: &str, axes: &[Axis], rows: &[SweepRow], objective: &Objective) -> String {
    let mut s = format!(
        "# Sweep of {name}\n\n{} combinations in simulation. Objective: {} {}{}. \
         ★ marks the Pareto front of p99 against error rate; rows that miss the objective's \
         constraints come last.\n\n",
        rows.len(),
        if objective.minimise { "min" } else { "max" },
        objective.metric,
        if objective.constraints.is_empty() {
            String::new()
        } else {
            format!(
                " where {}",
                objective
                    .constraints
                    .iter()
                    .map(|(m, c)| format!("{m} {c}"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            )
        }
    );
    let mut header: Vec<String> = vec!["".into()];
    header.extend(axes.iter().map(|a| a.key.clone()));
    header.extend(
        [
            "p50",
            "p99",
            "error rate",
            "fallback",
            "upstream calls",
            "amplification",
            "goodput",
        ]
        .map(String::from),
    );
    s.push_str(&format!("| {} |\n", header.join(" | ")));
    s.push_str(&format!("|{}\n", " --- |".repeat(header.len())));
    for (i, r) in rows.iter().enumerate() {
        let mark = match (i == 0 && r.feasible, r.pareto) {
            (true, true) => "best ★",
            (true, false) => "best",
            (false, true) => "★",
            (false, false) => "",
        };
        let mut cells = vec![mark.to_string()];
        cells.extend(r.settings.iter().cloned());
        for m in [
            "latency.p50",
            "latency.p99",
            "error_rate",
            "outcomes.fallback",
            "upstream.calls",
            "amplification",
            "goodput_rps",
        ] {
            cells.push(format_actual(m, r.summary.metric(m)));
        }
        if !r.feasible {
            cells[0].push_str(" (misses constraints)");
        }
        s.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    s
}
