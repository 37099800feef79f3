//! `requests.jsonl`: every request a run sends, one trace line each, in exactly the format
//! `[workload] trace` reads, so a run recorded once replays against a new tuning.
//!
//! A line is written as its request goes out, with the request's intended time as its
//! `offset`; threads write through one lock, so the file is in time order but for the few
//! lines of two threads' turns that cross (the trace reader sorts a window of them). Prompts
//! are written as token counts unless the log is asked for `with-prompts`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use gauntlet_wire::tokens::approx_tokens;
use tokio::time::Instant;

use crate::client::{ChatRequest, Priority};
use crate::scenario::trace::TraceRecord;
use crate::scenario::RequestsLogMode;

/// Where a run writes its requests, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestsLogTarget {
    /// The file (`<run dir>/requests.jsonl`).
    pub path: PathBuf,
    /// With prompt text, or token counts only.
    pub mode: RequestsLogMode,
}

/// The log of a run into `dir`, when `mode` asks for one.
pub fn target_for(mode: RequestsLogMode, dir: &Path) -> Option<RequestsLogTarget> {
    mode.is_on().then(|| RequestsLogTarget {
        path: dir.join("requests.jsonl"),
        mode,
    })
}

/// The open log: a buffered file behind a lock, and the first write error (a full disk must
/// not stop the run; the run's end reports it).
#[derive(Debug)]
pub(crate) struct RequestsLog {
    start: Instant,
    with_prompts: bool,
    out: Mutex<Written>,
    path: PathBuf,
}

#[derive(Debug)]
struct Written {
    file: BufWriter<File>,
    error: Option<std::io::Error>,
    line: String,
}

impl RequestsLog {
    /// Creates the file (and its directory); offsets count from `start`.
    pub fn create(target: &RequestsLogTarget, start: Instant) -> std::io::Result<Self> {
        if let Some(dir) = target.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        Ok(Self {
            start,
            with_prompts: target.mode == RequestsLogMode::WithPrompts,
            out: Mutex::new(Written {
                file: BufWriter::new(File::create(&target.path)?),
                error: None,
                line: String::new(),
            }),
            path: target.path.clone(),
        })
    }

    /// The trace line of `req`, sent in `session` at `intended`.
    fn record(&self, intended: Instant, session: &str, req: &ChatRequest) -> TraceRecord {
        let offset = intended.saturating_duration_since(self.start).as_secs_f64();
        let text = req
            .messages
            .last()
            .map(|m| m.text_ref().into_owned())
            .unwrap_or_default();
        TraceRecord {
            // Microseconds: what a replay can schedule, and a line that stays short.
            offset: Some((offset * 1e6).round() / 1e6),
            session: Some(session.to_string()),
            user: req.user.clone(),
            tenant: req.api_key.clone(),
            model: Some(req.model.clone()),
            route: Some(req.route.as_str().to_string()),
            prompt_tokens: (!self.with_prompts).then(|| approx_tokens(&text)),
            prompt: self.with_prompts.then_some(text),
            max_tokens: req.max_tokens,
            stream: Some(req.stream),
            priority: (req.priority != Priority::Interactive).then_some(req.priority),
            timestamp: None,
        }
    }

    /// Writes `req`'s line.
    pub fn write(&self, intended: Instant, session: &str, req: &ChatRequest) {
        let record = self.record(intended, session, req);
        let mut out = self
            .out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if out.error.is_some() {
            return;
        }
        let w = &mut *out;
        w.line.clear();
        // A record of strings and numbers always serialises.
        if let Ok(json) = serde_json::to_string(&record) {
            w.line.push_str(&json);
        }
        w.line.push('\n');
        if let Err(e) = w.file.write_all(w.line.as_bytes()) {
            w.error = Some(e);
        }
    }

    /// Flushes the file; the first error of the run, if any.
    pub fn finish(&self) -> Result<(), RequestsLogError> {
        let mut out = self
            .out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let flushed = out.file.flush();
        match out.error.take().map_or(flushed, Err) {
            Ok(()) => Ok(()),
            Err(source) => Err(RequestsLogError {
                path: self.path.clone(),
                source,
            }),
        }
    }
}

/// The log could not be written.
#[derive(Debug, thiserror::Error)]
#[error("writing {path}: {source}")]
pub struct RequestsLogError {
    /// The log file.
    pub path: PathBuf,
    /// What the OS said.
    pub source: std::io::Error,
}
