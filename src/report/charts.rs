//! Charts with plotters, each as PNG and SVG: latency over time with the injected faults shaded,
//! the percentile distribution on HdrHistogram's "nines" axis, throughput stacked by outcome,
//! and the client's insides. Text uses DejaVu Sans embedded in the binary (registered with
//! plotters' `ab_glyph` backend), so a fresh machine with no system fonts renders it.
//!
//! The data is gathered apart from drawing it ([`ChartData`]), from recorded figures only.

use std::error::Error;
use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use super::atomic::{with_temporary, write_atomic};
use crate::client::Outcome as Answer;
use crate::record::EventWindow;
use crate::record::IntervalRow;
use crate::record::Outcome;

/// DejaVu Sans (see `assets/DejaVuSans-LICENSE.txt`).
static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

pub(super) fn ensure_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// Everything the charts show, gathered from a run.
#[derive(Debug, Clone, Default)]
pub struct ChartData {
    /// Scenario name, for titles.
    pub title: String,
    /// One row per interval.
    pub rows: Vec<IntervalRow>,
    /// Interval length, seconds.
    pub interval_s: f64,
    /// Scripted events to shade.
    pub events: Vec<EventWindow>,
    /// (nines = -log10(1 - q), latency ms) of the whole run.
    pub percentiles: Vec<(f64, f64)>,
}

impl ChartData {
    /// Gathers the chart data of a run.
    pub fn of(title: &str, run: &super::Recorded) -> Self {
        let h = &run.latency;
        let percentiles = if h.is_empty() {
            Vec::new()
        } else {
            h.iter_quantiles(5)
                .map(|v| {
                    let q = v.quantile_iterated_to().min(0.99999);
                    (
                        -(1.0 - q).log10(),
                        h.highest_equivalent(v.value_iterated_to()) as f64 / 1000.0,
                    )
                })
                .collect()
        };
        Self {
            title: title.to_string(),
            rows: run.rows.clone(),
            interval_s: run.interval.as_secs_f64(),
            events: run.events.clone(),
            percentiles,
        }
    }

    pub(super) fn end_s(&self) -> f64 {
        self.rows
            .last()
            .map_or(1.0, |r| r.start_s + self.interval_s)
            .max(1.0)
    }
}

pub(super) type DrawResult = Result<(), Box<dyn Error>>;

/// A figure read off an interval row.
type RowMetric = fn(&IntervalRow) -> f64;

/// A chart with time on x.
pub(super) type TimeChart<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// Draws one labelled line on a time chart in the style every time chart shares (2 px, a
/// short stroke in the legend), so the charts of one report read alike.
pub(super) fn time_line<DB: DrawingBackend>(
    chart: &mut TimeChart<'_, DB>,
    name: impl Into<String>,
    colour: RGBColor,
    points: impl IntoIterator<Item = (f64, f64)>,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    chart
        .draw_series(LineSeries::new(points, colour.stroke_width(2)))?
        .label(name)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2)));
    Ok(())
}

/// Draws a chart's legend in the house style (white, bordered, 13 px) at `position`; the one
/// place that style is written.
pub(super) fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .draw()?;
    Ok(())
}

/// A chart with nines on x and log latency on y.
type NinesChart<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<
        plotters::coord::types::RangedCoordf64,
        plotters::coord::combinators::LogCoord<f64>,
    >,
>;

/// A panel of the client-insides grid: title, unit, figure.
type Panel = (&'static str, &'static str, Box<dyn Fn(&IntervalRow) -> f64>);

const SIZE: (u32, u32) = (1000, 560);
/// The client-insides grid is taller.
const TALL: (u32, u32) = (1000, 840);

fn shade_events<DB: DrawingBackend>(
    chart: &mut ChartContext<
        '_,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    events: &[EventWindow],
    end_s: f64,
    top: f64,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    for (i, e) in events.iter().enumerate() {
        let until = e.until_s.unwrap_or(end_s).min(end_s);
        let colour = if e.kind == "outage" { RED } else { MAGENTA };
        if until > e.at_s {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(e.at_s, 0.0), (until, top)],
                colour.mix(0.12).filled(),
            )))?;
        } else {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(e.at_s, 0.0), (e.at_s, top)],
                colour.mix(0.6).stroke_width(2),
            )))?;
        }
        chart.draw_series(std::iter::once(Text::new(
            e.label.clone(),
            (e.at_s, top * (0.97 - 0.05 * (i % 4) as f64)),
            ("sans-serif", 13).into_font().color(&colour),
        )))?;
    }
    Ok(())
}

/// A chart over the run's time axis, titled, with its mesh drawn and the faults shaded.
pub(super) fn time_axes<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    what: &str,
    y_desc: &str,
    d: &ChartData,
    top: f64,
) -> Result<TimeChart<'a, DB>, Box<dyn Error>>
where
    DB::ErrorType: 'static,
{
    let mut chart = ChartBuilder::on(root)
        .caption(format!("{}: {what}", d.title), ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..d.end_s(), 0.0..top)?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc(y_desc)
        .label_style(("sans-serif", 13))
        .draw()?;
    shade_events(&mut chart, &d.events, d.end_s(), top)?;
    Ok(chart)
}

