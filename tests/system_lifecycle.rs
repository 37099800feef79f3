//! Starting and stopping a `[system]` that misbehaves: it cannot start, exits before it is
//! ready, is never ready, ignores SIGTERM, or is running when gauntlet is interrupted. Each
//! gives a clear message and the right exit code, and leaves no process behind: every command
//! writes its pid (and a child's) to a file, and the test checks they are gone.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_gauntlet");

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gauntlet-sys-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A scenario of `duration` at 5/s whose `[system]` has `system` (TOML lines).
fn scenario(duration: &str, system: &str) -> String {
    format!(
        "name = \"sut\"\nduration = \"{duration}\"\n[workload]\ndrain = \"1s\"\nstages = [{{ for = \"{duration}\", rate = \"5/s\" }}]\n[system]\nurl = \"http://127.0.0.1:{{port}}\"\n{system}\n"
    )
}

/// Writes the scenario into `dir` and returns the `gauntlet run` command for it.
fn command(dir: &Path, text: &str) -> Command {
    let file = dir.join("s.toml");
    std::fs::write(&file, text).unwrap();
    let mut c = Command::new(BIN);
    c.arg("run")
        .arg(&file)
        .arg("--out")
        .arg(dir.join("report"))
        .arg("--quiet")
        .arg("--threads")
        .arg("1");
    c
}

fn run(dir: &Path, text: &str) -> (i32, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command(dir, text).output().unwrap();
    let text = String::from_utf8_lossy(&stdout).to_string() + &String::from_utf8_lossy(&stderr);
    (status.code().unwrap_or(-1), text)
}

/// Whether `pid` runs (a zombie waiting for its reaper runs nothing).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next());
        !matches!(state, Some("Z" | "X"))
    })
}

/// The pids written to `dir/pids` (one a line); at least `expected` of them.
fn pids(dir: &Path, expected: usize) -> Vec<u32> {
    let text = std::fs::read_to_string(dir.join("pids")).unwrap_or_default();
    let pids: Vec<u32> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
    assert!(pids.len() >= expected, "pids written: {text:?}");
    pids
}

fn assert_all_gone(dir: &Path, expected: usize) {
    for pid in pids(dir, expected) {
        assert!(!alive(pid), "process {pid} was left behind");
    }
}

#[test]
fn a_program_that_does_not_exist_is_a_clear_error() {
    let dir = temp_dir("nonexistent");
    let (code, out) = run(
        &dir,
        &scenario(
            "1s",
            "command = [\"/nonexistent/gauntlet-app\", \"--port\", \"{port}\"]",
        ),
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("system.command: \"/nonexistent/gauntlet-app\" could not be started"),
        "{out}"
    );
    // Through the shell, the shell says it, and its status is shown.
    let (code, out) = run(
        &dir,
        &scenario("1s", "command = \"no-such-gauntlet-app --port {port}\""),
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("exited before it was ready (exit status: 127)"),
        "{out}"
    );
    assert!(out.contains("not found"), "{out}");
}

#[test]
fn exiting_before_ready_shows_the_status_and_the_output() {
    let dir = temp_dir("early");
    let pidfile = dir.join("pids");
    let cmd = format!(
        "command = '''sleep 30 & echo $! >> {p}; echo $$ >> {p}; echo booting on {{port}}; echo bad config >&2; exit 3'''",
        p = pidfile.display()
    );
    let (code, out) = run(&dir, &scenario("1s", &cmd));
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("exited before it was ready (exit status: 3)"),
        "{out}"
    );
    assert!(
        out.contains("| booting on ") && out.contains("| bad config"),
        "{out}"
    );
    // The child it left running in its group is stopped too.
    assert_all_gone(&dir, 2);
    assert!(dir.join("report/system.log").exists());
}

