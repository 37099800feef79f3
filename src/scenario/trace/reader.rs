//! Reading a trace as a stream: a line at a time, a bounded window of lines put in time order
//! (a `requests.jsonl` written by several driver threads is out of order by a few lines),
//! sampled by whole sessions, looped if asked.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{TraceError, TraceRecord, TraceSpec};

/// Longest line read; a longer one is an error, not an allocation without end.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Lines held to be put in time order: a line may come up to this many lines after one later
/// than it.
pub const REORDER_LINES: usize = 1024;

/// Bytes of prompt text the reorder window may hold.
const REORDER_BYTES: usize = 64 << 20;

/// One request of the replay.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceLine {
    /// Its line in the file, from 1.
    pub line: u64,
    /// Which pass over the file (0 for the first; a looped trace counts on).
    pub lap: u32,
    /// When to send it, from the run's start (speed applied).
    pub at: Duration,
    /// Its session: the line's own, or `line-N` for a line without one; a later lap of a looped
    /// trace appends `#lap`, so a session's history does not run on into its replay.
    pub session: String,
    /// What the line says.
    pub record: TraceRecord,
}

/// A line waiting in the reorder window, ordered by time then line.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Pending {
    at_nanos: u128,
    lap: u32,
    line: u64,
    body: Box<Held>,
}

/// What a pending line carries (kept out of the ordering).
#[derive(Debug)]
struct Held(TraceLine);

impl PartialEq for Held {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Held {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

/// The lines of a trace in time order, as an iterator of results: a bad line ends it with an
/// error naming the line.
#[derive(Debug)]
pub struct TraceReader {
    spec: TraceSpec,
    seed: u64,
    /// No lap starts at or after this (the run's duration).
    until: Duration,
    input: BufReader<File>,
    buf: Vec<u8>,
    line: u64,
    lap: u32,
    /// Seconds added to this lap's times (before speed).
    lap_start: f64,
    /// The first line's time, subtracted from absolute timestamps.
    base: Option<f64>,
    /// First lap: earliest and latest time and lines read, for the loop's period.
    first: f64,
    last: f64,
    count: u64,
    window: BinaryHeap<Reverse<Pending>>,
    window_bytes: usize,
    sent_nanos: u128,
    done: bool,
}

impl TraceReader {
    /// Opens `spec.file`; laps of a looped trace start before `until`.
    pub fn open(spec: &TraceSpec, seed: u64, until: Duration) -> Result<Self, TraceError> {
        Ok(Self {
            input: open(&spec.file)?,
            spec: spec.clone(),
            seed,
            until,
            buf: Vec::new(),
            line: 0,
            lap: 0,
            lap_start: 0.0,
            base: None,
            first: f64::INFINITY,
            last: 0.0,
            count: 0,
            window: BinaryHeap::new(),
            window_bytes: 0,
            sent_nanos: 0,
            done: false,
        })
    }

    fn error(&self, line: u64, column: u64, message: impl Into<String>) -> TraceError {
        TraceError::Line {
            path: self.spec.file.clone(),
            line,
            column,
            message: message.into(),
        }
    }

    /// Reads the next non-empty line into the window; false at the end of the file.
    fn read_one(&mut self) -> Result<bool, TraceError> {
        loop {
            self.buf.clear();
            let limit = (MAX_LINE_BYTES + 1) as u64;
            let n = (&mut self.input)
                .take(limit)
                .read_until(b'\n', &mut self.buf)
                .map_err(|source| self.io(source))?;
            if n == 0 {
                return Ok(false);
            }
            self.line += 1;
            if self.buf.len() > MAX_LINE_BYTES {
                return Err(self.error(
                    self.line,
                    1,
                    format!("longer than {MAX_LINE_BYTES} bytes"),
                ));
            }
            let text = std::str::from_utf8(&self.buf)
                .map_err(|e| self.error(self.line, e.valid_up_to() as u64 + 1, "not UTF-8"))?
                .trim();
            if text.is_empty() {
                continue;
            }
            let record: TraceRecord = serde_json::from_str(text).map_err(|e| {
                let full = e.to_string();
                let suffix = format!(" at line {} column {}", e.line(), e.column());
                let message = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
                self.error(self.line, e.column().max(1) as u64, message)
            })?;
            self.admit(record)?;
            return Ok(true);
        }
    }

