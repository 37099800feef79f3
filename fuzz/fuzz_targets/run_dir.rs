//! A run directory as `gauntlet report` and `merge` read it: the input is split into
//! `summary.json`, `timeseries.csv` and `latency.hlog` at NUL bytes, written to a directory
//! and read back. Damaged files must be refused with an error, never rebuilt or a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |b| *b == 0);
    let (summary, csv, hlog) = (
        parts.next().unwrap_or(&[]),
        parts.next().unwrap_or(&[]),
        parts.next().unwrap_or(&[]),
    );
    let dir = std::env::temp_dir().join(format!("gauntlet-fuzz-run-dir-{}", std::process::id()));
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    for (name, bytes) in [
        ("summary.json", summary),
        ("timeseries.csv", csv),
        ("latency.hlog", hlog),
    ] {
        if std::fs::write(dir.join(name), bytes).is_err() {
            return;
        }
    }
    if let Ok(s) = gauntlet::report::load::load_summary(&dir) {
        let _ = gauntlet::report::load::load_recorded(&dir, &s);
    }
});
