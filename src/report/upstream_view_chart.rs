//! The upstream's view over time: attempts that reached the upstream against the requests the
//! driver started, with the attempts that came before `retry-after` ran out and the retries of
//! non-retryable errors. The gap between the first two lines is the system's amplification.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::charts::{legend, time_axes, time_line, ChartData, DrawResult};
use crate::record::IntervalRow;

/// A line of the chart: legend, figure per interval, colour.
type Line = (&'static str, fn(&IntervalRow) -> f64, RGBColor);

const LINES: [Line; 4] = [
    ("driver requests started", |r| r.started as f64, BLUE),
    (
        "upstream attempts",
        |r| r.upstream_view.map_or(0.0, |v| v.attempts as f64),
        BLACK,
    ),
    (
        "early after 429 (before retry-after)",
        |r| r.upstream_view.map_or(0.0, |v| v.early_429 as f64),
        RED,
    ),
    (
        "retries of non-retryable errors",
        |r| {
            r.upstream_view
                .map_or(0.0, |v| v.non_retryable_retries as f64)
        },
        RGBColor(230, 120, 0),
    ),
];

/// Draws the chart; a run without a view (a real API as the target) says so.
pub(super) fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, d: &ChartData) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let top = d
        .rows
        .iter()
        .flat_map(|r| LINES.iter().map(move |(_, f, _)| f(r)))
        .fold(1.0, f64::max)
        * 1.15;
    let caption = "the upstream's view: attempts vs requests per interval";
    let mut chart = time_axes(&root, caption, "per interval", d, top)?;
    if d.rows.iter().all(|r| r.upstream_view.is_none()) {
        chart.draw_series(std::iter::once(Text::new(
            "no upstream view: the target was not the mock",
            (d.end_s() * 0.3, top * 0.5),
            ("sans-serif", 18).into_font(),
        )))?;
    } else {
        for (name, f, colour) in LINES {
            let points = d
                .rows
                .iter()
                .map(|r| (r.start_s + d.interval_s / 2.0, f(r)));
            time_line(&mut chart, name, colour, points)?;
        }
        legend(&mut chart, SeriesLabelPosition::MiddleRight)?;
    }
    root.present()?;
    Ok(())
}
