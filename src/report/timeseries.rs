//! `timeseries.csv`: one row per interval. Columns (documented in `scenarios/README.md`):
//! `interval_start_s, offered_rps, started, completed, ok, errors, dropped, goodput_rps,
//! p50_ms, p95_ms, p99_ms, max_ms, upstream, cache_hit, coalesced, stale, fallback, queued,
//! semantic_hit, error, attempts, retries, limiter_wait_ms, queue_depth_max, breaker, quota_remaining`.

use std::io::{Read, Write};

use serde::Deserialize;

use crate::record::{IntervalRow, Outcome, OutcomeCounts};

/// The header row.
pub fn header() -> Vec<&'static str> {
    let mut h = vec![
        "interval_start_s",
        "offered_rps",
        "started",
        "completed",
        "ok",
        "errors",
        "dropped",
        "goodput_rps",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "max_ms",
    ];
    h.extend(Outcome::ALL.map(Outcome::name));
    h.extend([
        "attempts",
        "retries",
        "limiter_wait_ms",
        "queue_depth_max",
        "breaker",
        "quota_remaining",
    ]);
    h.extend(super::upstream_view_csv::COLUMNS);
    h.extend(super::llm_timeseries::COLUMNS);
    h
}

/// Writes the rows; `interval_s` turns counts into rates.
pub fn write_csv<W: Write>(rows: &[IntervalRow], interval_s: f64, out: W) -> csv::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(header())?;
    let f = |v: f64| format!("{v:.3}");
    for r in rows {
        let mut rec = vec![
            f(r.start_s),
            f(r.offered_rps),
            r.started.to_string(),
            r.completed.to_string(),
            r.ok.to_string(),
            r.errors.to_string(),
            r.dropped.to_string(),
            f(r.ok as f64 / interval_s),
            f(r.p50_ms),
            f(r.p95_ms),
            f(r.p99_ms),
            f(r.max_ms),
        ];
        rec.extend(r.outcomes.iter().map(u64::to_string));
        rec.extend([
            r.attempts.to_string(),
            r.retries.to_string(),
            f(r.limiter_wait_ms),
            r.queue_depth_max.to_string(),
            r.breaker.to_string(),
            r.quota_remaining.map(|q| q.to_string()).unwrap_or_default(),
        ]);
        rec.extend(super::upstream_view_csv::cells(r.upstream_view.as_ref()));
        rec.extend(super::llm_timeseries::values(r, interval_s));
        w.write_record(&rec)?;
    }
    w.flush()?;
    Ok(())
}

/// Why `timeseries.csv` could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file is not CSV, or a field does not hold what its column needs (the error names
    /// the line and the field).
    #[error("{0}")]
    Csv(#[from] csv::Error),
    /// A column every reader needs is missing from the header.
    #[error("no {0:?} column")]
    MissingColumn(&'static str),
    /// A field does not hold what its column needs.
    #[error("line {line}: {column} = {value:?}: {detail}")]
    BadField {
        /// The file's line, 1-based (the header is line 1).
        line: u64,
        /// The column's name.
        column: String,
        /// What it held.
        value: String,
        /// What was wrong with it.
        detail: String,
    },
}

/// A deserialisation error with its column's name and value instead of csv's field number.
fn field_error(
    e: csv::Error,
    headers: &csv::StringRecord,
    record: &csv::StringRecord,
) -> ReadError {
    let csv::ErrorKind::Deserialize { pos, err } = e.kind() else {
        return ReadError::Csv(e);
    };
    let index = err.field().map_or(usize::MAX, |i| i as usize);
    ReadError::BadField {
        line: pos.as_ref().map_or(0, csv::Position::line),
        column: headers.get(index).unwrap_or("?").to_string(),
        value: record.get(index).unwrap_or("").to_string(),
        detail: err.kind().to_string(),
    }
}

/// The columns of a row other than the outcome counts, read by header name.
#[derive(Debug, Deserialize)]
struct CsvRow {
    interval_start_s: f64,
    offered_rps: f64,
    started: u64,
    completed: u64,
    ok: u64,
    errors: u64,
    dropped: u64,
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    attempts: u64,
    retries: u64,
    limiter_wait_ms: f64,
    queue_depth_max: u64,
    breaker: String,
    /// Empty when no rate-limit header was seen yet.
    quota_remaining: Option<u64>,
}

/// The breaker states a row may name; anything else reads as closed, as the recorder starts.
fn breaker_state(s: &str) -> &'static str {
    match s {
        "open" => "open",
        "half_open" => "half_open",
        _ => "closed",
    }
}

