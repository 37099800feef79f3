//! `plan.svg`, the knee chart: p99, error rate, goodput and quota used (and any other `--until`
//! metric) against the varied value, one panel each, the SLO's limits drawn as dashed lines and
//! the answer as a vertical line, so the knee the answer sits on is visible.

use std::error::Error;

use plotters::coord::Shift;
use plotters::prelude::*;

use std::path::Path;

use super::atomic::{with_temporary, write_atomic};
use super::charts::{ensure_font, DrawResult};
use super::plan_files::PlanFile;

/// The panels every knee chart has, with their axis labels and the factor from the metric's
/// unit to the axis's.
const PANELS: [(&str, &str, f64); 4] = [
    ("latency.p99", "p99 latency (ms)", 1.0),
    ("error_rate", "error rate (%)", 100.0),
    ("goodput_rps", "goodput (req/s)", 1.0),
    ("quota.used", "quota used", 1.0),
];

/// The metrics drawn: the fixed panels, then any other `--until` metric.
fn panels(limits: &[(String, f64)]) -> Vec<(String, String, f64)> {
    let mut p: Vec<(String, String, f64)> = PANELS
        .iter()
        .map(|(m, l, f)| (m.to_string(), l.to_string(), *f))
        .collect();
    for (m, _) in limits {
        if !p.iter().any(|x| &x.0 == m) {
            let factor = if m == "error_rate" || m.starts_with("outcomes.") {
                100.0
            } else {
                1.0
            };
            p.push((m.clone(), m.clone(), factor));
        }
    }
    p
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    plan: &PlanFile,
    (metric, label, factor): &(String, String, f64),
    limits: &[(String, f64)],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let steps = &plan.base.steps;
    let mut pts: Vec<(f64, f64, bool)> = steps
        .iter()
        .filter_map(|s| {
            let v = s.metrics.get(metric).copied().filter(|v| v.is_finite())?;
            Some((s.value, v * factor, s.pass))
        })
        .collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let lines: Vec<f64> = limits
        .iter()
        .filter(|l| &l.0 == metric)
        .map(|l| l.1 * factor)
        .collect();
    let top = pts
        .iter()
        .map(|p| p.1)
        .chain(lines.iter().copied())
        .fold(0.0, f64::max)
        .max(1e-9)
        * 1.1;
    let (lo, hi) = (plan.lo, plan.hi.max(plan.lo + 1e-9));
    let mut chart = ChartBuilder::on(area)
        .caption(label.as_str(), ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(32)
        .y_label_area_size(60)
        .build_cartesian_2d(lo..hi, 0.0..top)?;
    chart
        .configure_mesh()
        .x_desc(plan.key.as_str())
        .label_style(("sans-serif", 12))
        .draw()?;
    chart.draw_series(LineSeries::new(
        pts.iter().map(|p| (p.0, p.1)),
        BLUE.stroke_width(2),
    ))?;
    chart.draw_series(pts.iter().map(|p| {
        let colour = if p.2 { GREEN } else { RED };
        Circle::new((p.0, p.1), 4, colour.filled())
    }))?;
    for y in lines {
        chart.draw_series(DashedLineSeries::new(
            vec![(lo, y), (hi, y)],
            6,
            4,
            BLACK.stroke_width(1),
        ))?;
    }
    if let Some(a) = plan.base.answer {
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(a, 0.0), (a, top)],
            RGBColor(230, 120, 0).stroke_width(2),
        )))?;
    }
    Ok(())
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    plan: &PlanFile,
    limits: &[(String, f64)],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let answer = match plan.base.answer {
        Some(v) => format!(
            "answer {}{}",
            plan.value(v),
            if plan.base.at_least {
                " (at least)"
            } else {
                ""
            }
        ),
        None => "no value meets the SLO".into(),
    };
    let root = root.titled(
        &format!(
            "{}: {} until {} — {answer}",
            plan.scenario, plan.key, plan.until
        ),
        ("sans-serif", 20),
    )?;
    let ps = panels(limits);
    let rows = ps.len().div_ceil(2);
    for (area, p) in root.split_evenly((rows, 2)).iter().zip(&ps) {
        panel(area, plan, p, limits)?;
    }
    root.present()?;
    Ok(())
}

fn size(limits: &[(String, f64)]) -> (u32, u32) {
    (1100, 60 + 320 * panels(limits).len().div_ceil(2) as u32)
}

/// The knee chart as an SVG string; `limits` are the `--until` metrics and their limits.
pub fn plan_svg(plan: &PlanFile, limits: &[(String, f64)]) -> Result<String, Box<dyn Error>> {
    ensure_font();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size(limits)).into_drawing_area();
        draw(root, plan, limits)?;
    }
    Ok(out)
}

/// Writes the knee chart as `plan.svg` and `plan.png` into `dir`, as the run charts are written.
pub fn write_plan_chart(
    dir: &Path,
    plan: &PlanFile,
    limits: &[(String, f64)],
) -> Result<(), Box<dyn Error>> {
    write_atomic(&dir.join("plan.svg"), plan_svg(plan, limits)?.as_bytes())?;
    with_temporary(&dir.join("plan.png"), |tmp| {
        draw(
            BitMapBackend::new(tmp, size(limits)).into_drawing_area(),
            plan,
            limits,
        )
    })
}
