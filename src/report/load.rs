//! Reading a run directory back (`gauntlet report DIR`): the interval rows from
//! `timeseries.csv`, their histograms and the run's total from `latency.hlog`, the events from
//! `summary.json`. Every other file is made from these.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;

use super::histograms::{read_histograms, NamedHistograms, ReadHistogramsError};
use super::summary::Summary;
use super::timeseries::{read_csv, ReadError};
use super::Recorded;
use crate::record::new_histogram;
use crate::record::{EventWindow, IntervalRow};

/// Why a run directory could not be read back; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file that could not be opened or read (a missing one included).
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// `summary.json` is not a summary.
    #[error("{path}: {source}")]
    Summary {
        /// The directory's `summary.json`.
        path: PathBuf,
        /// Where and why it does not read.
        source: serde_json::Error,
    },
    /// `timeseries.csv` does not read.
    #[error("{path}: {source}")]
    Timeseries {
        /// The directory's `timeseries.csv`.
        path: PathBuf,
        /// The line and column that do not read.
        source: ReadError,
    },
    /// `latency.hlog` does not read.
    #[error("{path}: {detail}")]
    LatencyLog {
        /// The directory's `latency.hlog`.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// `histograms.hlog` does not read.
    #[error("{path}: {source}")]
    Histograms {
        /// The directory's `histograms.hlog`.
        path: PathBuf,
        /// What was wrong.
        source: ReadHistogramsError,
    },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> LoadError + '_ {
    move |source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads `summary.json`.
pub fn load_summary(dir: &Path) -> Result<Summary, LoadError> {
    let path = dir.join("summary.json");
    let text = std::fs::read_to_string(&path).map_err(io_error(&path))?;
    serde_json::from_str(&text).map_err(|source| LoadError::Summary { path, source })
}

/// Reads the recorded data of a run directory.
pub fn load_recorded(dir: &Path, summary: &Summary) -> Result<Recorded, LoadError> {
    let mut rows = read_rows(&dir.join("timeseries.csv"))?;
    let log = read_latency_log(&dir.join("latency.hlog"), &mut rows)?;
    Ok(Recorded {
        rows,
        interval: log.interval,
        epoch_secs: log.epoch_secs,
        latency: log.latency,
        events: events_of(summary),
        histograms: read_named_histograms(&dir.join("histograms.hlog"))?,
    })
}

fn read_rows(path: &Path) -> Result<Vec<IntervalRow>, LoadError> {
    let file = std::fs::File::open(path).map_err(io_error(path))?;
    read_csv(std::io::BufReader::new(file)).map_err(|source| LoadError::Timeseries {
        path: path.to_path_buf(),
        source,
    })
}

/// What `latency.hlog` holds besides the interval histograms it gives the rows.
struct LatencyLog {
    interval: Duration,
    epoch_secs: u64,
    latency: Histogram<u64>,
}

/// Reads the interval histograms, gives each to its row, and adds them into the run's latency.
fn read_latency_log(path: &Path, rows: &mut [IntervalRow]) -> Result<LatencyLog, LoadError> {
    let text = std::fs::read(path).map_err(io_error(path))?;
    let bad = |detail: String| LoadError::LatencyLog {
        path: path.to_path_buf(),
        detail,
    };
    let epoch_secs = String::from_utf8_lossy(&text)
        .lines()
        .find_map(|l| l.strip_prefix("#[StartTime: "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0) as u64;
    let mut log = LatencyLog {
        interval: Duration::from_secs(1),
        epoch_secs,
        latency: new_histogram(),
    };
    let mut de = Deserializer::new();
    for entry in IntervalLogIterator::new(&text) {
        let Ok(LogEntry::Interval(h)) = entry else {
            continue;
        };
        log.interval = h.duration();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(h.encoded_histogram())
            .map_err(|e| bad(e.to_string()))?;
        let hist: Histogram<u64> = de
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| bad(format!("{e:?}")))?;
        log.latency.add(&hist).map_err(|e| bad(format!("{e:?}")))?;
        let start = h.start_timestamp().as_secs_f64();
        if let Some(row) = rows.iter_mut().find(|r| (r.start_s - start).abs() < 1e-6) {
            row.histogram = bytes;
        }
    }
    Ok(log)
}

/// The scripted events, as the summary's recovery entries name them.
fn events_of(summary: &Summary) -> Vec<EventWindow> {
    summary
        .recovery
        .iter()
        .map(|r| EventWindow {
            label: r.event.clone(),
            kind: r.event.split_whitespace().next().unwrap_or("").to_string(),
            at_s: r.at_s,
            until_s: (r.end_s > r.at_s).then_some(r.end_s),
        })
        .collect()
}

/// `histograms.hlog`, or none when the run directory predates it.
fn read_named_histograms(path: &Path) -> Result<NamedHistograms, LoadError> {
    match std::fs::read(path) {
        Ok(text) => read_histograms(&text).map_err(|source| LoadError::Histograms {
            path: path.to_path_buf(),
            source,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io_error(path)(e)),
    }
}