#[test]
fn never_ready_is_stopped_after_ready_timeout() {
    let dir = temp_dir("never");
    let cmd = format!(
        "command = '''sleep 30 & echo $! >> {p}; echo $$ >> {p}; exec sleep 30'''\nready = {{ line = \"listening\" }}\nready_timeout = \"1s\"",
        p = dir.join("pids").display()
    );
    let (code, out) = run(&dir, &scenario("1s", &cmd));
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("not ready after 1s (no line of its output contained \"listening\")"),
        "{out}"
    );
    assert_all_gone(&dir, 2);
}

#[test]
fn ignoring_sigterm_gets_sigkill_after_stop_timeout_and_the_run_still_reports() {
    let dir = temp_dir("stubborn");
    let cmd = format!(
        "command = '''trap '' TERM; echo $$ >> {p}; echo listening; while true; do sleep 0.1; done'''\nready = {{ line = \"listening\" }}\nstop_timeout = \"1s\"",
        p = dir.join("pids").display()
    );
    let (code, out) = run(&dir, &scenario("1s", &cmd));
    // Not a failure of the run: the report is whole (its requests failed: nothing listens).
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("ignored SIGTERM for 1s and was killed with SIGKILL"),
        "{out}"
    );
    assert!(dir.join("report/summary.json").exists());
    let log = std::fs::read_to_string(dir.join("report/system.log")).unwrap();
    assert!(
        log.contains("listening") && log.contains("[gauntlet] the system ignored SIGTERM"),
        "{log}"
    );
    assert_all_gone(&dir, 1);
}

#[test]
fn sigterm_to_gauntlet_stops_the_system_and_writes_the_report() {
    let dir = temp_dir("interrupt");
    let cmd = format!(
        "command = '''echo $$ >> {p}; echo listening; exec sleep 60'''\nready = {{ line = \"listening\" }}",
        p = dir.join("pids").display()
    );
    let mut child = command(&dir, &scenario("60s", &cmd))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Until the system has started (its pid is written), then a moment of the run.
    for _ in 0..200 {
        if std::fs::read_to_string(dir.join("pids")).is_ok_and(|t| t.ends_with('\n')) {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(pids(&dir, 1).iter().all(|p| alive(*p)));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(dir.join("report/summary.json").exists());
    let log = std::fs::read_to_string(dir.join("report/system.log")).unwrap();
    assert!(
        log.contains("[gauntlet] the system stopped on SIGTERM (signal 15 (SIGTERM))"),
        "{log}"
    );
    assert_all_gone(&dir, 1);
}

#[test]
fn sigterm_while_waiting_for_ready_stops_the_system() {
    let dir = temp_dir("interrupt-start");
    let cmd = format!(
        "command = '''echo $$ >> {p}; exec sleep 60'''\nready = {{ line = \"listening\" }}\nready_timeout = \"60s\"",
        p = dir.join("pids").display()
    );
    let mut child = command(&dir, &scenario("5s", &cmd))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..200 {
        if std::fs::read_to_string(dir.join("pids")).is_ok_and(|t| t.ends_with('\n')) {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted while waiting for it to become ready"),
        "{err}"
    );
    assert_all_gone(&dir, 1);
}

#[test]
fn bad_system_keys_name_file_line_and_column() {
    let dir = temp_dir("bad-keys");
    let (code, out) = run(&dir, &scenario("1s", "command = \"x\"\nready = \"health\""));
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("s.toml:9:1: system.ready"), "{out}");
    let (code, out) = run(&dir, &scenario("1s", "command = \"x\"\nready_timeout = 5"));
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("s.toml:9:"), "{out}");
    let (code, out) = run(&dir, &scenario("1s", "comand = \"x\""));
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("s.toml:8:1") && out.contains("comand"),
        "{out}"
    );
    let (code, out) = run(
        &dir,
        &scenario(
            "1s",
            "api_key_env = \"GAUNTLET_TEST_UNSET_KEY\"\ncommand = \"sleep 5\"",
        ),
    );
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("GAUNTLET_TEST_UNSET_KEY is not set"), "{out}");
}
