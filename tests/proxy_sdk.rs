//! The official `openai` Node SDK (`tests/sdk/node/`, pinned by its lockfile) pointed at the real
//! `gauntlet proxy` binary, in front of an in-process mock: the proof that a caller using the SDK
//! can swap its base URL for the proxy and notice nothing but the resilience. Chat (plain and
//! streamed) run the mock's own check scripts unchanged with `MOCK_URL` = the
//! proxy (`UPSTREAM_URL` = the mock, for its stats); `proxy_retries.mjs` drives the SDK's retries
//! against the proxy's own 429; `proxy_embeddings.mjs` checks the SDK's base64 path and a list of
//! inputs through the proxy. Each test checks the proxy's side too: its access log (stderr)
//! and `/metrics`, and what the mock saw.
//!
//! Skipped (passing, saying why) without `node` and `tests/sdk/node/node_modules`, unless
//! `GAUNTLET_REQUIRE_SDK=1` (set by `.ci/run`). That rule is a small copy of
//! `mock-upstream/tests/sdk_harness/`'s: that harness starts the mock *binary*
//! (`CARGO_BIN_EXE_mock-upstream`), which only exists for the mock's own tests, so this crate
//! cannot include it as a module.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use mock_upstream::server::RunningMock;
use serde_json::Value;

/// A check script that has not finished by then has hung: it is killed and the test fails.
/// A watchdog, not a timed assertion: the checks take a few seconds.
const SCRIPT_DEADLINE: Duration = Duration::from_secs(120);

/// The route every check but embeddings uses, as the proxy's log and the mock's stats name it.
const CHAT: &str = "/v1/chat/completions";

fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/node")
}

/// Whether the Node SDK can run here; `false` after saying why (a panic with
/// `GAUNTLET_REQUIRE_SDK=1`).
fn node_or_skip(check: &str) -> bool {
    let node = Command::new("node")
        .arg("--version")
        .stdin(Stdio::null())
        .output();
    let why = match node {
        Err(e) => format!("node cannot be run ({e})"),
        Ok(o) if !o.status.success() => format!("node --version failed: {}", o.status),
        Ok(_)
            if !node_dir()
                .join("node_modules/openai/package.json")
                .is_file() =>
        {
            "tests/sdk/node/node_modules/openai is missing (run `npm ci` in tests/sdk/node)".into()
        }
        Ok(_) => return true,
    };
    let msg = format!("{check}: skipped, {why}");
    if std::env::var("GAUNTLET_REQUIRE_SDK").is_ok_and(|v| v == "1") {
        panic!("{msg} and GAUNTLET_REQUIRE_SDK=1");
    }
    eprintln!("{msg}");
    false
}

