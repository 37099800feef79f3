//! What the `gauntlet grade` tests share: a scratch directory, a scenario file whose
//! `[system]` starts the system under test, the binary run with a watchdog, and the verdicts
//! read back from `scorecard.json`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A grade that has not finished by then has hung: it is killed and the test fails. A watchdog,
/// not a timed assertion: the questions asked in a test take seconds.
const DEADLINE: Duration = Duration::from_secs(180);

/// A fresh directory for one test under the target directory's tmp.
pub fn scratch(name: &str) -> PathBuf {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("grade-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `dir/system.toml`: a scenario whose `[system]` is `url` on `{port}` plus `body`.
pub fn write_system(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("system.toml");
    let text = format!(
        "name = \"system\"\nduration = \"1s\"\n[workload]\nstages = [{{ for = \"1s\", rate = \"1/s\" }}]\n\
         [system]\nurl = \"http://127.0.0.1:{{port}}\"\nready_timeout = \"30s\"\n{body}"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `gauntlet grade ARGS --out OUT`; its exit code (its output printed, for a failing test).
pub fn grade(args: &[&str], out: &Path) -> i32 {
    grade_with_env(args, out, &[])
}

/// [`grade`] with extra environment variables.
pub fn grade_with_env(args: &[&str], out: &Path, env: &[(&str, &str)]) -> i32 {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .arg("grade")
        .args(args)
        .arg("--out")
        .arg(out)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gauntlet runs");
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("gauntlet grade {args:?} did not finish within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut text = String::new();
    let _ = child.stdout.take().unwrap().read_to_string(&mut text);
    let _ = child.stderr.take().unwrap().read_to_string(&mut text);
    println!("gauntlet grade {args:?}: {status}\n{text}");
    status.code().unwrap_or(-1)
}

/// `scorecard.json`'s verdicts: question id to (pass, measured).
pub fn verdicts(out: &Path) -> BTreeMap<String, (bool, String)> {
    let text = std::fs::read_to_string(out.join("scorecard.json")).expect("scorecard.json");
    let card: serde_json::Value = serde_json::from_str(&text).unwrap();
    card["answers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["question"].as_str().unwrap().to_string(),
                (
                    a["pass"].as_bool().unwrap(),
                    a["measured"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect()
}

/// Checks that `xml` is well-formed: a prolog, balanced tags, quoted attributes, escaped text.
pub fn assert_well_formed_xml(xml: &str) {
    let body = xml.trim_start();
    assert!(body.starts_with("<?xml "), "no XML prolog");
    let body = &body[body.find("?>").expect("prolog closes") + 2..];
    let mut stack: Vec<String> = Vec::new();
    let mut rest = body;
    while let Some(open) = rest.find('<') {
        let text = &rest[..open];
        for (i, _) in text.match_indices('&') {
            let entity = &text[i..];
            assert!(
                ["&lt;", "&gt;", "&amp;", "&quot;", "&apos;"]
                    .iter()
                    .any(|e| entity.starts_with(e)),
                "bare & in text: {text}"
            );
        }
        let close = rest[open..].find('>').expect("tag closes") + open;
        let tag = &rest[open + 1..close];
        assert!(!tag.contains('<'), "< inside a tag: {tag}");
        assert_eq!(tag.matches('"').count() % 2, 0, "unbalanced quotes: {tag}");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(name.trim()),
                "mismatched </{name}>"
            );
        } else if !tag.ends_with('/') {
            let name = tag.split_whitespace().next().expect("tag name");
            stack.push(name.to_string());
        }
        rest = &rest[close + 1..];
    }
    assert!(stack.is_empty(), "unclosed tags: {stack:?}");
    assert!(rest.trim().is_empty(), "text after the root element");
}
