//! The text exposition format's pieces: label escaping, one sample line, and a fixed-bucket
//! histogram rendered as cumulative `le` buckets with `_sum` and `_count`.

use std::fmt::{Display, Write as _};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds, in seconds, of every histogram the proxy exports (request latency and limiter waits): one
/// list, so the two compare bucket by bucket. From a cache hit (milliseconds) to a long streamed
/// answer behind retries (two minutes).
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// One observation adds at most a day to a histogram's sum, so no input can wrap it.
const MAX_OBSERVED: Duration = Duration::from_secs(86_400);

/// Escapes a label value as the text format requires (backslash, double quote, line feed).
pub fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Counts of one distribution in [`LATENCY_BUCKETS`] (not cumulative; rendering adds them up),
/// with one slot past the last bound for `+Inf`.
#[derive(Debug)]
pub(super) struct Histogram {
    counts: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

impl Histogram {
    pub(super) fn new() -> Self {
        Self {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_micros: AtomicU64::new(0),
        }
    }

    pub(super) fn observe(&self, d: Duration) {
        let d = d.min(MAX_OBSERVED);
        let secs = d.as_secs_f64();
        let slot = LATENCY_BUCKETS
            .iter()
            .position(|bound| secs <= *bound)
            .unwrap_or(LATENCY_BUCKETS.len());
        if let Some(c) = self.counts.get(slot) {
            c.fetch_add(1, Relaxed);
        }
        // At most a day of microseconds each: 2^64 µs is 200 000 days of observations.
        self.sum_micros.fetch_add(d.as_micros() as u64, Relaxed);
    }

    pub(super) fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Relaxed)).sum()
    }

    pub(super) fn render(&self, out: &mut String, name: &str, labels: &[(&str, &str)]) {
        let bucket = format!("{name}_bucket");
        let bounds = LATENCY_BUCKETS.iter().map(|b| b.to_string());
        let mut cumulative = 0;
        for (bound, count) in bounds.chain(["+Inf".to_string()]).zip(&self.counts) {
            cumulative += count.load(Relaxed);
            let mut with_le = labels.to_vec();
            with_le.push(("le", &bound));
            sample(out, &bucket, &with_le, cumulative);
        }
        let sum = self.sum_micros.load(Relaxed) as f64 / 1e6;
        sample(out, &format!("{name}_sum"), labels, sum);
        sample(out, &format!("{name}_count"), labels, cumulative);
    }
}

/// Writes one sample line.
pub(super) fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: impl Display) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"{}\"", escape_label(v));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}