/// Reads the rows `write_csv` wrote, by column name (the histograms are not in the file: they
/// come from `latency.hlog`).
pub fn read_csv<R: Read>(input: R) -> Result<Vec<IntervalRow>, ReadError> {
    let mut reader = csv::Reader::from_reader(input);
    let headers = reader.headers()?.clone();
    let mut columns = [0usize; Outcome::COUNT];
    for o in Outcome::ALL {
        columns[o.index()] = headers
            .iter()
            .position(|h| h == o.name())
            .ok_or(ReadError::MissingColumn(o.name()))?;
    }
    let token_columns = super::llm_timeseries::positions(&headers);
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record?;
        let line = record.position().map_or(0, |p| p.line());
        let r: CsvRow = record
            .deserialize(Some(&headers))
            .map_err(|e| field_error(e, &headers, &record))?;
        let up: super::upstream_view_csv::CsvColumns = record
            .deserialize(Some(&headers))
            .map_err(|e| field_error(e, &headers, &record))?;
        let mut outcomes: OutcomeCounts = [0; Outcome::COUNT];
        for o in Outcome::ALL {
            let value = record.get(columns[o.index()]).unwrap_or("");
            outcomes[o.index()] =
                value
                    .parse()
                    .map_err(|e: std::num::ParseIntError| ReadError::BadField {
                        line,
                        column: o.name().to_string(),
                        value: value.to_string(),
                        detail: e.to_string(),
                    })?;
        }
        rows.push(IntervalRow {
            start_s: r.interval_start_s,
            offered_rps: r.offered_rps,
            started: r.started,
            completed: r.completed,
            ok: r.ok,
            errors: r.errors,
            dropped: r.dropped,
            p50_ms: r.p50_ms,
            p95_ms: r.p95_ms,
            p99_ms: r.p99_ms,
            max_ms: r.max_ms,
            outcomes,
            attempts: r.attempts,
            retries: r.retries,
            limiter_wait_ms: r.limiter_wait_ms,
            queue_depth_max: r.queue_depth_max,
            breaker: breaker_state(&r.breaker),
            quota_remaining: r.quota_remaining,
            tokens: super::llm_timeseries::read(&token_columns, &record, line)?,
            histogram: Vec::new(),
            upstream_view: up.view(),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(i: u64) -> IntervalRow {
        let mut outcomes = [0; Outcome::COUNT];
        for (k, o) in outcomes.iter_mut().enumerate() {
            *o = i * 10 + k as u64;
        }
        IntervalRow {
            start_s: i as f64,
            offered_rps: 2.5,
            started: i + 1,
            completed: i + 2,
            ok: i + 3,
            errors: i,
            dropped: 1,
            p50_ms: 1.25,
            p95_ms: 2.5,
            p99_ms: 3.75,
            max_ms: 9.0,
            outcomes,
            attempts: 4,
            retries: 2,
            limiter_wait_ms: 0.5,
            queue_depth_max: 3,
            breaker: if i == 1 { "open" } else { "closed" },
            quota_remaining: (i == 0).then_some(17),
            tokens: crate::record::TokenRow {
                itl_p99_ms: 20.5,
                output_tokens: i * 7,
                slo_met: i,
                ..Default::default()
            },
            histogram: Vec::new(),
            // One row with the upstream's view and one without: both read back as written.
            upstream_view: (i == 1).then_some(crate::record::ViewInterval {
                attempts: 9,
                retries: 4,
                early_429: 2,
                non_retryable_retries: 1,
                prompt_tokens_resent: 120,
                tokens_charged: 300,
                concurrency_max: 5,
                concurrency_mean: 1.5,
                retry_delay_cv: Some(0.25),
            }),
        }
    }

    #[test]
    fn rows_read_back_as_written() {
        let rows = vec![row(0), row(1)];
        let mut out = Vec::new();
        write_csv(&rows, 1.0, &mut out).unwrap();
        assert_eq!(read_csv(out.as_slice()).unwrap(), rows);
    }

    #[test]
    fn columns_are_found_by_name_not_position() {
        let mut out = Vec::new();
        write_csv(&[row(2)], 1.0, &mut out).unwrap();
        // Reverse the column order of every line: a reader by position would mix them up.
        let text = String::from_utf8(out).unwrap();
        let reversed: String = text
            .lines()
            .map(|l| l.split(',').rev().collect::<Vec<_>>().join(",") + "\n")
            .collect();
        assert_eq!(read_csv(reversed.as_bytes()).unwrap(), vec![row(2)]);
    }

    #[test]
    fn a_bad_field_is_named() {
        let mut out = Vec::new();
        write_csv(&[row(0)], 1.0, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap().replacen("17", "lots", 1);
        let err = read_csv(text.as_bytes()).unwrap_err().to_string();
        assert!(
            err.starts_with("line 2: quota_remaining = \"lots\": "),
            "{err}"
        );
        let missing = text.replacen("cache_hit", "cache_hits", 1);
        let err = read_csv(missing.as_bytes()).unwrap_err().to_string();
        assert_eq!(err, "no \"cache_hit\" column");
    }
}
