//! The bad-input corpus: every scenario and fault file under `tests/bad_inputs/` is refused with the error its
//! first line expects (`# expect LINE:COL: MESSAGE`), naming the file, the position and what to
//! write instead — never a panic, never accepted.

use std::path::{Path, PathBuf};

use gauntlet::scenario::Scenario;

fn corpus(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/bad_inputs")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// `LINE:COL: MESSAGE` from the file's first line.
fn expectation(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    let first = text.lines().next().unwrap_or("");
    first
        .strip_prefix("# expect ")
        .unwrap_or_else(|| {
            panic!(
                "{}: first line must be `# expect LINE:COL: MESSAGE`",
                file.display()
            )
        })
        .to_string()
}

#[test]
fn every_bad_scenario_is_refused_at_its_key() {
    let files = corpus("scenarios");
    assert!(files.len() >= 10, "{files:?}");
    let mut wrong = Vec::new();
    for file in &files {
        let want = format!("{}:{}", file.display(), expectation(file));
        match Scenario::load(file) {
            Ok(_) => wrong.push(format!("{}: accepted", file.display())),
            Err(e) if e.to_string().starts_with(&want) => {}
            Err(e) => wrong.push(format!("want {want}\n got {e}")),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_bad_fault_file_is_refused_at_its_value() {
    let files = corpus("faults");
    assert!(files.len() >= 5, "{files:?}");
    let mut wrong = Vec::new();
    for file in &files {
        let want = format!("{}:{}", file.display(), expectation(file));
        match mock_upstream::faults::load::load_file(file) {
            Ok(_) => wrong.push(format!("{}: accepted", file.display())),
            Err(e) if e.to_string().starts_with(&want) => {}
            Err(e) => wrong.push(format!("want {want}\n got {e}")),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A copy of the example run directory, damaged by `damage`, read back by `gauntlet report`.
fn report_of_damaged(name: &str, damage: impl FnOnce(&Path)) -> (Option<i32>, String) {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/example");
    let dir = std::env::temp_dir().join(format!("gauntlet-damaged-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(&example).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    damage(&dir);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .arg("report")
        .arg(&dir)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn edit(dir: &Path, file: &str, change: impl FnOnce(String) -> String) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, change(text)).unwrap();
}

/// A change made to a copy of a run directory.
type Damage = Box<dyn FnOnce(&Path)>;

#[test]
fn damaged_run_directories_are_refused_not_rebuilt() {
    let cases: Vec<(&str, Damage, &str)> = vec![
        (
            "empty-hlog",
            Box::new(|d| std::fs::write(d.join("latency.hlog"), "").unwrap()),
            "latency.hlog: its histograms hold 0 latencies, summary.json counts",
        ),
        (
            "truncated-hlog",
            Box::new(|d| edit(d, "latency.hlog", |t| t[..t.len() * 2 / 3].to_string())),
            "latency.hlog:",
        ),
        (
            "missing-column",
            Box::new(|d| {
                edit(d, "timeseries.csv", |t| {
                    t.lines()
                        .map(|l| l.split(',').skip(1).collect::<Vec<_>>().join(",") + "\n")
                        .collect()
                })
            }),
            "timeseries.csv:",
        ),
        (
            "lost-row",
            Box::new(|d| {
                edit(d, "timeseries.csv", |t| {
                    let mut lines: Vec<&str> = t.lines().collect();
                    lines.remove(3);
                    lines.join("\n") + "\n"
                })
            }),
            "timeseries.csv: its rows complete",
        ),
        (
            "huge-duration",
            Box::new(|d| {
                edit(d, "summary.json", |t| {
                    t.replacen("\"duration_s\": 20.0", "\"duration_s\": 1e300", 1)
                })
            }),
            "summary.json: duration_s = 1e300 is not the length of a run",
        ),
        (
            "huge-start",
            Box::new(|d| {
                edit(d, "timeseries.csv", |t| {
                    t.replacen("\n1.000,", "\n1e300,", 1)
                })
            }),
            "timeseries.csv: line 3: interval_start_s = 1e300 is past the end of any run",
        ),
        (
            "nan-figure",
            Box::new(|d| edit(d, "timeseries.csv", |t| t.replacen(",50.015,", ",NaN,", 1))),
            "timeseries.csv: line 2: p50_ms = NaN is not a figure a run writes",
        ),
    ];
    let mut wrong = Vec::new();
    for (name, damage, want) in cases {
        let (code, stderr) = report_of_damaged(name, damage);
        if code != Some(2) || !stderr.contains(want) || stderr.contains("{ ") {
            wrong.push(format!(
                "{name}: exit {code:?}, want {want:?}\n  got {stderr}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
