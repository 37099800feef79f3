//! `latency.hlog`: HdrHistogram's interval log, one compressed V2 histogram per interval, with
//! the header lines Java's `HistogramLogWriter` writes (format version, `StartTime`, the column
//! legend), so HdrHistogram's tools in Java, Python or Go read it. Values are microseconds;
//! `Interval_Max` is in milliseconds.

use std::io::{self, Write};
use std::time::Duration;

use hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder;
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};
use hdrhistogram::Histogram;

use crate::record::IntervalRow;

/// Where a row's interval starts; rows read back are checked to start within a run, and a row
/// that does not still never panics here.
fn start_of(row: &IntervalRow) -> Duration {
    Duration::try_from_secs_f64(row.start_s).unwrap_or(Duration::ZERO)
}

/// Writes the log; `epoch_secs` is the run's start (0 in simulation, so the file is reproducible).
pub fn write_hlog<W: Write>(
    rows: &[IntervalRow],
    interval: Duration,
    epoch_secs: u64,
    mut out: W,
) -> io::Result<()> {
    let mut text = Vec::new();
    writeln!(text, "#[Histogram log format version 1.3]")?;
    writeln!(text, "#[StartTime: {epoch_secs}.000 (seconds since epoch)]")?;
    writeln!(
        text,
        "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
    )?;
    let mut serializer = V2DeflateSerializer::new();
    {
        let mut writer = IntervalLogWriterBuilder::new()
            .with_max_value_divisor(1000.0)
            .begin_log_with(&mut text, &mut serializer)?;
        let mut deserializer = Deserializer::new();
        for row in rows.iter().filter(|r| !r.histogram.is_empty()) {
            let h: Histogram<u64> = deserializer
                .deserialize(&mut row.histogram.as_slice())
                .map_err(|e| io::Error::other(format!("an interval's histogram: {e}")))?;
            writer
                .write_histogram(&h, start_of(row), interval, None)
                .map_err(|e| io::Error::other(e.to_string()))?;
        }
    }
    out.write_all(&text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::new_histogram;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    use hdrhistogram::serialization::Serializer as _;

    #[test]
    fn round_trips_through_the_crate_reader() {
        let mut rows = Vec::new();
        let mut total = 0;
        for i in 0..3u64 {
            let mut h = new_histogram();
            for v in 0..(10 * (i + 1)) {
                h.record(1000 + v * 97).unwrap();
                total += 1;
            }
            let mut encoded = Vec::new();
            V2DeflateSerializer::new()
                .serialize(&h, &mut encoded)
                .unwrap();
            rows.push(IntervalRow {
                start_s: i as f64,
                histogram: encoded,
                ..IntervalRow::default()
            });
        }
        let mut out = Vec::new();
        write_hlog(&rows, Duration::from_secs(1), 0, &mut out).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.starts_with("#[Histogram log format version 1.3]\n#[StartTime: 0.000 (seconds since epoch)]\n\"StartTimestamp\""));
        let mut count = 0;
        let mut intervals = 0;
        let mut de = Deserializer::new();
        for entry in IntervalLogIterator::new(&out) {
            if let Ok(LogEntry::Interval(h)) = entry {
                let decoded = base64_decode(h.encoded_histogram());
                let hist: Histogram<u64> = de.deserialize(&mut decoded.as_slice()).unwrap();
                count += hist.len();
                intervals += 1;
            }
        }
        assert_eq!(intervals, 3);
        assert_eq!(count, total);
    }

    /// A minimal base64 decoder for the test (the crate reader hands the text back encoded).
    fn base64_decode(s: &str) -> Vec<u8> {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = Vec::new();
        let mut buf = 0u32;
        let mut bits = 0;
        for c in s.bytes().filter(|c| *c != b'=') {
            let v = A.iter().position(|x| *x == c).unwrap() as u32;
            buf = (buf << 6) | v;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((buf >> bits) as u8);
                buf &= (1 << bits) - 1;
            }
        }
        out
    }
}
