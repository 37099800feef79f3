//! The proxy carries the stack as the driver does: one scenario run twice with the real
//! binaries, once with the stack in the driver against a mock, once with the driver's stack off
//! and `--target` a `gauntlet proxy` (the same `[client.*]` tables) in front of a mock of the
//! same kind. Latency percentiles and the mocks' upstream call counts (`/_mock/stats`) agree
//! within 5 %.
//!
//! The mocks answer in a fixed 80 ms, so loopback and the proxy's extra hop (one or two
//! milliseconds in a debug build on a loaded machine) are small against it. The stack: a cache
//! (300 distinct prompts over 300 requests, so about a third are hits and the p50 is an upstream
//! answer) and one retry of the mock's seeded 503s (8 %) after a fixed 300 ms, so every retried
//! request takes about 460 ms: a plateau of some 5 % of the requests that holds the p99 on both
//! paths, above the tail a loaded machine gives the others.
//!
//! The runs go one after the other (at the same time they load a shared 2-core machine twice),
//! each driver on one thread. The mocks draw their 503s in call order from the same seed, so
//! both see the same calls fail.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::proxy_process::ProxyProcess;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_gauntlet");

/// The mock both paths call: fixed latency, a seeded 8 % of 503s.
const MOCK: &str = "seed = 11\nlatency = { distribution = \"fixed\", value = \"80ms\" }\n\
                    [[failures]]\nkind = \"status\"\nstatus = 503\nprobability = 0.08\n";

/// The stack both paths carry.
const STACK: &str = "[client.cache]\nttl = \"5m\"\n\
                     [client.retry]\nmax_attempts = 2\nbase_delay = \"300ms\"\nmax_delay = \"300ms\"\njitter = \"none\"\n";

/// The workload both paths send: 300 requests over 3 s.
const WORKLOAD: &str = "name = \"agreement\"\nseed = 5\nduration = \"3s\"\n\
                        [workload]\narrivals = \"constant\"\nstages = [{ for = \"3s\", rate = \"100/s\" }]\n\
                        prompts = { distinct = 300, zipf_exponent = 0.0 }\n";

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gauntlet-agree-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `gauntlet run SCENARIO --target TARGET`; the run's `summary.json`.
fn run(dir: &Path, scenario: &str, target: &str) -> Value {
    let file = dir.join("scenario.toml");
    std::fs::write(&file, scenario).unwrap();
    let out = dir.join("report");
    let output = Command::new(BIN)
        .arg("run")
        .arg(&file)
        .args(["--target", target, "--threads", "1", "--quiet", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap()
}

/// The mock's own count of answered requests, from `/_mock/stats`.
async fn upstream_calls(mock: &str) -> f64 {
    let stats: Value = reqwest::get(format!("{mock}/_mock/stats"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    stats["requests"]
        .as_f64()
        .expect("requests in /_mock/stats")
}

fn f(v: &Value, path: &str) -> f64 {
    path.split('.')
        .fold(v, |v, k| &v[k])
        .as_f64()
        .unwrap_or_else(|| panic!("{path} in {v}"))
}

fn within(what: &str, direct: f64, proxied: f64, tolerance: f64) {
    let off = (proxied - direct).abs() / direct.abs().max(1e-9);
    assert!(
        off <= tolerance,
        "{what}: driver's stack {direct}, through the proxy {proxied} ({:.1} % apart)",
        off * 100.0
    );
}

#[test]
fn the_proxy_and_the_drivers_own_stack_agree_on_latency_and_upstream_calls() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let direct_mock = rt.block_on(common::mock(MOCK));
    let proxied_mock = rt.block_on(common::mock(MOCK));

    let dir = temp_dir("proxied");
    let config = dir.join("proxy.toml");
    std::fs::write(
        &config,
        format!(
            "{STACK}[proxy]\nlisten = \"127.0.0.1:0\"\nupstream = \"{}\"\n",
            proxied_mock.url
        ),
    )
    .unwrap();
    let proxy = ProxyProcess::start(&config);
    let direct = run(
        &temp_dir("direct"),
        &format!("{WORKLOAD}{STACK}"),
        &direct_mock.url,
    );
    let proxied = run(&dir, WORKLOAD, &proxy.url);
    drop(proxy);

    assert_eq!(
        f(&direct, "requests.total"),
        f(&proxied, "requests.total"),
        "the same schedule"
    );
    let hits = f(&direct, "outcomes.cache_hit");
    assert!(
        hits > 0.0 && hits < f(&direct, "requests.total") / 2.0,
        "the p50 must be an upstream answer: {hits} hits"
    );
    assert_eq!(
        f(&proxied, "upstream.retries"),
        0.0,
        "the driver's stack was off"
    );
    eprintln!(
        "p50 {} / {} ms, p99 {} / {} ms, hits {hits} (driver's stack / through the proxy)",
        f(&direct, "latency_ms.p50"),
        f(&proxied, "latency_ms.p50"),
        f(&direct, "latency_ms.p99"),
        f(&proxied, "latency_ms.p99")
    );
    for p in ["latency_ms.p50", "latency_ms.p99"] {
        within(p, f(&direct, p), f(&proxied, p), 0.05);
    }
    let (calls_direct, calls_proxied) = rt.block_on(async {
        (
            upstream_calls(&direct_mock.url).await,
            upstream_calls(&proxied_mock.url).await,
        )
    });
    assert!(
        calls_direct > f(&direct, "requests.total") - hits,
        "some 503s were retried: {calls_direct} calls"
    );
    eprintln!("upstream calls {calls_direct} / {calls_proxied}");
    within("upstream calls", calls_direct, calls_proxied, 0.05);
}
