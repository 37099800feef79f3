//! What a question's rule reads: the run's `summary.json` and `timeseries.csv` as written in its
//! run directory. The rules read the report, never the driver, as every report does; and a
//! scorecard can be judged again from the run directories alone.

use std::path::Path;

use serde::Deserialize;

use crate::report::Summary;

/// The columns of `timeseries.csv` the rules use, read by header (the `up_*` columns are the
/// mock's upstream view; empty or absent when the run had none).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct SeriesRow {
    /// Start of the interval, seconds from the run's start.
    pub interval_start_s: f64,
    /// Caller requests whose intended start fell in it.
    #[serde(default)]
    pub started: u64,
    /// Caller requests completed in it.
    #[serde(default)]
    pub completed: u64,
    /// Of them, answered.
    #[serde(default)]
    pub ok: u64,
    /// Of them, failed.
    #[serde(default)]
    pub errors: u64,
    /// Attempts that arrived at the upstream in it.
    #[serde(default)]
    pub up_attempts: Option<u64>,
    /// Of them, retries.
    #[serde(default)]
    pub up_retries: Option<u64>,
}

/// One run's figures, as its run directory has them.
#[derive(Debug, Clone)]
pub struct Observed {
    /// `summary.json`, typed.
    pub summary: Summary,
    /// `summary.json`'s `upstream_view` object (`Null` when the run had no view of the upstream).
    pub upstream_view: serde_json::Value,
    /// `timeseries.csv`.
    pub rows: Vec<SeriesRow>,
}

/// A run directory that could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// `summary.json` is not what a run writes.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: String,
        /// Why.
        source: serde_json::Error,
    },
    /// `timeseries.csv` is not what a run writes.
    #[error("{path}: {source}")]
    Csv {
        /// The file.
        path: String,
        /// Why.
        source: csv::Error,
    },
}

impl Observed {
    /// Reads `summary.json` and `timeseries.csv` of a run directory.
    pub fn read(dir: &Path) -> Result<Self, ReadError> {
        let path = dir.join("summary.json");
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|source| ReadError::Io {
            path: shown.clone(),
            source,
        })?;
        let raw: serde_json::Value =
            serde_json::from_str(&text).map_err(|source| ReadError::Json {
                path: shown.clone(),
                source,
            })?;
        let summary: Summary =
            serde_json::from_value(raw.clone()).map_err(|source| ReadError::Json {
                path: shown,
                source,
            })?;
        let path = dir.join("timeseries.csv");
        let shown = path.display().to_string();
        let file = std::fs::File::open(&path).map_err(|source| ReadError::Io {
            path: shown.clone(),
            source,
        })?;
        let rows = csv::Reader::from_reader(file)
            .deserialize()
            .collect::<Result<Vec<SeriesRow>, _>>()
            .map_err(|source| ReadError::Csv {
                path: shown,
                source,
            })?;
        Ok(Self {
            summary,
            upstream_view: raw.get("upstream_view").cloned().unwrap_or_default(),
            rows,
        })
    }

    /// A number of the upstream view (`early_after_429`, `retry_delay_ms.cv`), `None` when the
    /// run had no view or the key is absent.
    pub fn view(&self, key: &str) -> Option<f64> {
        let mut v = &self.upstream_view;
        for part in key.split('.') {
            v = v.get(part)?;
        }
        v.as_f64()
    }

    /// The first example of `kind` in the upstream view (`early_after_429`,
    /// `non_retryable_retry`, `retry`), as one line.
    pub fn example(&self, kind: &str) -> Option<String> {
        let e = self
            .upstream_view
            .get("examples")?
            .as_array()?
            .iter()
            .find(|e| e.get("kind").and_then(|k| k.as_str()) == Some(kind))?;
        let field = |k: &str| match e.get(k) {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(v) => Some(v.to_string()),
        };
        let mut line = format!(
            "at {} s: {} from key {}",
            field("at_s").unwrap_or_else(|| "?".into()),
            field("route").unwrap_or_else(|| "?".into()),
            field("key").unwrap_or_else(|| "?".into()),
        );
        if let Some(r) = field("retry_count") {
            line.push_str(&format!(", x-stainless-retry-count {r}"));
        }
        if let Some(p) = field("previous_status") {
            line.push_str(&format!(", after a {p}"));
        }
        if let Some(ms) = field("early_by_ms") {
            line.push_str(&format!(", {ms} ms before retry-after ran out"));
        }
        line.push_str(&format!(
            ", answered {}",
            field("status").unwrap_or_else(|| "with a closed connection".into())
        ));
        Some(line)
    }

    /// The rows whose interval starts in `[from, until)`.
    pub fn rows_in(&self, from: f64, until: f64) -> impl Iterator<Item = &SeriesRow> {
        self.rows
            .iter()
            .filter(move |r| r.interval_start_s >= from - 1e-9 && r.interval_start_s < until - 1e-9)
    }

    /// The first timeline event's window, seconds (`at`, `end`).
    pub fn event(&self) -> Option<(f64, f64)> {
        self.summary.recovery.first().map(|r| (r.at_s, r.end_s))
    }

    /// A status's count among the upstream's answers.
    pub fn status(&self, status: &str) -> u64 {
        self.summary
            .upstream
            .status_counts
            .get(status)
            .copied()
            .unwrap_or(0)
    }

    /// Caller requests that ended as an error of `kind`.
    pub fn error_kind(&self, kind: &str) -> u64 {
        self.summary.error_kinds.get(kind).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_paths_and_examples_read_the_json() {
        let summary: Summary =
            serde_json::from_str(include_str!("../../reports/example/summary.json")).unwrap();
        let view = serde_json::json!({
            "early_after_429": 3,
            "retry_delay_ms": {"cv": 0.25},
            "examples": [{"kind": "early_after_429", "at_s": 2.5, "route": "/v1/chat/completions",
                "key": "key#1a2b3c4d", "retry_count": 1, "status": 429, "previous_status": 429,
                "early_by_ms": 812.0}]
        });
        let o = Observed {
            summary,
            upstream_view: view,
            rows: Vec::new(),
        };
        assert_eq!(o.view("early_after_429"), Some(3.0));
        assert_eq!(o.view("retry_delay_ms.cv"), Some(0.25));
        assert_eq!(o.view("nothing.here"), None);
        let e = o.example("early_after_429").unwrap();
        assert!(e.contains("812") && e.contains("retry-count 1"), "{e}");
        assert!(o.example("retry").is_none());
    }
}
