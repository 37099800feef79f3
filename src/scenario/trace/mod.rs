//! `[workload] trace`: replaying requests from real traffic, one JSON object a line, and the
//! `requests.jsonl` a run writes in the same format, so a run recorded once can be replayed
//! against a new tuning.
//!
//! A trace replaces the open model's arrivals: each line is sent at its own time (its `offset`,
//! or its `timestamp` less the first line's) divided by `speed`, and its latency counts from
//! that intended time, so a stack or a machine that falls behind shows in the latency and the
//! schedule lag as with generated arrivals. The file is read as a stream (bounded memory).

mod reader;
mod record;
mod spec;
mod time;

pub use reader::{check_trace, TraceLine, TraceReader, MAX_LINE_BYTES, REORDER_LINES};
pub use record::{TraceRecord, MAX_PROMPT_TOKENS};
pub use spec::{RequestsLogMode, TraceSpec, TraceSpecError};
pub use time::parse_rfc3339;

use std::path::PathBuf;

/// Why a trace cannot be replayed; every variant names the file, and a bad line its number
/// (and column when the JSON parser gives one), so it can be fixed in an editor.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The trace file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A line that is not a trace record, or whose values make no request.
    #[error("{path}:{line}:{column}: {message}")]
    Line {
        /// The trace file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// 1-based column (1 when the error is about the line as a whole).
        column: u64,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A file without a single request.
    #[error("{path}: the trace has no request (every line is empty)")]
    Empty {
        /// The trace file.
        path: PathBuf,
    },
}
