//! `gauntlet report DIR`: rebuilds every file of a run from its recorded data, without running.

use std::path::Path;

use super::{EXIT_OK, EXIT_USAGE};
use crate::report::load::{load_recorded, load_summary};
use crate::report::write_run;

/// Regenerates the report files in `dir`.
pub(crate) fn run(dir: &Path) -> u8 {
    let result = (|| -> anyhow::Result<()> {
        let summary = load_summary(dir)?;
        let recorded = load_recorded(dir, &summary)?;
        write_run(dir, &summary, &recorded)?;
        Ok(())
    })();
    match result {
        Ok(()) => {
            println!("report    {}", dir.display());
            EXIT_OK
        }
        Err(e) => {
            eprintln!("gauntlet report: {e}");
            EXIT_USAGE
        }
    }
}
