//! `tokens_over_time`: what a streamed answer felt like over the run, in three panels — time to
//! first token p50 / p99, inter-token latency p50 / p99 (of the requests completed in each
//! interval), and output tokens per second — with the injected faults shaded as on the other
//! charts. A run without streams draws empty panels.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::charts::{legend, time_axes, time_line, ChartData, DrawResult};
use crate::record::IntervalRow;

/// One panel: title, unit, and its lines (name, figure, colour).
type Panel = (
    &'static str,
    &'static str,
    Vec<(&'static str, fn(&IntervalRow) -> f64, RGBColor)>,
);

fn panels() -> [Panel; 3] {
    [
        (
            "time to first token (from intended start)",
            "ms",
            vec![
                ("p50", |r| r.tokens.ttft_p50_ms, BLUE),
                ("p99", |r| r.tokens.ttft_p99_ms, RGBColor(230, 120, 0)),
            ],
        ),
        (
            "inter-token latency",
            "ms",
            vec![
                ("p50", |r| r.tokens.itl_p50_ms, BLUE),
                ("p99", |r| r.tokens.itl_p99_ms, RGBColor(230, 120, 0)),
            ],
        ),
        (
            "output tokens per second",
            "tokens / interval",
            vec![("output", |r| r.tokens.output_tokens as f64, GREEN)],
        ),
    ]
}

/// Draws the three panels.
pub(super) fn tokens_over_time<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    d: &ChartData,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let areas = root.split_evenly((3, 1));
    for (area, (what, unit, lines)) in areas.iter().zip(panels()) {
        let per_s = what.starts_with("output");
        let scale = if per_s {
            1.0 / d.interval_s.max(1e-9)
        } else {
            1.0
        };
        let top = d
            .rows
            .iter()
            .flat_map(|r| lines.iter().map(move |(_, f, _)| f(r) * scale))
            .fold(1.0, f64::max)
            * 1.15;
        let unit = if per_s { "tokens / s" } else { unit };
        let mut chart = time_axes(area, what, unit, d, top)?;
        for (name, f, colour) in lines {
            let points = d
                .rows
                .iter()
                // An interval without streams has no percentile to draw.
                .filter(|r| per_s || f(r) > 0.0)
                .map(|r| (r.start_s + d.interval_s / 2.0, f(r) * scale));
            time_line(&mut chart, name, colour, points)?;
        }
        legend(&mut chart, SeriesLabelPosition::MiddleRight)?;
    }
    root.present()?;
    Ok(())
}
