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

/// Starts the binary with `args` and `env`, and returns it with its URL (first stdout line).
fn spawn(args: &[&str], env: &[(&str, &str)]) -> (std::process::Child, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("MOCK_ADMIN_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_string();
    assert!(url.starts_with("http://"), "{line}");
    (child, url)
}

#[test]
fn refuses_a_remote_address_unless_allowed_with_a_token() {
    let out = Command::new(BIN)
        .args(["--listen", "0.0.0.0:0"])
        .env_remove("MOCK_ADMIN_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a loopback address"), "{err}");
    assert!(err.contains("--allow-remote"), "{err}");
    let out = Command::new(BIN)
        .args(["--listen", "0.0.0.0:0", "--allow-remote"])
        .env_remove("MOCK_ADMIN_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs an admin token"), "{err}");
}

#[test]
fn refuses_zero_timeouts_and_no_connections() {
    for (args, want) in [
        (
            ["--header-read-timeout", "0s"],
            "--header-read-timeout must be more than 0",
        ),
        (
            ["--idle-timeout", "0ms"],
            "--idle-timeout must be more than 0",
        ),
        (
            ["--max-connections", "0"],
            "--max-connections must be at least 1",
        ),
    ] {
        let out = Command::new(BIN)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn allow_remote_takes_the_token_from_the_environment_and_never_prints_it() {
    let token = "tok-7f3a9c";
    let (child, url) = spawn(
        &["--listen", "127.0.0.1:0", "--allow-remote"],
        &[("MOCK_ADMIN_TOKEN", token)],
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (without, with) = rt.block_on(async {
        let c = reqwest::Client::new();
        let put = |auth: Option<&str>| {
            let mut r = c
                .put(format!("{url}/_mock/faults"))
                .header("content-type", "application/toml")
                .body("seed = 3\n");
            if let Some(t) = auth {
                r = r.bearer_auth(t);
            }
            r.send()
        };
        let without = put(None).await.unwrap().status();
        let with = put(Some(token)).await.unwrap().status();
        let reset = c.post(format!("{url}/_mock/reset")).send().await.unwrap();
        assert_eq!(reset.status(), 401);
        (without, with)
    });
    assert_eq!(without, 401);
    assert_eq!(with, 200);
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains(token), "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(token));
}

#[test]
fn sigterm_drains_and_exits_0_like_ctrl_c() {
    let (child, url) = spawn(&["--listen", "127.0.0.1:0"], &[]);
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
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    assert!(String::from_utf8_lossy(&out.stderr).contains("shutting down"));
}
