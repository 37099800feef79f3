//! Traces and datasets end to end over real HTTP on 127.0.0.1: a trace replays at its times
//! (× 1/speed) with its requests, a run's `requests.jsonl` replays as the same requests,
//! sampling keeps whole sessions, a bad line fails the run naming its line, and a dataset's
//! turns are what the upstream receives.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gauntlet::driver::{self, RequestsLogTarget, RunOptions, Target};
use gauntlet::record::RunResult;
use gauntlet::scenario::{RequestsLogMode, Scenario};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_gauntlet");

fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("gauntlet-trace-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs scenario text on two driver threads against `target`, logging requests to `log`.
fn run(text: &str, target: Target, log: Option<&Path>) -> Result<RunResult, driver::run::RunError> {
    let scenario = Scenario::parse(text, "test.toml").unwrap();
    let options = RunOptions {
        target,
        threads: 2,
        requests_log: log.map(|p| RequestsLogTarget {
            path: p.to_path_buf(),
            mode: RequestsLogMode::Counts,
        }),
        ..RunOptions::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(driver::run(&scenario, options, std::future::pending()))
}

/// The lines of a `requests.jsonl`.
fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn offsets(log: &[Value]) -> Vec<f64> {
    let mut v: Vec<f64> = log.iter().map(|l| l["offset"].as_f64().unwrap()).collect();
    v.sort_by(f64::total_cmp);
    v
}

/// `(session, user)` of every line, sorted.
fn who(log: &[Value]) -> Vec<(String, String)> {
    let mut v: Vec<_> = log
        .iter()
        .map(|l| {
            (
                l["session"].as_str().unwrap_or("").to_string(),
                l["user"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn scenario_with_trace(trace: &str, duration: &str) -> String {
    format!("name = \"t\"\nseed = 5\nduration = \"{duration}\"\n[workload]\nmax_tokens = 8\ntrace = {trace}\n")
}

#[test]
fn a_trace_replays_at_its_times_over_speed_with_its_requests() {
    let dir = temp_dir("times");
    let trace = dir.join("t.jsonl");
    let mut text = String::new();
    for i in 0..20 {
        let route = if i == 7 { "embeddings" } else { "chat" };
        text.push_str(&format!(
            "{{\"offset\": {:.2}, \"session\": \"s{}\", \"user\": \"u{}\", \"route\": \"{route}\", \"prompt_tokens\": {}, \"stream\": {}}}\n",
            i as f64 * 0.09,
            i % 5,
            i % 3,
            10 + i,
            i % 2 == 0
        ));
    }
    std::fs::write(&trace, &text).unwrap();
    let spec = format!(
        "{{ file = {:?}, speed = 2.0 }}",
        trace.display().to_string()
    );
    let log = dir.join("requests.jsonl");
    let r = run(
        &scenario_with_trace(&spec, "2s"),
        Target::Embedded,
        Some(&log),
    )
    .unwrap();
    let stats = r.mock_stats.unwrap();
    assert_eq!(
        (r.totals.started, r.totals.ok, stats.requests),
        (20, 20, 20)
    );
    assert_eq!(
        stats.by_route.get("/v1/embeddings"),
        Some(&1),
        "{:?}",
        stats.by_route
    );
    // Sent at the file's offsets halved: the log holds each request's intended time.
    let got = offsets(&lines(&log));
    let want: Vec<f64> = (0..20)
        .map(|i| ((i as f64 * 0.09) / 2.0 * 1e6).round() / 1e6)
        .collect();
    assert_eq!(got, want);
    // And actually sent then: the schedule lag stays far below the 45 ms between lines.
    assert!(r.max_lag < Duration::from_millis(40), "lag {:?}", r.max_lag);
    let log = lines(&log);
    assert_eq!(log.iter().filter(|l| l["stream"] == true).count(), 10);
    assert!(log
        .iter()
        .all(|l| l["prompt"].is_null() && l["prompt_tokens"].is_u64()));
}

#[test]
fn a_recorded_run_replays_as_the_same_requests() {
    let dir = temp_dir("record");
    let first = dir.join("first.jsonl");
    let recorded = "name = \"r\"\nseed = 9\nduration = \"1s\"\n[workload]\narrivals = \"constant\"\n\
        stages = [{ for = \"1s\", rate = \"15/s\" }]\nturns = { min = 1, max = 3 }\nthink_time = \"30ms\"\n\
        end_users = { count = 6, zipf_exponent = 1.0 }\nstream_share = 0.5\nmax_tokens = 8\n";
    let a = run(recorded, Target::Embedded, Some(&first)).unwrap();
    let a_log = lines(&first);
    assert_eq!(a_log.len() as u64, a.totals.started);
    assert!(
        a_log
            .iter()
            .map(|l| l["session"].clone())
            .collect::<std::collections::HashSet<_>>()
            .len()
            < a_log.len(),
        "no multi-turn session recorded"
    );
    // Replayed against another tuning (a client timeout), recorded again.
    let second = dir.join("second.jsonl");
    let replay = format!(
        "{}[client.timeout]\ntotal = \"5s\"\n",
        scenario_with_trace(&format!("{:?}", first.display().to_string()), "1s")
    );
    let b = run(&replay, Target::Embedded, Some(&second)).unwrap();
    let b_log = lines(&second);
    assert_eq!(b.totals.started, a.totals.started);
    assert_eq!(
        b.mock_stats.unwrap().requests,
        a.mock_stats.unwrap().requests
    );
    assert_eq!(who(&b_log), who(&a_log));
    assert_eq!(offsets(&b_log), offsets(&a_log));
    let streams = |log: &[Value]| log.iter().filter(|l| l["stream"] == true).count();
    assert_eq!(streams(&b_log), streams(&a_log));
}

#[test]
fn sampling_by_session_keeps_whole_sessions() {
    let dir = temp_dir("sample");
    let trace = dir.join("t.jsonl");
    let text: String = (0..40)
        .map(|i| {
            format!(
                "{{\"offset\": {:.3}, \"session\": \"s{}\"}}\n",
                i as f64 * 0.02,
                i % 10
            )
        })
        .collect();
    std::fs::write(&trace, text).unwrap();
    let spec = format!(
        "{{ file = {:?}, sample = 0.5 }}",
        trace.display().to_string()
    );
    let log = dir.join("requests.jsonl");
    let r = run(
        &scenario_with_trace(&spec, "1s"),
        Target::Embedded,
        Some(&log),
    )
    .unwrap();
    let mut per = std::collections::BTreeMap::new();
    for l in lines(&log) {
        *per.entry(l["session"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    assert!(per.values().all(|n| *n == 4), "{per:?}");
    assert!((1..10).contains(&per.len()), "{per:?}");
    assert_eq!(r.totals.started, 4 * per.len() as u64);
}

#[test]
fn a_bad_line_fails_the_run_naming_its_line() {
    let dir = temp_dir("bad");
    let trace = dir.join("t.jsonl");
    std::fs::write(
        &trace,
        "{\"offset\": 0}\n{\"offset\": 0.1}\n{\"offset\": 0.2, \"max_tokens\": \"many\"}\n",
    )
    .unwrap();
    let text = scenario_with_trace(&format!("{:?}", trace.display().to_string()), "1s");
    let e = run(&text, Target::Embedded, None).unwrap_err().to_string();
    assert!(e.contains(&format!("{}:3:", trace.display())), "{e}");
    // From the command line: a usage error (exit 2), nothing sent.
    let file = dir.join("s.toml");
    std::fs::write(&file, &text).unwrap();
    let out = std::process::Command::new(BIN)
        .args(["run", "--quiet", "--requests-log", "--out"])
        .arg(dir.join("out"))
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(":3:"));
}

#[test]
fn the_cli_writes_a_requests_log_with_prompts_when_asked() {
    let dir = temp_dir("cli");
    let file = dir.join("s.toml");
    std::fs::write(
        &file,
        "name = \"c\"\nduration = \"500ms\"\n[workload]\narrivals = \"constant\"\nstages = [{ for = \"500ms\", rate = \"10/s\" }]\n",
    )
    .unwrap();
    let out = dir.join("out");
    let status = std::process::Command::new(BIN)
        .args(["run", "--quiet", "--requests-log=with-prompts", "--out"])
        .arg(&out)
        .arg(&file)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let log = lines(&out.join("requests.jsonl"));
    assert_eq!(log.len(), 4);
    assert!(log
        .iter()
        .all(|l| l["prompt"].is_string() && l["prompt_tokens"].is_null()));
}

/// The embedded mock behind a layer that keeps the last message of every request body.
async fn watched_mock() -> (String, Arc<Mutex<Vec<String>>>) {
    use axum::body::Body;
    use axum::extract::Request;
    use axum::middleware::Next;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let state = mock_upstream::server::MockState::new(
        mock_upstream::faults::parse_toml("", "none.toml").unwrap(),
        mock_upstream::server::MockOptions::default(),
    );
    let keep = seen.clone();
    let router = mock_upstream::server::router(state).layer(axum::middleware::from_fn(
        move |req: Request, next: Next| {
            let keep = keep.clone();
            async move {
                let (parts, body) = req.into_parts();
                let bytes = axum::body::to_bytes(body, 1 << 20)
                    .await
                    .unwrap_or_default();
                if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
                    if let Some(m) = v["messages"].as_array().and_then(|m| m.last()) {
                        keep.lock()
                            .unwrap()
                            .push(m["content"].as_str().unwrap_or("").to_string());
                    }
                }
                next.run(Request::from_parts(parts, Body::from(bytes)))
                    .await
            }
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, seen)
}

#[test]
fn a_datasets_turns_are_what_the_upstream_receives() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/data/sharegpt-sample.json");
    let dataset = gauntlet::scenario::Dataset::load(&path).unwrap();
    let text = format!(
        "name = \"d\"\nseed = 3\nduration = \"1s\"\n[workload]\narrivals = \"constant\"\n\
         stages = [{{ for = \"1s\", rate = \"20/s\" }}]\nmax_tokens = 8\n\
         prompts = {{ dataset = {:?}, zipf_exponent = 0.0 }}\n",
        path.display().to_string()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (url, seen) = rt.block_on(watched_mock());
    let scenario = Scenario::parse(&text, "d.toml").unwrap();
    let options = RunOptions {
        target: Target::External(url),
        threads: 1,
        ..RunOptions::default()
    };
    let r = rt
        .block_on(driver::run(&scenario, options, std::future::pending()))
        .unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len() as u64, r.totals.ok);
    assert!(seen.len() >= 19, "{}", seen.len());
    let first: Vec<&str> = dataset
        .conversations
        .iter()
        .map(|c| c.turns[0].as_str())
        .collect();
    let later: Vec<&str> = dataset
        .conversations
        .iter()
        .flat_map(|c| c.turns[1..].iter().map(String::as_str))
        .collect();
    assert!(
        seen.iter()
            .all(|s| first.contains(&s.as_str()) || later.contains(&s.as_str())),
        "{seen:?}"
    );
    // Sessions go on to their conversations' later turns.
    assert!(seen.iter().any(|s| later.contains(&s.as_str())), "{seen:?}");
}
