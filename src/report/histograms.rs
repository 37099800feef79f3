//! `histograms.hlog`: every whole-run histogram of a run (latency, latency from the actual send,
//! per outcome, per priority class, per route when there were several, time to first token,
//! schedule lag), one tagged entry each in
//! HdrHistogram's interval-log format. The summary keeps only percentiles, which cannot be
//! combined; these can be added exactly, which is what `gauntlet merge` does.

use std::io::{self, Write};
use std::time::Duration;

use base64::Engine as _;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, LogIteratorError, Tag,
};
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};
use hdrhistogram::Histogram;

use crate::record::Totals;

/// Named whole-run histograms, µs, in a stable order.
pub type NamedHistograms = Vec<(String, Histogram<u64>)>;

/// The histograms of a run's totals: `latency`, `service`, `ttft`, `lag`, `outcome.<name>`,
/// `priority.<class>`, and `route.<name>` when more than one route was used (as `summary.json`'s
/// `by_route`, so a one-route run's file is what it always was).
pub(crate) fn of_totals(t: &Totals) -> NamedHistograms {
    let mut out = vec![
        ("latency".to_string(), t.latency.clone()),
        ("service".to_string(), t.service.clone()),
        ("ttft".to_string(), t.ttft.clone()),
        ("lag".to_string(), t.lag.clone()),
    ];
    for (k, h) in super::llm_summary::named_histograms(&t.tokens) {
        out.push((k.to_string(), h.clone()));
    }
    for (k, h) in &t.by_outcome {
        out.push((format!("outcome.{k}"), h.clone()));
    }
    for (k, (h, _)) in &t.by_priority {
        out.push((format!("priority.{k}"), h.clone()));
    }
    if t.by_route.len() > 1 {
        for (k, (h, _)) in &t.by_route {
            out.push((format!("route.{k}"), h.clone()));
        }
    }
    out
}

/// Writes the histograms, each as one entry spanning the run.
pub(crate) fn write_histograms<W: Write>(
    hists: &NamedHistograms,
    duration: Duration,
    mut out: W,
) -> io::Result<()> {
    let mut text = Vec::new();
    writeln!(text, "#[Histogram log format version 1.3]")?;
    writeln!(text, "#[StartTime: 0.000 (seconds since epoch)]")?;
    let mut serializer = V2DeflateSerializer::new();
    {
        let mut writer = IntervalLogWriterBuilder::new()
            .with_max_value_divisor(1000.0)
            .begin_log_with(&mut text, &mut serializer)?;
        for (name, h) in hists {
            let tag = Tag::new(name).ok_or_else(|| io::Error::other(format!("bad tag {name}")))?;
            writer
                .write_histogram(h, Duration::ZERO, duration, Some(tag))
                .map_err(|e| io::Error::other(e.to_string()))?;
        }
    }
    out.write_all(&text)
}

/// Why `histograms.hlog` could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum ReadHistogramsError {
    /// A line is not an interval-log entry.
    #[error("not a histogram log entry ({0})")]
    BadEntry(String),
    /// An entry has no tag, so it cannot be told which histogram it is.
    #[error("an entry without a tag")]
    Untagged,
    /// An entry's histogram is not base64.
    #[error("{0}")]
    Base64(#[from] base64::DecodeError),
    /// An entry's histogram does not decode.
    #[error("a histogram does not decode ({0})")]
    Decode(String),
}

/// Reads what `write_histograms` wrote (a run directory's `histograms.hlog`).
pub fn read_histograms(text: &[u8]) -> Result<NamedHistograms, ReadHistogramsError> {
    let mut de = Deserializer::new();
    let mut out = Vec::new();
    for entry in IntervalLogIterator::new(text) {
        let entry = entry.map_err(|e| {
            let LogIteratorError::ParseError { offset } = e;
            ReadHistogramsError::BadEntry(format!("at byte {offset}"))
        })?;
        let LogEntry::Interval(h) = entry else {
            continue;
        };
        let name = h
            .tag()
            .map(|t| t.as_str().to_string())
            .ok_or(ReadHistogramsError::Untagged)?;
        let bytes = base64::engine::general_purpose::STANDARD.decode(h.encoded_histogram())?;
        let hist: Histogram<u64> = de
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| ReadHistogramsError::Decode(format!("{name}: {e}")))?;
        out.push((name, hist));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::new_histogram;

    #[test]
    fn round_trips_every_count() {
        let mut a = new_histogram();
        let mut b = new_histogram();
        for v in 1..1000u64 {
            a.record(v * 7).unwrap();
            b.record(v * v).unwrap();
        }
        let hists = vec![
            ("latency".to_string(), a),
            ("outcome.cache_hit".to_string(), b),
        ];
        let mut buf = Vec::new();
        write_histograms(&hists, Duration::from_secs(20), &mut buf).unwrap();
        let back = read_histograms(&buf).unwrap();
        assert_eq!(back, hists);
    }
}
