//! Live progress: an indicatif bar on a terminal, plain periodic lines otherwise (CI logs),
//! nothing with `--quiet`. One more consumer of the recorder's interval rows.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::record::IntervalRow;

/// How progress is shown.
#[derive(Debug, Clone)]
pub(crate) enum Progress {
    /// `--quiet`: no progress output.
    Quiet,
    /// One line per interval on stderr.
    Lines,
    /// Stderr is a terminal: a bar of elapsed seconds, with the last interval's figures.
    Bar(ProgressBar),
}

impl Progress {
    /// The right display for stderr.
    pub(crate) fn for_stderr(quiet: bool, duration: Duration) -> Self {
        if quiet {
            Progress::Quiet
        } else if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(duration.as_secs().max(1));
            bar.set_style(
                ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} s  {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            Progress::Bar(bar)
        } else {
            Progress::Lines
        }
    }

    /// Shows one interval.
    pub(crate) fn interval(&self, row: &IntervalRow, interval: Duration, open: u64) {
        let secs = interval.as_secs_f64();
        let err = if row.completed > 0 {
            row.errors as f64 / row.completed as f64 * 100.0
        } else {
            0.0
        };
        let msg = format!(
            "{:.1} req/s  p99 {:.1} ms  errors {:.1} %  breaker {}  in flight {}",
            row.completed as f64 / secs,
            row.p99_ms,
            err,
            row.breaker,
            open
        );
        match self {
            Progress::Quiet => {}
            Progress::Lines => eprintln!("[{:>6.1}s] {msg}", row.start_s + secs),
            Progress::Bar(bar) => {
                bar.set_position((row.start_s + secs) as u64);
                bar.set_message(msg);
            }
        }
    }

    /// Removes the bar.
    pub(crate) fn finish(&self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}
