//! Writes the scorecard's files into its directory: `scorecard.md`, `junit.xml`,
//! `scorecard.html` and `scorecard.json` (what a script or a test reads).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use super::html::write_html;
use super::junit::write_junit;
use super::scorecard::{write_markdown, Scorecard};
use crate::report::ReportError;

/// The files written, in the order they are written.
pub const FILES: [&str; 4] = [
    "scorecard.md",
    "junit.xml",
    "scorecard.html",
    "scorecard.json",
];

fn write(
    path: &Path,
    body: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), ReportError> {
    let io = |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = BufWriter::new(File::create(path).map_err(io)?);
    body(&mut f).map_err(io)?;
    f.flush().map_err(io)
}

/// Writes every file of [`FILES`] into `dir` (which exists).
pub fn write_scorecard(dir: &Path, card: &Scorecard) -> Result<(), ReportError> {
    write(&dir.join(FILES[0]), |f| write_markdown(card, f))?;
    write(&dir.join(FILES[1]), |f| write_junit(card, f))?;
    write(&dir.join(FILES[2]), |f| write_html(card, f))?;
    write(&dir.join(FILES[3]), |f| {
        serde_json::to_writer_pretty(&mut *f, card).map_err(std::io::Error::other)?;
        writeln!(f)
    })
}
