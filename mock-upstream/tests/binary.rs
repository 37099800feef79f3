//! The `mock-upstream` binary: check, listen, and shut down on Ctrl-C.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_mock-upstream");

fn faults_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/faults"))
}

#[test]
fn every_example_fault_file_checks() {
    let files: Vec<_> = std::fs::read_dir(faults_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    assert!(files.len() >= 15);
    let out = Command::new(BIN)
        .arg("check")
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bad_file_exits_2_with_line_and_column() {
    let dir = std::env::temp_dir().join(format!("mock-upstream-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.toml");
    std::fs::write(&file, "[limits]\nrequests_per_minute = 60\n\n[latency]\ndistribution = \"fixed\"\nvalue = \"soon\"\n").unwrap();
    let out = Command::new(BIN).arg("check").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml:6:9: invalid duration \"soon\""),
        "{err}"
    );
    let out = Command::new(BIN)
        .args(["--faults"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(BIN).arg("--no-such-flag").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn serves_on_a_free_port_and_stops_on_ctrl_c() {
    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--seed", "42", "--faults"])
        .arg(faults_dir().join("canonical.toml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = rt.block_on(async {
        reqwest::get(format!("{url}/_mock/health"))
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 200);
    let seed = rt.block_on(async {
        let v: serde_json::Value = reqwest::get(format!("{url}/_mock/stats"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["seed"].as_u64()
    });
    assert_eq!(seed, Some(42));
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn check_refuses_numbers_the_handlers_cannot_run_with() {
    let dir = std::env::temp_dir().join(format!("mock-upstream-range-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        (
            "multiplier.toml",
            "[[timeline]]\nat = \"1s\"\nkind = \"latency\"\nmultiplier = 1e300\n",
            "multiplier.toml:4:14: multiplier = 1e300 is outside 0..=1000",
        ),
        (
            "slowdown.toml",
            "[concurrency]\nlimit = 2\nmode = \"queue\"\nqueue_slowdown = nan\n",
            "slowdown.toml:4:18: queue_slowdown = NaN is outside 0..=100",
        ),
        (
            "reply.toml",
            "[reply]\ntokens = { distribution = \"uniform\", min = 1, max = inf }\n",
            "reply.toml:2:10: max = inf is outside 0..=1000000",
        ),
    ];
    for (name, text, expected) in cases {
        let file = dir.join(name);
        std::fs::write(&file, text).unwrap();
        let out = Command::new(BIN).arg("check").arg(&file).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{name}: {err}");
    }
}
