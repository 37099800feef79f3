//! `gauntlet merge DIR... --out DIR`: one report for a fleet from its nodes' run directories.

use std::path::{Path, PathBuf};

use super::EXIT_USAGE;
use crate::report::merge::{load_node, merge};
use crate::report::write_run;

/// Merges `dirs` into `out`; exit 1 when a threshold fails on the merged figures.
pub(crate) fn run(dirs: &[PathBuf], out: &Path) -> u8 {
    let result = (|| -> anyhow::Result<_> {
        let nodes = dirs
            .iter()
            .map(|d| load_node(d))
            .collect::<Result<Vec<_>, _>>()?;
        let (summary, recorded) = merge(&nodes)?;
        write_run(out, &summary, &recorded)?;
        Ok(summary)
    })();
    match result {
        Ok(summary) => super::report_written(&summary, out, false),
        Err(e) => {
            eprintln!("gauntlet merge: {e}");
            EXIT_USAGE
        }
    }
}
