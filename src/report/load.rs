//! Reading a run directory back (`gauntlet report DIR`): the interval rows from
//! `timeseries.csv`, their histograms and the run's total from `latency.hlog`, the events from
//! `summary.json`. Every other file is made from these.

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;

use super::summary::Summary;
use super::Recorded;
use crate::record::new_histogram;
use crate::record::EventWindow;

/// Reads `summary.json`.
pub fn load_summary(dir: &Path) -> Result<Summary, String> {
    let path = dir.join("summary.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads the recorded data of a run directory.
pub fn load_recorded(dir: &Path, summary: &Summary) -> Result<Recorded, String> {
    let csv_path = dir.join("timeseries.csv");
    let file =
        std::fs::File::open(&csv_path).map_err(|e| format!("{}: {e}", csv_path.display()))?;
    let mut rows = super::timeseries::read_csv(std::io::BufReader::new(file))
        .map_err(|e| format!("{}: {e}", csv_path.display()))?;

    let hlog_path = dir.join("latency.hlog");
    let text = std::fs::read(&hlog_path).map_err(|e| format!("{}: {e}", hlog_path.display()))?;
    let epoch_secs = String::from_utf8_lossy(&text)
        .lines()
        .find_map(|l| l.strip_prefix("#[StartTime: "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0) as u64;
    let mut latency = new_histogram();
    let mut interval = Duration::from_secs(1);
    let mut de = Deserializer::new();
    for entry in IntervalLogIterator::new(&text) {
        let Ok(LogEntry::Interval(h)) = entry else {
            continue;
        };
        interval = h.duration();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(h.encoded_histogram())
            .map_err(|e| format!("{}: {e}", hlog_path.display()))?;
        let hist: Histogram<u64> = de
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| format!("{}: {e:?}", hlog_path.display()))?;
        latency
            .add(&hist)
            .map_err(|e| format!("{}: {e:?}", hlog_path.display()))?;
        let start = h.start_timestamp().as_secs_f64();
        if let Some(row) = rows.iter_mut().find(|r| (r.start_s - start).abs() < 1e-6) {
            row.histogram = bytes;
        }
    }
    let events = summary
        .recovery
        .iter()
        .map(|r| EventWindow {
            label: r.event.clone(),
            kind: r.event.split_whitespace().next().unwrap_or("").to_string(),
            at_s: r.at_s,
            until_s: (r.end_s > r.at_s).then_some(r.end_s),
        })
        .collect();
    let hist_path = dir.join("histograms.hlog");
    let histograms = match std::fs::read(&hist_path) {
        Ok(text) => super::histograms::read_histograms(&text)
            .map_err(|e| format!("{}: {e}", hist_path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(format!("{}: {e}", hist_path.display())),
    };
    Ok(Recorded {
        rows,
        interval,
        epoch_secs,
        latency,
        events,
        histograms,
    })
}
