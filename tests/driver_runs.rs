//! Short scenarios end to end over real HTTP on 127.0.0.1, asserting on `summary.json` figures
//! that follow from the configured faults.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_gauntlet");

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gauntlet-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `gauntlet run` on scenario text; returns the exit code, stdout and the summary.
fn run(name: &str, scenario: &str, extra: &[&str]) -> (i32, String, Option<Value>) {
    let dir = temp_dir(name);
    let file = dir.join("scenario.toml");
    std::fs::write(&file, scenario).unwrap();
    let out = dir.join("report");
    let output = Command::new(BIN)
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .args(extra)
        .output()
        .unwrap();
    let summary = std::fs::read_to_string(out.join("summary.json"))
        .ok()
        .map(|t| serde_json::from_str(&t).unwrap());
    let stdout = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.code().unwrap_or(-1), stdout, summary)
}

fn f(v: &Value, path: &str) -> f64 {
    path.split('.')
        .fold(v, |v, k| &v[k])
        .as_f64()
        .unwrap_or_else(|| panic!("{path} in {v}"))
}

#[test]
fn fixed_latency_gives_its_p50() {
    let (code, out, s) = run(
        "fixed",
        r#"
name = "fixed"
duration = "3s"
[upstream]
latency = { distribution = "fixed", value = "50ms" }
[workload]
arrivals = "constant"
stages = [{ for = "3s", rate = "20/s" }]
prompts = { distinct = 100000, zipf_exponent = 0.0 }
"#,
        &[],
    );
    assert_eq!(code, 0, "{out}");
    let s = s.unwrap();
    let p50 = f(&s, "latency_ms.p50");
    assert!((50.0..=60.0).contains(&p50), "p50 {p50}");
    assert_eq!(f(&s, "requests.total"), 59.0);
    assert_eq!(f(&s, "error_rate"), 0.0);
    assert_eq!(s["mode"], "real");
    for key in [
        "scenario",
        "seed",
        "duration_s",
        "outcomes",
        "latency_by_outcome_ms",
        "ttft_ms",
        "upstream",
        "amplification",
        "goodput_rps",
        "recovery",
        "quota",
        "thresholds",
    ] {
        assert!(s.get(key).is_some(), "summary.json lacks {key}");
    }
}

#[test]
fn injected_503s_give_their_error_rate() {
    let (code, out, s) = run(
        "errors",
        r#"
name = "errors"
seed = 3
duration = "4s"
[[upstream.failures]]
kind = "status"
status = 503
probability = 0.3
[workload]
stages = [{ for = "4s", rate = "100/s" }]
prompts = { distinct = 100000, zipf_exponent = 0.0 }
"#,
        &[],
    );
    assert_eq!(code, 0, "{out}");
    let s = s.unwrap();
    let n = f(&s, "requests.total");
    let rate = f(&s, "error_rate");
    // Binomial spread: 4 standard deviations of an estimate of p = 0.3 from n requests.
    let tolerance = 4.0 * (0.3f64 * 0.7 / n).sqrt();
    assert!(
        (rate - 0.3).abs() <= tolerance,
        "error rate {rate} over {n} requests"
    );
    assert_eq!(
        f(&s, "upstream.calls"),
        n,
        "retries are off: one call per request"
    );
    assert_eq!(
        s["error_kinds"]["server_error"].as_f64(),
        Some(f(&s, "requests.errors"))
    );
}

#[test]
fn a_stall_shows_in_p99_and_in_dropped_arrivals() {
    let (code, out, s) = run(
        "stall",
        r#"
name = "stall"
duration = "3s"
[upstream]
latency = { distribution = "fixed", value = "10ms" }
[[upstream.timeline]]
at = "1s"
for = "1s"
kind = "latency"
latency = { distribution = "fixed", value = "3s" }
[workload]
arrivals = "constant"
stages = [{ for = "3s", rate = "20/s" }]
prompts = { distinct = 100000, zipf_exponent = 0.0 }
max_in_flight = 8
"#,
        &[],
    );
    assert_eq!(code, 0, "{out}");
    let s = s.unwrap();
    assert!(f(&s, "latency_ms.p99") >= 3000.0, "{}", s["latency_ms"]);
    assert!(f(&s, "requests.dropped") >= 5.0, "{}", s["requests"]);
    assert!(f(&s, "offered_rps") > f(&s, "goodput_rps"));
}

