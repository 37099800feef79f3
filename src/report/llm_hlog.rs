//! `tokens.hlog`: each interval's TTFT, inter-token and TPOT histograms (µs), tagged `ttft`,
//! `itl` and `tpot`,
//! in HdrHistogram's interval-log format, so `gauntlet merge` adds a fleet's intervals exactly
//! and `gauntlet report` redraws the token chart. A run directory without it (older, or a run
//! without streams) reads back with empty token histograms.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, Tag,
};
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2DeflateSerializer};
use hdrhistogram::Histogram;

use crate::record::{new_histogram, IntervalRow};

/// The tags, in the order each interval's entries are written.
const TAGS: [&str; 3] = ["ttft", "itl", "tpot"];

fn histogram_of<'a>(row: &'a IntervalRow, tag: &str) -> &'a [u8] {
    match tag {
        "ttft" => &row.tokens.ttft_histogram,
        "itl" => &row.tokens.itl_histogram,
        _ => &row.tokens.tpot_histogram,
    }
}

/// Whether any row holds a token histogram (else no `tokens.hlog` is written).
pub fn has_tokens(rows: &[IntervalRow]) -> bool {
    rows.iter()
        .any(|r| TAGS.iter().any(|t| !histogram_of(r, t).is_empty()))
}

/// Writes the log; `epoch_secs` is the run's start, as in `latency.hlog`.
pub fn write_tokens_hlog<W: Write>(
    rows: &[IntervalRow],
    interval: Duration,
    epoch_secs: u64,
    mut out: W,
) -> io::Result<()> {
    let mut text = Vec::new();
    writeln!(text, "#[Histogram log format version 1.3]")?;
    writeln!(text, "#[StartTime: {epoch_secs}.000 (seconds since epoch)]")?;
    let mut serializer = V2DeflateSerializer::new();
    {
        let mut writer = IntervalLogWriterBuilder::new()
            .with_max_value_divisor(1000.0)
            .begin_log_with(&mut text, &mut serializer)?;
        let mut de = Deserializer::new();
        for row in rows {
            let start = Duration::try_from_secs_f64(row.start_s).unwrap_or(Duration::ZERO);
            for tag in TAGS {
                let bytes = histogram_of(row, tag);
                if bytes.is_empty() {
                    continue;
                }
                let h: Histogram<u64> = de
                    .deserialize(&mut &bytes[..])
                    .map_err(|e| io::Error::other(format!("an interval's {tag} histogram: {e}")))?;
                let tag = Tag::new(tag).ok_or_else(|| io::Error::other("bad tag"))?;
                writer
                    .write_histogram(&h, start, interval, Some(tag))
                    .map_err(|e| io::Error::other(e.to_string()))?;
            }
        }
    }
    out.write_all(&text)
}

/// Why `tokens.hlog` could not be read back.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {detail}")]
pub struct TokensLogError {
    /// The directory's `tokens.hlog`.
    pub path: std::path::PathBuf,
    /// What was wrong.
    pub detail: String,
}

/// Gives each row its token histograms from `dir/tokens.hlog`, if the file is there; entries
/// that match no row are ignored, as `latency.hlog`'s are.
pub fn read_tokens_hlog(dir: &Path, rows: &mut [IntervalRow]) -> Result<(), TokensLogError> {
    let path = dir.join("tokens.hlog");
    let bad = |detail: String| TokensLogError {
        path: path.clone(),
        detail,
    };
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(bad(e.to_string())),
    };
    let mut de = Deserializer::new();
    for entry in IntervalLogIterator::new(&text) {
        let h = match entry {
            Ok(LogEntry::Interval(h)) => h,
            Ok(_) => continue,
            Err(e) => return Err(bad(format!("not an interval-log entry ({e:?})"))),
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(h.encoded_histogram())
            .map_err(|e| bad(e.to_string()))?;
        // Decoded once here, so a damaged entry is refused on reading, not when drawn.
        let _: Histogram<u64> = de
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| bad(format!("a histogram does not decode: {e}")))?;
        let start = h.start_timestamp().as_secs_f64();
        let Some(row) = rows.iter_mut().find(|r| (r.start_s - start).abs() < 1e-6) else {
            continue;
        };
        match h.tag().map(|t| t.as_str()) {
            Some("ttft") => row.tokens.ttft_histogram = bytes,
            Some("itl") => row.tokens.itl_histogram = bytes,
            Some("tpot") => row.tokens.tpot_histogram = bytes,
            _ => {}
        }
    }
    Ok(())
}

/// One merged interval's token histograms.
#[derive(Debug)]
struct Slot {
    ttft: Histogram<u64>,
    itl: Histogram<u64>,
    tpot: Histogram<u64>,
}

/// The nodes' token rows added interval by interval into the merged `rows` (already aligned by
/// `merge_rows`): counts summed, histograms added and percentiles read off the sums. `nodes`
/// gives each node's rows and its shift in whole intervals.
pub fn merge_token_rows(
    nodes: &[(&[IntervalRow], u64)],
    step_s: f64,
    rows: &mut [IntervalRow],
) -> Result<(), String> {
    let step = step_s.max(1e-9);
    let mut slots: BTreeMap<u64, Slot> = BTreeMap::new();
    let mut counts: BTreeMap<u64, (u64, u64, u64)> = BTreeMap::new();
    let mut de = Deserializer::new();
    for (node_rows, shift) in nodes {
        for r in *node_rows {
            let idx = ((r.start_s / step).round() as u64).saturating_add(*shift);
            let c = counts.entry(idx).or_default();
            c.0 += r.tokens.input_tokens;
            c.1 += r.tokens.output_tokens;
            c.2 += r.tokens.slo_met;
            let slot = slots.entry(idx).or_insert_with(|| Slot {
                ttft: new_histogram(),
                itl: new_histogram(),
                tpot: new_histogram(),
            });
            for (bytes, into) in [
                (&r.tokens.ttft_histogram, &mut slot.ttft),
                (&r.tokens.itl_histogram, &mut slot.itl),
                (&r.tokens.tpot_histogram, &mut slot.tpot),
            ] {
                if bytes.is_empty() {
                    continue;
                }
                let h: Histogram<u64> = de
                    .deserialize(&mut bytes.as_slice())
                    .map_err(|e| format!("a token histogram: {e}"))?;
                into.add(&h)
                    .map_err(|e| format!("adding histograms: {e}"))?;
            }
        }
    }
    let mut ser = hdrhistogram::serialization::V2Serializer::new();
    let mut encode = |h: &Histogram<u64>| -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        if !h.is_empty() {
            ser.serialize(h, &mut out)
                .map_err(|e| format!("encoding a histogram: {e}"))?;
        }
        Ok(out)
    };
    for row in rows.iter_mut() {
        let idx = (row.start_s / step).round() as u64;
        let (Some(slot), Some(c)) = (slots.get(&idx), counts.get(&idx)) else {
            continue;
        };
        let t = &mut row.tokens;
        (t.input_tokens, t.output_tokens, t.slo_met) = (c.0, c.1, c.2);
        t.set_percentiles(&slot.ttft, &slot.itl, &slot.tpot);
        t.ttft_histogram = encode(&slot.ttft)?;
        t.itl_histogram = encode(&slot.itl)?;
        t.tpot_histogram = encode(&slot.tpot)?;
    }
    Ok(())
}
