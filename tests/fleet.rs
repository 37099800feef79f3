//! A fleet end to end: `scenarios/multi-node-global-limit.toml` as written (60 s), three
//! `gauntlet run` processes per fleet against one mock-upstream with a 60 requests/minute
//! quota. One fleet uses each node's own limiter, the other shares one limit through a real
//! `redis-server`; both run at once, each against its own mock. The mocks' `/_mock/stats` say
//! what each fleet sent; `gauntlet merge` must agree with them.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::redis_server::RedisServer;
use gauntlet::report::load::load_summary;
use mock_upstream::faults::parse_toml;
use mock_upstream::server::{MockOptions, RunningMock};

const BIN: &str = env!("CARGO_BIN_EXE_gauntlet");
const SCENARIO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/scenarios/multi-node-global-limit.toml"
);
const MOCK_FAULTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/mock-upstream/faults/free-tier-60rpm.toml"
);

async fn free_tier_mock() -> RunningMock {
    let text = std::fs::read_to_string(MOCK_FAULTS).unwrap();
    let config = parse_toml(&text, MOCK_FAULTS).unwrap();
    RunningMock::start_local(config, MockOptions::default())
        .await
        .unwrap()
}

fn start_node(target: &str, id: u32, redis: Option<&str>, out: &Path) -> Child {
    let mut cmd = Command::new(BIN);
    cmd.args(["run", SCENARIO, "--quiet", "--target", target])
        .args(["--node-id", &id.to_string(), "--nodes", "3"])
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(url) = redis {
        cmd.args(["--redis", url]);
    }
    cmd.spawn().expect("gauntlet runs")
}

