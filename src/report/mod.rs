//! Reports: everything here reads recorded data only (the summary, interval rows, histograms)
//! and writes it to `W: Write`, so `gauntlet report` can regenerate files without running.

pub(crate) mod atomic;
mod build;
pub(crate) mod charts;
pub(crate) mod compare;
pub(crate) mod counters;
pub(crate) mod hgrm;
pub mod histograms;
pub(crate) mod hlog;
pub(crate) mod html;
pub(crate) mod junit;
pub(crate) mod llm_charts;
pub(crate) mod llm_compare;
pub(crate) mod llm_hlog;
pub(crate) mod llm_summary;
pub(crate) mod llm_table;
pub(crate) mod llm_timeseries;
pub mod load;
pub(crate) mod markdown;
pub(crate) mod merge;
pub(crate) mod pareto;
pub(crate) mod plan_chart;
pub mod plan_files;
pub(crate) mod recovery;
pub mod summary;
pub(crate) mod table;
pub(crate) mod timeseries;
pub mod upstream_view;
mod upstream_view_chart;
mod upstream_view_csv;

use std::path::{Path, PathBuf};
use std::time::Duration;

use atomic::AtomicFile;
pub use summary::Summary;

use crate::record::RunResult;

/// Why report files could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The report file being created or written.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A chart could not be drawn.
    #[error("{path}: chart: {message}")]
    Chart {
        /// The report directory the charts' SVG and PNG files go to.
        path: PathBuf,
        /// What plotters said.
        message: String,
    },
    /// The CSV writer failed.
    #[error("{path}: {source}")]
    Csv {
        /// The `timeseries.csv` being written.
        path: PathBuf,
        /// What went wrong.
        source: csv::Error,
    },
}

/// Writes one report file atomically through `write`.
fn write_file(
    path: &Path,
    write: impl FnOnce(&mut AtomicFile) -> std::io::Result<()>,
) -> Result<(), ReportError> {
    let io = |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = AtomicFile::create(path).map_err(io)?;
    write(&mut f).map_err(io)?;
    f.commit().map_err(io)
}

/// What every report file is made from: the interval rows (with their histograms), the whole
/// run's latency histogram and the scripted events. A live run hands it over; `gauntlet report`
/// reads it back from `timeseries.csv`, `latency.hlog` and `summary.json`.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// One row per interval.
    pub rows: Vec<crate::record::IntervalRow>,
    /// Length of each row's interval: the run's, or as read back from `latency.hlog`.
    pub interval: std::time::Duration,
    /// Unix time of the start (0 in simulation).
    pub epoch_secs: u64,
    /// Latency of the whole run, µs.
    pub latency: hdrhistogram::Histogram<u64>,
    /// The scripted events.
    pub events: Vec<crate::record::EventWindow>,
    /// Every whole-run histogram by name (empty when read back from a directory without
    /// `histograms.hlog`).
    pub histograms: histograms::NamedHistograms,
}

impl Recorded {
    /// From a run that just ended.
    pub fn of(run: &RunResult) -> Self {
        Self {
            rows: run.rows.clone(),
            interval: run.interval,
            epoch_secs: run.epoch_secs,
            latency: run.totals.latency.clone(),
            events: run.events.clone(),
            histograms: histograms::of_totals(&run.totals),
        }
    }
}

/// Writes `summary.json`, `summary.md`, `junit.xml`, `timeseries.csv`, `latency.hlog`,
/// `histograms.hlog`, `latency.hgrm`, the charts (PNG and SVG) and `report.html` into `dir` (created if needed).
pub fn write_run(dir: &Path, summary: &Summary, run: &Recorded) -> Result<(), ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    write_file(&dir.join("summary.json"), |f| {
        serde_json::to_writer_pretty(f, summary).map_err(std::io::Error::other)
    })?;
    let path = dir.join("timeseries.csv");
    write_file(&path, |f| {
        timeseries::write_csv(&run.rows, run.interval.as_secs_f64(), f)
            .map_err(std::io::Error::other)
    })?;
    write_file(&dir.join("summary.md"), |f| {
        markdown::write_markdown(summary, f)
    })?;
    write_file(&dir.join("junit.xml"), |f| junit::write_junit(summary, f))?;
    write_file(&dir.join("latency.hlog"), |f| {
        hlog::write_hlog(&run.rows, run.interval, run.epoch_secs, f)
    })?;
    if llm_hlog::has_tokens(&run.rows) {
        write_file(&dir.join("tokens.hlog"), |f| {
            llm_hlog::write_tokens_hlog(&run.rows, run.interval, run.epoch_secs, f)
        })?;
    }
    if !run.histograms.is_empty() {
        let span = Duration::try_from_secs_f64(summary.duration_s).unwrap_or(Duration::ZERO);
        write_file(&dir.join("histograms.hlog"), |f| {
            histograms::write_histograms(&run.histograms, span, f)
        })?;
    }
    write_file(&dir.join("latency.hgrm"), |f| {
        hgrm::write_hgrm(&run.latency, f)
    })?;
    let data = charts::ChartData::of(&summary.scenario, run);
    charts::write_charts(dir, &data).map_err(|e| ReportError::Chart {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    write_file(&dir.join("report.html"), |f| {
        html::write_html(summary, &summary.description, &data, f)
    })
}
