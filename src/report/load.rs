//! Reading a run directory back (`gauntlet report DIR`): the interval rows from
//! `timeseries.csv`, their histograms and the run's total from `latency.hlog`, the events from
//! `summary.json`. Every other file is made from these.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry, LogIteratorError};
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
    /// A file disagrees with `summary.json`, or holds a value no run writes: damaged, cut short
    /// or from another run. Refused rather than rebuilt into wrong numbers.
    #[error("{path}: {detail}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What does not add up.
        detail: String,
    },
    /// `tokens.hlog` does not read.
    #[error(transparent)]
    TokensLog(#[from] super::llm_hlog::TokensLogError),
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
    check_summary(&dir.join("summary.json"), summary)?;
    let mut rows = read_rows(&dir.join("timeseries.csv"))?;
    check_rows(&dir.join("timeseries.csv"), &rows, summary)?;
    let log = read_latency_log(&dir.join("latency.hlog"), &mut rows)?;
    check_latency(&dir.join("latency.hlog"), &log.latency, summary)?;
    super::llm_hlog::read_tokens_hlog(dir, &mut rows)?;
    Ok(Recorded {
        rows,
        interval: log.interval,
        epoch_secs: log.epoch_secs,
        latency: log.latency,
        events: events_of(summary),
        histograms: read_named_histograms(&dir.join("histograms.hlog"))?,
    })
}

/// The longest run a report can be of: the longest duration a scenario accepts (10 years), with
/// room for its drain.
const MAX_RUN_S: f64 = 20.0 * 365.0 * 86_400.0;

/// A number as a person reads it: `1e300`, not three hundred digits.
fn figure(v: f64) -> String {
    if v.is_finite() && v.abs() >= 1e15 {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

fn damaged(path: &Path, detail: String) -> LoadError {
    LoadError::Damaged {
        path: path.to_path_buf(),
        detail,
    }
}

/// The summary's own figures that later steps turn into durations and positions.
fn check_summary(path: &Path, s: &Summary) -> Result<(), LoadError> {
    if !(s.duration_s.is_finite() && (0.0..=MAX_RUN_S).contains(&s.duration_s)) {
        return Err(damaged(
            path,
            format!(
                "duration_s = {} is not the length of a run (0..={MAX_RUN_S} s)",
                figure(s.duration_s)
            ),
        ));
    }
    Ok(())
}

/// Every value a recorder writes is finite and not negative, every row starts within a run's
/// length, and the rows' completed requests add up to the summary's.
fn check_rows(path: &Path, rows: &[IntervalRow], s: &Summary) -> Result<(), LoadError> {
    for (i, r) in rows.iter().enumerate() {
        let line = i + 2;
        let figures = [
            ("interval_start_s", r.start_s),
            ("offered_rps", r.offered_rps),
            ("p50_ms", r.p50_ms),
            ("p95_ms", r.p95_ms),
            ("p99_ms", r.p99_ms),
            ("max_ms", r.max_ms),
            ("limiter_wait_ms", r.limiter_wait_ms),
        ];
        if let Some((column, v)) = figures.iter().find(|(_, v)| !(v.is_finite() && *v >= 0.0)) {
            return Err(damaged(
                path,
                format!(
                    "line {line}: {column} = {} is not a figure a run writes",
                    figure(*v)
                ),
            ));
        }
        if r.start_s > MAX_RUN_S {
            return Err(damaged(
                path,
                format!(
                    "line {line}: interval_start_s = {} is past the end of any run",
                    figure(r.start_s)
                ),
            ));
        }
    }
    let completed: u64 = rows.iter().map(|r| r.completed).sum();
    let counted = s.requests.ok + s.requests.errors;
    if completed != counted {
        return Err(damaged(
            path,
            format!("its rows complete {completed} requests, summary.json counts {counted}"),
        ));
    }
    Ok(())
}

/// The interval histograms hold one latency per answered request, as the summary counts them.
fn check_latency(path: &Path, latency: &Histogram<u64>, s: &Summary) -> Result<(), LoadError> {
    if latency.len() != s.latency_ms.count {
        return Err(damaged(
            path,
            format!(
                "its histograms hold {} latencies, summary.json counts {}",
                latency.len(),
                s.latency_ms.count
            ),
        ));
    }
    Ok(())
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
        let h = match entry {
            Ok(LogEntry::Interval(h)) => h,
            Ok(_) => continue,
            Err(LogIteratorError::ParseError { offset }) => {
                let line = text[..offset.min(text.len())]
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count()
                    + 1;
                return Err(bad(format!("line {line} is not an interval-log entry")));
            }
        };
        log.interval = h.duration();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(h.encoded_histogram())
            .map_err(|e| bad(e.to_string()))?;
        let hist: Histogram<u64> = de
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| bad(format!("an interval's histogram does not decode: {e}")))?;
        log.latency
            .add(&hist)
            .map_err(|e| bad(format!("an interval's histogram does not add up: {e}")))?;
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