#[test]
fn failed_thresholds_exit_1_and_still_write_the_report() {
    let (code, out, s) = run(
        "thresholds",
        r#"
name = "thresholds"
duration = "1s"
[upstream]
latency = { distribution = "fixed", value = "20ms" }
[workload]
stages = [{ for = "1s", rate = "10/s" }]
[thresholds]
"latency.p99" = "< 1ms"
"error_rate" = "< 1%"
"#,
        &[],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL  latency.p99 < 1ms (actual"), "{out}");
    assert!(out.contains("PASS  error_rate < 1%"), "{out}");
    let s = s.unwrap();
    let t = s["thresholds"].as_array().unwrap();
    assert_eq!(t.len(), 2);
    assert!(t
        .iter()
        .any(|t| t["metric"] == "latency.p99" && t["pass"] == false));
    let dir = std::env::temp_dir().join(format!(
        "gauntlet-test-{}-thresholds/report",
        std::process::id()
    ));
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert_well_formed_xml(&junit);
    assert_eq!(junit.matches("<testcase ").count(), 2, "{junit}");
    assert_eq!(junit.matches("<failure ").count(), 1, "{junit}");
    assert!(junit.contains(r#"failures="1""#));
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(
        md.contains("(FAILED)") && md.contains("| `latency.p99 < 1ms` |"),
        "{md}"
    );
    let hlog = std::fs::read_to_string(dir.join("latency.hlog")).unwrap();
    assert!(
        hlog.starts_with("#[Histogram log format version 1.3]\n#[StartTime: "),
        "{hlog}"
    );
}

#[test]
fn a_bad_scenario_exits_2_naming_line_and_column() {
    let (code, out, s) = run(
        "bad",
        "name = \"bad\"\nduration = \"1s\"\n[workload]\nstages = [{ for = \"1s\", rate = \"fast\" }]\n",
        &[],
    );
    assert_eq!(code, 2);
    assert!(out.contains("scenario.toml:4:"), "{out}");
    assert!(out.contains("invalid rate \"fast\""), "{out}");
    assert!(s.is_none());
    let validate = Command::new(BIN)
        .args(["validate"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/canonical.toml"))
        .output()
        .unwrap();
    assert!(validate.status.success());
}

#[test]
fn closed_model_users_think_between_requests() {
    let (code, out, s) = run(
        "closed",
        r#"
name = "closed"
duration = "2s"
[upstream]
latency = { distribution = "fixed", value = "50ms" }
[workload]
model = "closed"
users = 4
think_time = "50ms"
prompts = { distinct = 100000, zipf_exponent = 0.0 }
"#,
        &[],
    );
    assert_eq!(code, 0, "{out}");
    let s = s.unwrap();
    // Each user: ~100 ms per cycle, 2 s: ~20 requests; 4 users: ~80.
    let n = f(&s, "requests.total");
    assert!((60.0..=84.0).contains(&n), "{n}");
    assert!((50.0..=60.0).contains(&f(&s, "latency_ms.p50")));
}

/// The open model's threads: one driver thread or three, the same seeded arrivals and prompts.
/// With the cache on (long TTL, coalescing), the upstream calls are the distinct prompts drawn,
/// whatever thread sent them and however they overlapped: the threads share one cache.
#[test]
fn any_number_of_lanes_sends_the_same_draws() {
    let scenario = r#"
name = "threads"
seed = 7
duration = "1s"
[upstream]
latency = { distribution = "fixed", value = "5ms" }
[workload]
arrivals = "poisson"
stages = [{ for = "1s", rate = "400/s" }]
prompts = { distinct = 1000, zipf_exponent = 1.1 }
[client.cache]
ttl = "1h"
coalesce = true
"#;
    let figures = |threads: &str| {
        let (code, out, s) = run(
            &format!("threads{threads}"),
            scenario,
            &["--threads", threads],
        );
        assert_eq!(code, 0, "{out}");
        let s = s.unwrap();
        assert_eq!(f(&s, "requests.errors"), 0.0, "{s}");
        (f(&s, "requests.total"), f(&s, "upstream.calls"))
    };
    let one = figures("1");
    let three = figures("3");
    assert_eq!(one, three);
    // Poisson arrivals at 400/s for 1 s, and a Zipf mix: fewer calls than requests.
    assert!((300.0..=500.0).contains(&one.0), "{one:?}");
    assert!(one.1 < one.0, "{one:?}");
}

#[test]
fn a_threshold_without_data_fails() {
    // Nothing is sent: no latency, no error rate. A run stopped before its first answer is the
    // same case, and must not pass its thresholds either.
    let (code, out, summary) = run(
        "no-data",
        "name = \"nothing\"\nduration = \"2s\"\n[workload]\nstages = [{ for = \"2s\", rate = \"0/s\" }]\n[thresholds]\n\"latency.p99\" = \"< 1s\"\n\"error_rate\" = \"< 1%\"\n",
        &["--sim"],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL  latency.p99 < 1s (actual no data)"),
        "{out}"
    );
    let thresholds = summary.unwrap()["thresholds"].as_array().unwrap().clone();
    assert_eq!(thresholds.len(), 2);
    for t in thresholds {
        assert_eq!(
            (t["pass"].as_bool(), t["no_data"].as_bool()),
            (Some(false), Some(true))
        );
    }
}

#[test]
fn remote_targets_need_allow_remote() {
    let (code, out, _) = run(
        "remote",
        "name = \"r\"\nduration = \"1s\"\n[workload]\nstages = [{ for = \"1s\", rate = \"1/s\" }]\n",
        &["--target", "https://api.openai.invalid"],
    );
    assert_eq!(code, 2);
    assert!(out.contains("--allow-remote"), "{out}");
}

/// Runs `scenario` with `args`, sends it `signal` after 1.5 s, expects exit 130 (interrupted)
/// and a full report, and returns its summary.
fn interrupted_run(name: &str, scenario: &str, args: &[&str], signal: &str) -> Value {
    let dir = temp_dir(name);
    let file = dir.join("s.toml");
    std::fs::write(&file, scenario).unwrap();
    let out = dir.join("report");
    let mut child = Command::new(BIN)
        .arg("run")
        .arg(&file)
        .args(args)
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{signal}");
    assert!(out.join("timeseries.csv").exists() && out.join("latency.hgrm").exists());
    serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn ctrl_c_still_writes_a_full_report() {
    let s = interrupted_run(
        "ctrlc",
        "name = \"long\"\nduration = \"60s\"\n[upstream]\nlatency = { distribution = \"fixed\", value = \"20ms\" }\n[workload]\nstages = [{ for = \"60s\", rate = \"20/s\" }]\n",
        &[],
        "-INT",
    );
    assert_eq!(s["interrupted"], true);
    assert!(f(&s, "requests.total") >= 10.0);
    assert!(f(&s, "duration_s") < 10.0);
}

#[test]
fn ctrl_c_ends_a_simulation_with_a_full_report() {
    // The simulation's runtime has no I/O driver; Ctrl-C reaches it through a helper thread.
    let s = interrupted_run(
        "ctrlc-sim",
        "name = \"ten-hours\"\nduration = \"10h\"\n[upstream]\nlatency = { distribution = \"fixed\", value = \"20ms\" }\n[workload]\nstages = [{ for = \"10h\", rate = \"50/s\" }]\n",
        &["--sim"],
        "-INT",
    );
    assert_eq!(s["mode"], "sim");
    assert_eq!(s["interrupted"], true);
    assert!(f(&s, "requests.total") >= 1000.0);
    assert!(f(&s, "duration_s") < 36_000.0);
}

#[test]
fn sigterm_ends_a_run_and_a_simulation_like_ctrl_c() {
    let real = interrupted_run(
        "sigterm",
        "name = \"long\"\nduration = \"60s\"\n[upstream]\nlatency = { distribution = \"fixed\", value = \"20ms\" }\n[workload]\nstages = [{ for = \"60s\", rate = \"20/s\" }]\n",
        &[],
        "-TERM",
    );
    assert_eq!(real["interrupted"], true);
    assert!(f(&real, "requests.total") >= 10.0);
    let sim = interrupted_run(
        "sigterm-sim",
        "name = \"ten-hours\"\nduration = \"10h\"\n[workload]\nstages = [{ for = \"10h\", rate = \"50/s\" }]\n",
        &["--sim"],
        "-TERM",
    );
    assert_eq!(sim["interrupted"], true);
    assert!(f(&sim, "duration_s") < 36_000.0);
}

#[test]
fn every_shipped_scenario_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        // A proxy config (a `[proxy]` table) is not a scenario: `proxy::config`'s unit test
        // parses the shipped one.
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            !text.lines().any(|l| l.trim() == "[proxy]")
        })
        .collect();
    assert!(files.len() >= 11, "{files:?}");
    let out = Command::new(BIN)
        .arg("validate")
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A small XML well-formedness check: a prolog, balanced and properly nested tags, quoted
/// attributes, and no bare `<` or `&` in text.
fn assert_well_formed_xml(xml: &str) {
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