/// A chart on HdrHistogram's "nines" axis (0 to 99.999) with latency on a log scale.
fn nines_axes<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    caption: String,
    min: f64,
    max: f64,
) -> Result<NinesChart<'a, DB>, Box<dyn Error>>
where
    DB::ErrorType: 'static,
{
    let mut chart = ChartBuilder::on(root)
        .caption(caption, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..5.0, (min..max).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (ms, log scale)")
        .x_labels(6)
        .x_label_formatter(&|x: &f64| {
            ["0", "90", "99", "99.9", "99.99", "99.999"][(x.round() as usize).min(5)].to_string()
        })
        .label_style(("sans-serif", 13))
        .draw()?;
    Ok(chart)
}

fn latency_over_time<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, d: &ChartData) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let top = d.rows.iter().map(|r| r.max_ms).fold(1.0, f64::max) * 1.1;
    let mut chart = time_axes(&root, "latency over time", "latency (ms)", d, top)?;
    let series: [(&str, RowMetric, RGBColor); 4] = [
        ("p50", |r| r.p50_ms, BLUE),
        ("p95", |r| r.p95_ms, GREEN),
        ("p99", |r| r.p99_ms, RGBColor(230, 120, 0)),
        ("max", |r| r.max_ms, BLACK),
    ];
    for (name, f, colour) in series {
        let points = d
            .rows
            .iter()
            .filter(|r| r.completed > 0)
            .map(|r| (r.start_s + d.interval_s / 2.0, f(r)));
        time_line(&mut chart, name, colour, points)?;
    }
    legend(&mut chart, SeriesLabelPosition::MiddleRight)?;
    root.present()?;
    Ok(())
}

fn percentile_distribution<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    d: &ChartData,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let max = d.percentiles.iter().map(|p| p.1).fold(1.0, f64::max) * 1.5;
    let min = d
        .percentiles
        .iter()
        .map(|p| p.1)
        .fold(f64::MAX, f64::min)
        .clamp(0.01, max / 2.0)
        * 0.7;
    let mut chart = nines_axes(
        &root,
        format!("{}: latency by percentile", d.title),
        min,
        max,
    )?;
    chart.draw_series(LineSeries::new(
        d.percentiles.iter().map(|&(x, y)| (x.min(5.0), y.max(min))),
        BLUE.stroke_width(2),
    ))?;
    root.present()?;
    Ok(())
}

/// Each outcome's band colour in the stacked chart (errors red, answers from the upstream blue).
fn outcome_colour(o: Outcome) -> RGBColor {
    match o {
        Outcome::Answer(Answer::Upstream) => RGBColor(31, 119, 180),
        Outcome::Answer(Answer::CacheHit) => RGBColor(44, 160, 44),
        Outcome::Answer(Answer::Coalesced) => RGBColor(148, 103, 189),
        Outcome::Answer(Answer::Stale) => RGBColor(140, 86, 75),
        Outcome::Answer(Answer::Fallback) => RGBColor(255, 127, 14),
        Outcome::Answer(Answer::Queued) => RGBColor(23, 190, 207),
        Outcome::Answer(Answer::Degraded) => RGBColor(188, 189, 34),
        Outcome::Answer(Answer::SemanticHit) => RGBColor(152, 223, 138),
        Outcome::StreamBroken => RGBColor(227, 119, 194),
        Outcome::Error => RGBColor(214, 39, 40),
    }
}

fn throughput_by_outcome<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    d: &ChartData,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let per_s = |n: u64| n as f64 / d.interval_s;
    let top = d
        .rows
        .iter()
        .map(|r| per_s(r.completed).max(r.offered_rps))
        .fold(1.0, f64::max)
        * 1.15;
    let mut chart = time_axes(
        &root,
        "answers per second by outcome",
        "requests / s",
        d,
        top,
    )?;
    // Stacked: each band is drawn from the cumulative sum of the outcomes below it.
    for outcome in Outcome::ALL.into_iter().rev() {
        let i = outcome.index();
        let colour = outcome_colour(outcome);
        chart
            .draw_series(AreaSeries::new(
                d.rows.iter().map(|r| {
                    let cum: u64 = r.outcomes[..=i].iter().sum();
                    (r.start_s + d.interval_s / 2.0, per_s(cum))
                }),
                0.0,
                colour.mix(0.7),
            ))?
            .label(outcome.name())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], colour.filled()));
    }
    chart
        .draw_series(LineSeries::new(
            d.rows
                .iter()
                .filter(|r| r.offered_rps > 0.0)
                .map(|r| (r.start_s + d.interval_s / 2.0, r.offered_rps)),
            BLACK.stroke_width(1),
        ))?
        .label("offered")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
    legend(&mut chart, SeriesLabelPosition::MiddleRight)?;
    root.present()?;
    Ok(())
}