/// Waits for every child, at most `limit`; returns their exit codes.
async fn wait_all(children: &mut [Child], limit: Duration) -> Vec<i32> {
    let deadline = tokio::time::Instant::now() + limit;
    let mut codes = vec![None; children.len()];
    while codes.iter().any(Option::is_none) {
        for (c, code) in children.iter_mut().zip(codes.iter_mut()) {
            if code.is_none() {
                if let Some(status) = c.try_wait().unwrap() {
                    *code = Some(status.code().unwrap_or(-1));
                }
            }
        }
        if tokio::time::Instant::now() > deadline {
            for c in children.iter_mut() {
                let _ = c.kill();
            }
            panic!("the fleet did not finish within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    codes.into_iter().flatten().collect()
}

#[derive(Debug, serde::Deserialize)]
struct MockStats {
    requests: u64,
    by_status: std::collections::BTreeMap<String, u64>,
}

async fn mock_stats(mock: &RunningMock) -> MockStats {
    reqwest::get(format!("{}/_mock/stats", mock.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn merge(dirs: &[PathBuf], out: &Path) -> i32 {
    Command::new(BIN)
        .arg("merge")
        .args(dirs)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .code()
        .unwrap_or(-1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_limiter_holds_three_nodes_to_one_quota() {
    let Some(redis) = RedisServer::start("a_redis_limiter_holds_three_nodes_to_one_quota").await
    else {
        return;
    };
    let (local_mock, shared_mock) = (free_tier_mock().await, free_tier_mock().await);
    let tmp = std::env::temp_dir().join(format!("gauntlet-fleet-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let dirs = |fleet: &str| -> Vec<PathBuf> {
        (0..3)
            .map(|i| tmp.join(fleet).join(format!("node{i}")))
            .collect()
    };
    let (local_dirs, shared_dirs) = (dirs("local"), dirs("shared"));
    let mut children = Vec::new();
    for i in 0..3u32 {
        children.push(start_node(
            &local_mock.url,
            i,
            None,
            &local_dirs[i as usize],
        ));
        children.push(start_node(
            &shared_mock.url,
            i,
            Some(&redis.url()),
            &shared_dirs[i as usize],
        ));
    }
    let codes = wait_all(&mut children, Duration::from_secs(150)).await;
    assert!(
        codes.iter().all(|c| *c == 0 || *c == 1),
        "exit codes {codes:?}"
    );

    // Each node's own limiter: the fleet sends 3x the quota and collects 429s.
    let local = mock_stats(&local_mock).await;
    let local_429 = local.by_status.get("429").copied().unwrap_or(0);
    assert!(
        (165..=190).contains(&local.requests),
        "local fleet sent {} requests in 60 s",
        local.requests
    );
    assert!(local_429 >= 30, "local fleet got {local_429} × 429");

    // One limit in Redis: the quota (60/min for 60 s) plus the burst of 3, no 429 at all.
    let shared = mock_stats(&shared_mock).await;
    let shared_429 = shared.by_status.get("429").copied().unwrap_or(0);
    assert!(
        (55..=64).contains(&shared.requests),
        "shared fleet sent {} requests in 60 s",
        shared.requests
    );
    assert_eq!(shared_429, 0);

    eprintln!(
        "local limiters: the mock got {} requests, {local_429} × 429; Redis limiter: {} \
         requests, {shared_429} × 429",
        local.requests, shared.requests
    );

    // The merged reports agree with what the mocks saw, and their thresholds tell the two apart.
    let local_merged = tmp.join("local").join("merged");
    assert_eq!(merge(&local_dirs, &local_merged), 1);
    let m = load_summary(&local_merged).unwrap();
    assert_eq!(m.upstream.calls, local.requests);
    assert_eq!(m.error_kinds.get("rate_limited").copied(), Some(local_429));
    let shared_merged = tmp.join("shared").join("merged");
    assert_eq!(merge(&shared_dirs, &shared_merged), 0);
    let m = load_summary(&shared_merged).unwrap();
    assert_eq!(m.upstream.calls, shared.requests);
    assert_eq!(m.limiter.fallback_decisions, 0);
    let nodes: Vec<_> = shared_dirs
        .iter()
        .map(|d| load_summary(d).unwrap())
        .collect();
    assert_eq!(
        m.requests.total,
        nodes.iter().map(|n| n.requests.total).sum::<u64>()
    );
    assert_eq!(m.latency_ms.count, m.requests.ok + m.requests.errors);
    let fleet = m.fleet.as_ref().unwrap();
    assert_eq!(
        (fleet.nodes, fleet.node_id, fleet.merged_from.len()),
        (3, None, 3)
    );
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Fleet options that cannot work are usage errors (exit 2) with a message, before any traffic.
#[test]
fn impossible_fleets_are_usage_errors() {
    let canonical = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/canonical.toml");
    let run = |args: &[&str]| {
        let out = Command::new(BIN).args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    // Three nodes, each with its own embedded mock: nothing would be shared.
    let (code, err) = run(&[
        "run",
        canonical,
        "--nodes",
        "3",
        "--node-id",
        "1",
        "--quiet",
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("one upstream for all nodes"), "{err}");
    let (code, err) = run(&["run", SCENARIO, "--nodes", "3", "--node-id", "3", "--quiet"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--node-id 3 is not below --nodes 3"), "{err}");
    // Virtual time cannot share Redis.
    let (code, _) = run(&["run", canonical, "--sim", "--redis", "redis://127.0.0.1:1"]);
    assert_eq!(code, Some(2));
    let dir = std::env::temp_dir().join(format!("gauntlet-fleet-sim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("shared.toml");
    let text = std::fs::read_to_string(canonical)
        .unwrap()
        .replace("[client.limiter]", "[client.limiter]\nbackend = \"redis\"");
    std::fs::write(&file, text).unwrap();
    let file = file.to_str().unwrap();
    // The URL may come from --redis, so the file itself is valid ...
    assert_eq!(run(&["validate", file]).0, Some(0));
    // ... but a simulation of it is not.
    let (code, err) = run(&["run", file, "--sim", "--quiet"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("cannot share state in Redis"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
