//! The bad-input corpus: every file under `tests/bad_inputs/` is refused with the error its
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
