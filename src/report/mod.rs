//! Reports: everything here reads recorded data only (the summary, interval rows, histograms)
//! and writes it to `W: Write`, so `gauntlet report` can regenerate files without running.

pub mod charts;
pub mod compare;
pub mod hgrm;
pub mod hlog;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod pareto;
pub mod recovery;
pub mod summary;
pub mod table;
pub mod timeseries;

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

pub use summary::Summary;

use crate::driver::RunResult;
use crate::scenario::Scenario;

/// Why report files could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A chart could not be drawn.
    #[error("{path}: chart: {message}")]
    Chart {
        /// The directory.
        path: PathBuf,
        /// What plotters said.
        message: String,
    },
    /// The CSV writer failed.
    #[error("{path}: {source}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: csv::Error,
    },
}

fn create(path: &Path) -> Result<BufWriter<File>, ReportError> {
    File::create(path)
        .map(BufWriter::new)
        .map_err(|source| ReportError::Io {
            path: path.to_path_buf(),
            source,
        })
}

/// Writes `summary.json`, `summary.md`, `junit.xml`, `timeseries.csv`, `latency.hlog`,
/// `latency.hgrm`, the charts (PNG and SVG) and `report.html` into `dir` (created if needed).
pub fn write_run(
    dir: &Path,
    scenario: &Scenario,
    summary: &Summary,
    run: &RunResult,
) -> Result<(), ReportError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReportError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let path = dir.join("summary.json");
    let mut f = create(&path)?;
    serde_json::to_writer_pretty(&mut f, summary)
        .map_err(std::io::Error::other)
        .map_err(io(&path))?;
    std::io::Write::flush(&mut f).map_err(io(&path))?;

    let path = dir.join("timeseries.csv");
    timeseries::write_csv(&run.rows, run.interval.as_secs_f64(), create(&path)?)
        .map_err(|source| ReportError::Csv { path, source })?;

    let path = dir.join("summary.md");
    let mut f = create(&path)?;
    markdown::write_markdown(summary, &mut f).map_err(io(&path))?;
    std::io::Write::flush(&mut f).map_err(io(&path))?;

    let path = dir.join("junit.xml");
    let mut f = create(&path)?;
    junit::write_junit(summary, &mut f).map_err(io(&path))?;
    std::io::Write::flush(&mut f).map_err(io(&path))?;

    let path = dir.join("latency.hlog");
    let mut f = create(&path)?;
    hlog::write_hlog(&run.rows, run.interval, run.epoch_secs, &mut f).map_err(io(&path))?;
    std::io::Write::flush(&mut f).map_err(io(&path))?;

    let path = dir.join("latency.hgrm");
    let mut f = create(&path)?;
    hgrm::write_hgrm(&run.totals.latency, &mut f).map_err(io(&path))?;
    std::io::Write::flush(&mut f).map_err(io(&path))?;

    let data = charts::ChartData::of(&scenario.name, run);
    charts::write_charts(dir, &data).map_err(|e| ReportError::Chart {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    let path = dir.join("report.html");
    let mut f = create(&path)?;
    html::write_html(summary, &scenario.description, &data, &mut f).map_err(io(&path))?;
    std::io::Write::flush(&mut f).map_err(io(&path))?;
    Ok(())
}
