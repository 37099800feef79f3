//! `gauntlet merge DIR... --out DIR`: one report for a fleet from its nodes' run directories.

use std::path::{Path, PathBuf};

use super::EXIT_USAGE;
use crate::report::merge::{load_node, merge};
use crate::report::write_run;

/// Merges `dirs` into `out`; exit 1 when a threshold fails on the merged figures.
pub fn run(dirs: &[PathBuf], out: &Path) -> u8 {
    let result = dirs
        .iter()
        .map(|d| load_node(d))
        .collect::<Result<Vec<_>, _>>()
        .and_then(|nodes| merge(&nodes))
        .and_then(|(summary, recorded)| {
            write_run(out, &summary, &recorded)
                .map(|()| summary)
                .map_err(|e| e.to_string())
        });
    match result {
        Ok(summary) => super::report_written(&summary, out),
        Err(e) => {
            eprintln!("gauntlet merge: {e}");
            EXIT_USAGE
        }
    }
}