/// A fresh directory for one check's files.
fn scratch(check: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("gauntlet-proxy-sdk-{check}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The `gauntlet proxy` binary serving one check; killed on drop.
struct Proxy {
    child: Child,
    url: String,
    stderr: PathBuf,
    /// Kept open so that later stdout writes never meet a closed pipe.
    _stdout: BufReader<ChildStdout>,
}

impl Proxy {
    /// Starts `gauntlet proxy CONFIG --listen 127.0.0.1:0` in front of `upstream`, with `client`
    /// tables, and reads the address it prints.
    fn start(dir: &Path, upstream: &str, client: &str) -> Self {
        let config = dir.join("proxy.toml");
        std::fs::write(
            &config,
            format!("{client}\n[proxy]\nupstream = \"{upstream}\"\n"),
        )
        .unwrap();
        let stderr = dir.join("proxy.stderr");
        let mut child = Command::new(env!("CARGO_BIN_EXE_gauntlet"))
            .arg("proxy")
            .arg(&config)
            .args(["--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let url = line
            .trim()
            .strip_prefix("gauntlet proxy listening on ")
            .unwrap_or_default()
            .to_string();
        let mut proxy = Self {
            child,
            url,
            stderr,
            _stdout: stdout,
        };
        if !proxy.url.starts_with("http://127.0.0.1:") {
            let _ = proxy.child.kill();
            panic!("the proxy did not start: {line:?}\n{}", proxy.log());
        }
        proxy
    }

    /// Everything the proxy wrote to stderr so far (its notes and access log).
    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The access log's lines (one JSON object each) for `route`.
    fn access_lines(&self, route: &str) -> Vec<Value> {
        self.log()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["route"] == route)
            .collect()
    }

    /// `GET /metrics`: the sum of the samples of `name` whose labels include every one of
    /// `labels` (0 when none has).
    async fn metric(&self, name: &str, labels: &[&str]) -> f64 {
        let text = reqwest::get(format!("{}/metrics", self.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.rsplit_once(' '))
            .filter(|(series, _)| {
                (series == &name || series.starts_with(&format!("{name}{{")))
                    && labels.iter().all(|label| series.contains(label))
            })
            .map(|(_, v)| v.parse::<f64>().unwrap())
            .sum()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `script` of `tests/sdk/node/` with the SDK pointed at `proxy` (and `UPSTREAM_URL` the
/// mock's root) and asserts it exits 0; on failure the message has its output and the proxy's
/// stderr. Blocking, so run off the runtime that serves the in-process mock.
async fn run_script(script: &'static str, proxy: &Proxy, mock: &RunningMock) -> String {
    let dir = scratch(script);
    let (proxy_url, mock_url) = (proxy.url.clone(), mock.url.clone());
    let (status, output) = tokio::task::spawn_blocking(move || {
        let out_file = dir.join("script.out");
        let out = std::fs::File::create(&out_file).unwrap();
        let mut command = Command::new("node");
        // Nothing the SDK does may leave the machine: no key, base URL or proxy from outside.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("OPENAI_") {
                command.env_remove(&name);
            }
        }
        let mut child = command
            .arg(node_dir().join(script))
            .current_dir(node_dir())
            .env("MOCK_URL", &proxy_url)
            .env("UPSTREAM_URL", &mock_url)
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("{script}: cannot run node: {e}"));
        let status = wait_bounded(&mut child, script);
        let mut output = String::new();
        std::fs::File::open(&out_file)
            .and_then(|mut f| f.read_to_string(&mut output))
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        (status, output)
    })
    .await
    .unwrap();
    assert!(
        status.is_some_and(|s| s.success()),
        "{script} through the proxy failed: {status:?}\n--- output ---\n{output}\n--- proxy stderr ---\n{}",
        proxy.log()
    );
    println!("{output}");
    output
}

/// The script's exit status, or `None` when it ran past [`SCRIPT_DEADLINE`] (it is killed).
fn wait_bounded(child: &mut Child, script: &str) -> Option<ExitStatus> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if start.elapsed() > SCRIPT_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            eprintln!("{script}: killed after {SCRIPT_DEADLINE:?}");
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Requests the mock saw on `route`.
fn mock_requests(m: &RunningMock, route: &str) -> u64 {
    m.state.stats().by_route.get(route).copied().unwrap_or(0)
}

/// Statuses of the access log's lines for `route`, in order.
fn statuses(lines: &[Value]) -> Vec<u64> {
    lines
        .iter()
        .map(|l| l["status"].as_u64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_chat_plain_through_the_proxy() {
    if !node_or_skip("chat_plain.mjs") {
        return;
    }
    let m = common::mock("seed = 1").await;
    let dir = scratch("chat_plain");
    let p = Proxy::start(&dir, &m.url, "");
    run_script("chat_plain.mjs", &p, &m).await;
    assert_eq!(mock_requests(&m, CHAT), 1);
    let lines = p.access_lines(CHAT);
    assert_eq!(statuses(&lines), [200], "{}", p.log());
    assert_eq!(lines[0]["attempts"], 1);
    assert_eq!(
        p.metric(
            "gauntlet_proxy_requests_total",
            &["route=\"/v1/chat/completions\"", "outcome=\"upstream\""]
        )
        .await,
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_chat_stream_through_the_proxy_equals_the_plain_answer() {
    if !node_or_skip("chat_stream.mjs") {
        return;
    }
    // Paced, so that the proxy relays many frames rather than one body.
    let m = common::mock("seed = 1\n[stream]\ntime_to_first_token = \"5ms\"\nper_token = \"1ms\"")
        .await;
    let dir = scratch("chat_stream");
    let p = Proxy::start(&dir, &m.url, "");
    run_script("chat_stream.mjs", &p, &m).await;
    // The script streams, asks plainly, then streams again through the SDK's helper.
    assert_eq!(mock_requests(&m, CHAT), 3);
    let lines = p.access_lines(CHAT);
    assert_eq!(statuses(&lines), [200, 200, 200], "{}", p.log());
    let streamed: Vec<bool> = lines.iter().filter_map(|l| l["stream"].as_bool()).collect();
    assert_eq!(streamed.iter().filter(|s| **s).count(), 2, "{}", p.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_embeddings_through_the_proxy_decode_base64() {
    if !node_or_skip("proxy_embeddings.mjs") {
        return;
    }
    let m = common::mock("models = [\"gpt-4o-mini\", \"text-embedding-3-small\"]").await;
    let dir = scratch("embeddings");
    let p = Proxy::start(&dir, &m.url, "");
    run_script("proxy_embeddings.mjs", &p, &m).await;
    assert_eq!(mock_requests(&m, "/v1/embeddings"), 3);
    assert_eq!(
        statuses(&p.access_lines("/v1/embeddings")),
        [200, 200, 200, 400],
        "{}",
        p.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_retries_the_proxys_own_429_after_retry_after_ms_and_succeeds() {
    if !node_or_skip("proxy_retries.mjs") {
        return;
    }
    let m = common::mock("seed = 1").await;
    let dir = scratch("proxy_retries");
    // One token, refilled every 3 s, never waited for: the proxy answers 429 itself.
    let p = Proxy::start(
        &dir,
        &m.url,
        "[client.limiter]\nrate = \"20/m\"\nburst = 1\nmax_wait = \"0s\"",
    );
    run_script("proxy_retries.mjs", &p, &m).await;
    // The SDK's side is in the script: the first call, one refused without retries, then the
    // retried call's 429 and its 200. The proxy logged exactly those four, refused two itself
    // without an upstream attempt, and the mock saw the two it let through.
    let lines = p.access_lines(CHAT);
    assert_eq!(statuses(&lines), [200, 429, 429, 200], "{}", p.log());
    for refused in [&lines[1], &lines[2]] {
        assert_eq!(refused["outcome"], "rejected_limiter");
        assert_eq!(refused["attempts"], 0);
    }
    for (outcome, n) in [("rejected_limiter", 2.0), ("upstream", 2.0)] {
        let label = format!("outcome=\"{outcome}\"");
        let got = p
            .metric(
                "gauntlet_proxy_requests_total",
                &["route=\"/v1/chat/completions\"", &label],
            )
            .await;
        assert_eq!(got, n, "{outcome}");
    }
    assert_eq!(mock_requests(&m, CHAT), 2);
}
