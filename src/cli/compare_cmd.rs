//! `gauntlet compare BASE_DIR CANDIDATE_DIR [--fail-on-regression 10%]`.

use std::path::Path;

use super::{CompareArgs, EXIT_OK, EXIT_THRESHOLDS, EXIT_USAGE};
use crate::report::charts::{write_overlay, ChartData};
use crate::report::compare::{compare, write_table};
use crate::report::load::{load_recorded, load_summary};
use crate::report::Summary;

/// `--fail-on-regression` as a fraction.
fn tolerance(text: &str) -> anyhow::Result<f64> {
    let t = text.trim();
    let v = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|x| x / 100.0),
        None => t.parse::<f64>(),
    };
    v.ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| {
            anyhow::anyhow!("--fail-on-regression {text:?}: write a percentage like 10%")
        })
}

/// Runs the comparison; exit 1 when a metric regressed beyond the tolerance.
pub(crate) fn run(args: CompareArgs) -> u8 {
    let result = (|| {
        let tol = args
            .fail_on_regression
            .as_deref()
            .map(tolerance)
            .transpose()?;
        let base = load_summary(&args.base)?;
        let candidate = load_summary(&args.candidate)?;
        Ok::<_, anyhow::Error>((compare(&base, &candidate, tol), base, candidate))
    })();
    let (deltas, base, candidate) = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gauntlet compare: {e}");
            return EXIT_USAGE;
        }
    };
    let _ = write_table(
        &deltas,
        &format!("base ({})", base.scenario),
        &format!("candidate ({})", candidate.scenario),
        std::io::stdout().lock(),
    );
    // The overlaid percentile chart goes next to the candidate's report.
    let chart = (|| {
        let b = load_recorded(&args.base, &base)?;
        let c = load_recorded(&args.candidate, &candidate)?;
        let label = |s: &Summary, dir: &Path| format!("{} ({})", s.scenario, dir.display());
        let bd = ChartData::of(&label(&base, &args.base), &b);
        let cd = ChartData::of(&label(&candidate, &args.candidate), &c);
        write_overlay(&args.candidate, "compare_percentiles", &bd, &cd)
            .map_err(|e| anyhow::anyhow!("{e}"))
    })();
    match chart {
        Ok(()) => println!(
            "\nchart     {}",
            args.candidate.join("compare_percentiles.svg").display()
        ),
        Err(e) => eprintln!("gauntlet compare: no chart: {e}"),
    }
    if deltas.iter().any(|d| d.regressed) {
        EXIT_THRESHOLDS
    } else {
        EXIT_OK
    }
}