    /// Times, samples and queues a parsed line.
    fn admit(&mut self, record: TraceRecord) -> Result<(), TraceError> {
        let line = self.line;
        record.check().map_err(|m| self.error(line, 1, m))?;
        let mut t = record.seconds().map_err(|m| self.error(line, 1, m))?;
        if record.is_absolute() {
            let base = *self.base.get_or_insert(t);
            t -= base;
            if t < 0.0 {
                return Err(self.error(
                    line,
                    1,
                    "timestamp: before the first line's; sort the trace by time",
                ));
            }
        }
        if self.lap == 0 {
            self.first = self.first.min(t);
            self.last = self.last.max(t);
            self.count += 1;
        }
        let own = match &record.session {
            Some(s) => s.clone(),
            None => format!("line-{line}"),
        };
        if !keep(self.seed, &own, self.spec.sample) {
            return Ok(());
        }
        let secs = (self.lap_start + t) / self.spec.speed;
        let at = Duration::try_from_secs_f64(secs)
            .map_err(|_| self.error(line, 1, "the time is beyond what a run can wait for"))?;
        let session = if self.lap == 0 {
            own
        } else {
            format!("{own}#{}", self.lap)
        };
        self.window_bytes += record.prompt.as_ref().map_or(0, String::len);
        self.window.push(Reverse(Pending {
            at_nanos: at.as_nanos(),
            lap: self.lap,
            line,
            body: Box::new(Held(TraceLine {
                line,
                lap: self.lap,
                at,
                session,
                record,
            })),
        }));
        Ok(())
    }

    fn io(&self, source: std::io::Error) -> TraceError {
        TraceError::Io {
            path: self.spec.file.clone(),
            source,
        }
    }

    /// At the end of the file: starts the next lap of a looped trace if it begins before the
    /// run ends; false when there is none.
    fn next_lap(&mut self) -> Result<bool, TraceError> {
        if self.count == 0 {
            return Err(TraceError::Empty {
                path: self.spec.file.clone(),
            });
        }
        // A lap lasts from the first line to the last plus the mean gap between lines (one
        // second for a single line), so the gap between laps looks like the trace's own.
        let span = self.last - self.first.min(self.last);
        let gap = if self.count > 1 {
            span / (self.count - 1) as f64
        } else {
            1.0
        };
        let period = self.last + gap.max(1e-3);
        let next = self.lap_start + period;
        if !self.spec.looped || next / self.spec.speed >= self.until.as_secs_f64() {
            return Ok(false);
        }
        self.lap += 1;
        self.lap_start = next;
        self.line = 0;
        self.input = open(&self.spec.file)?;
        Ok(true)
    }

    /// The next line in time order, or the error of the line that stopped the replay.
    fn step(&mut self) -> Result<Option<TraceLine>, TraceError> {
        while !self.done && self.window.len() < REORDER_LINES && self.window_bytes < REORDER_BYTES {
            if !self.read_one()? && !self.next_lap()? {
                self.done = true;
            }
        }
        let Some(Reverse(p)) = self.window.pop() else {
            return Ok(None);
        };
        self.window_bytes -= p.body.0.record.prompt.as_ref().map_or(0, String::len);
        if p.at_nanos < self.sent_nanos {
            return Err(self.error(
                p.line,
                1,
                format!("earlier than a line more than {REORDER_LINES} lines before it; sort the trace by time"),
            ));
        }
        self.sent_nanos = p.at_nanos;
        Ok(Some(p.body.0))
    }
}

impl Iterator for TraceReader {
    type Item = Result<TraceLine, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.step() {
            Ok(line) => line.map(Ok),
            Err(e) => {
                self.done = true;
                self.window.clear();
                Some(Err(e))
            }
        }
    }
}

fn open(path: &Path) -> Result<BufReader<File>, TraceError> {
    File::open(path)
        .map(BufReader::new)
        .map_err(|source| TraceError::Io {
            path: PathBuf::from(path),
            source,
        })
}

/// Whether `session` is in the sample: a hash of the seed and the session's name, so the same
/// seed keeps the same sessions whatever else the run draws.
fn keep(seed: u64, session: &str, sample: f64) -> bool {
    if sample >= 1.0 {
        return true;
    }
    let mut key = seed.to_le_bytes().to_vec();
    key.extend_from_slice(session.as_bytes());
    let h = mix(gauntlet_wire::hash::stable_hash(&key));
    (h >> 11) as f64 / (1u64 << 53) as f64 <= sample
}

/// splitmix64's finaliser: FNV's high bits barely move between similar names.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Reads the whole trace once (bounded memory) and hands back its number of requests kept, so
/// a bad line fails the run before it starts rather than halfway.
pub fn check_trace(spec: &TraceSpec, seed: u64) -> Result<u64, TraceError> {
    let once = TraceSpec {
        looped: false,
        ..spec.clone()
    };
    let mut kept = 0;
    for line in TraceReader::open(&once, seed, Duration::MAX)? {
        line?;
        kept += 1;
    }
    Ok(kept)
}

#[cfg(test)]
#[path = "reader_tests.rs"]
mod tests;
