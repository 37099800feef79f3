//! `gauntlet merge` without Redis: two simulated runs of the canonical scenario (seeds 1 and 2,
//! standing in for two nodes) merge into one report whose histograms are the exact sums of the
//! nodes' and whose counters and time series add up.

use std::path::{Path, PathBuf};
use std::process::Command;

use gauntlet::record::new_histogram;
use gauntlet::report::histograms::read_histograms;
use gauntlet::report::load::{load_recorded, load_summary};

const BIN: &str = env!("CARGO_BIN_EXE_gauntlet");

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gauntlet-merge-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn gauntlet(args: &[&str], dirs: &[&Path]) -> i32 {
    Command::new(BIN)
        .args(args)
        .args(dirs)
        .output()
        .unwrap()
        .status
        .code()
        .unwrap_or(-1)
}

fn sim_run(seed: &str, out: &Path) {
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/canonical.toml");
    let code = gauntlet(
        &["run", scenario, "--sim", "--quiet", "--seed", seed, "--out"],
        &[out],
    );
    assert!(code == 0 || code == 1, "run exited {code}");
}

#[test]
fn merged_histograms_are_exact_sums_and_counters_add_up() {
    let (a, b, merged) = (temp("a"), temp("b"), temp("merged"));
    sim_run("1", &a);
    sim_run("2", &b);
    let code = gauntlet(&["merge", "--out"], &[&merged, &a, &b]);
    assert!(code == 0 || code == 1, "merge exited {code}");

    let (sa, sb, sm) = (
        load_summary(&a).unwrap(),
        load_summary(&b).unwrap(),
        load_summary(&merged).unwrap(),
    );
    assert_eq!(sm.requests.total, sa.requests.total + sb.requests.total);
    assert_eq!(sm.requests.ok, sa.requests.ok + sb.requests.ok);
    assert_eq!(sm.upstream.calls, sa.upstream.calls + sb.upstream.calls);
    for (k, v) in &sm.outcomes {
        assert_eq!(*v, sa.outcomes[k] + sb.outcomes[k], "outcome {k}");
    }
    let errors = sa.requests.errors + sb.requests.errors;
    let completed = errors + sa.requests.ok + sb.requests.ok;
    assert!((sm.error_rate - errors as f64 / completed as f64).abs() < 1e-12);

    // Every named histogram of the merge is the sum of the nodes' (same counts at every value),
    // and the percentiles in summary.json are read off that sum.
    let read =
        |d: &Path| read_histograms(&std::fs::read(d.join("histograms.hlog")).unwrap()).unwrap();
    let (ha, hb, hm) = (read(&a), read(&b), read(&merged));
    for (name, h) in &hm {
        let mut want = new_histogram();
        for part in [&ha, &hb] {
            if let Some((_, p)) = part.iter().find(|(n, _)| n == name) {
                want.add(p).unwrap();
            }
        }
        assert_eq!(h, &want, "{name} is not the sum of the nodes'");
    }
    let latency = &hm.iter().find(|(n, _)| n == "latency").unwrap().1;
    assert_eq!(sm.latency_ms.count, latency.len());
    assert_eq!(
        sm.latency_ms.p99,
        latency.value_at_quantile(0.99) as f64 / 1000.0
    );
    let (ra, rb, rm) = (
        load_recorded(&a, &sa).unwrap(),
        load_recorded(&b, &sb).unwrap(),
        load_recorded(&merged, &sm).unwrap(),
    );
    assert_eq!(rm.rows.len(), ra.rows.len().max(rb.rows.len()));
    for (i, row) in rm.rows.iter().enumerate() {
        let started =
            ra.rows.get(i).map_or(0, |r| r.started) + rb.rows.get(i).map_or(0, |r| r.started);
        assert_eq!(row.started, started, "interval {i}");
    }
    let fleet = sm.fleet.unwrap();
    assert_eq!(fleet.nodes, 2);
    assert!(sm.thresholds.len() == sa.thresholds.len() && !sm.thresholds.is_empty());

    // A directory of another scenario does not merge.
    let other = temp("other");
    let steady = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/steady-under-limit.toml"
    );
    gauntlet(
        &[
            "run",
            steady,
            "--sim",
            "--quiet",
            "--duration",
            "2s",
            "--out",
        ],
        &[&other],
    );
    assert_eq!(
        gauntlet(&["merge", "--out"], &[&temp("bad"), &a, &other]),
        2
    );
    assert_eq!(
        gauntlet(&["merge", "--out"], &[&temp("bad"), &a, &temp("none")]),
        2
    );
    for d in [a, b, merged, other] {
        let _ = std::fs::remove_dir_all(d);
    }
}