fn client_insides<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, d: &ChartData) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let root = root.titled(
        &format!("{}: the client's insides", d.title),
        ("sans-serif", 22),
    )?;
    let panels = root.split_evenly((3, 2));
    let breaker = |s: &str| match s {
        "open" => 2.0,
        "half_open" => 1.0,
        _ => 0.0,
    };
    let series: [Panel; 5] = [
        (
            "retries per interval",
            "retries",
            Box::new(|r| r.retries as f64),
        ),
        (
            "limiter wait (ms, summed)",
            "ms",
            Box::new(|r| r.limiter_wait_ms),
        ),
        (
            "limiter queue depth (max)",
            "requests",
            Box::new(|r| r.queue_depth_max as f64),
        ),
        (
            "breaker (0 closed, 1 half-open, 2 open)",
            "state",
            Box::new(move |r| breaker(r.breaker)),
        ),
        (
            "quota remaining (x-ratelimit-remaining-requests)",
            "requests",
            Box::new(|r| r.quota_remaining.unwrap_or(0) as f64),
        ),
    ];
    for (panel, (title, unit, f)) in panels.iter().zip(series.iter()) {
        let top = d.rows.iter().map(f.as_ref()).fold(1.0, f64::max) * 1.15;
        let mut chart = ChartBuilder::on(panel)
            .caption(*title, ("sans-serif", 15))
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(55)
            .build_cartesian_2d(0.0..d.end_s(), 0.0..top)?;
        chart
            .configure_mesh()
            .x_desc("time (s)")
            .y_desc(*unit)
            .label_style(("sans-serif", 11))
            .draw()?;
        shade_events(&mut chart, &d.events, d.end_s(), top)?;
        chart.draw_series(LineSeries::new(
            d.rows
                .iter()
                .map(|r| (r.start_s + d.interval_s / 2.0, f(r))),
            BLUE.stroke_width(2),
        ))?;
    }
    root.present()?;
    Ok(())
}

/// The charts by file stem, with their drawing functions for any backend.
pub const CHARTS: [&str; 6] = [
    "latency_over_time",
    "percentiles",
    "throughput_by_outcome",
    "client_insides",
    "upstream_view",
    "tokens_over_time",
];

fn draw_on<DB: DrawingBackend>(
    name: &str,
    root: DrawingArea<DB, Shift>,
    d: &ChartData,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    match name {
        "latency_over_time" => latency_over_time(root, d),
        "percentiles" => percentile_distribution(root, d),
        "throughput_by_outcome" => throughput_by_outcome(root, d),
        "upstream_view" => super::upstream_view_chart::draw(root, d),
        "tokens_over_time" => super::llm_charts::tokens_over_time(root, d),
        _ => client_insides(root, d),
    }
}

fn size(name: &str) -> (u32, u32) {
    if name == "client_insides" || name == "tokens_over_time" {
        TALL
    } else {
        SIZE
    }
}

/// One chart as an SVG string.
pub fn svg(name: &str, d: &ChartData) -> Result<String, Box<dyn Error>> {
    ensure_font();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size(name)).into_drawing_area();
        draw_on(name, root, d)?;
    }
    Ok(out)
}

/// Writes every chart as `NAME.svg` and `NAME.png` into `dir`.
pub fn write_charts(dir: &Path, d: &ChartData) -> Result<(), Box<dyn Error>> {
    ensure_font();
    for name in CHARTS {
        write_atomic(&dir.join(format!("{name}.svg")), svg(name, d)?.as_bytes())?;
        with_temporary(&dir.join(format!("{name}.png")), |tmp| {
            let root = BitMapBackend::new(tmp, size(name)).into_drawing_area();
            draw_on(name, root, d)
        })?;
    }
    Ok(())
}

/// The percentile distributions of two runs on one chart (`gauntlet compare`).
fn overlay<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    base: &ChartData,
    candidate: &ChartData,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let all = base
        .percentiles
        .iter()
        .chain(&candidate.percentiles)
        .map(|p| p.1);
    let max = all.clone().fold(1.0, f64::max) * 1.5;
    let min = all.fold(f64::MAX, f64::min).clamp(0.01, max / 2.0) * 0.7;
    let mut chart = nines_axes(
        &root,
        "latency by percentile: base against candidate".to_string(),
        min,
        max,
    )?;
    for (d, colour, name) in [(base, BLUE, "base"), (candidate, RED, "candidate")] {
        chart
            .draw_series(LineSeries::new(
                d.percentiles.iter().map(|&(x, y)| (x.min(5.0), y.max(min))),
                colour.stroke_width(2),
            ))?
            .label(format!("{name}: {}", d.title))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    root.present()?;
    Ok(())
}

/// Writes the overlaid percentile chart as `STEM.svg` and `STEM.png`.
pub fn write_overlay(
    dir: &Path,
    stem: &str,
    base: &ChartData,
    candidate: &ChartData,
) -> Result<(), Box<dyn Error>> {
    ensure_font();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        overlay(root, base, candidate)?;
    }
    write_atomic(&dir.join(format!("{stem}.svg")), out.as_bytes())?;
    with_temporary(&dir.join(format!("{stem}.png")), |tmp| {
        overlay(
            BitMapBackend::new(tmp, SIZE).into_drawing_area(),
            base,
            candidate,
        )
    })
}
