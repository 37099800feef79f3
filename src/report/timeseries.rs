//! `timeseries.csv`: one row per interval. Columns (documented in `scenarios/README.md`):
//! `interval_start_s, offered_rps, started, completed, ok, errors, dropped, goodput_rps,
//! p50_ms, p95_ms, p99_ms, max_ms, upstream, cache_hit, coalesced, stale, fallback, queued,
//! error, attempts, retries, limiter_wait_ms, queue_depth_max, breaker, quota_remaining`.

use std::io::Write;

use crate::driver::recorder::OUTCOMES;
use crate::driver::IntervalRow;

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
    h.extend(OUTCOMES);
    h.extend([
        "attempts",
        "retries",
        "limiter_wait_ms",
        "queue_depth_max",
        "breaker",
        "quota_remaining",
    ]);
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
        w.write_record(&rec)?;
    }
    w.flush()?;
    Ok(())
}
