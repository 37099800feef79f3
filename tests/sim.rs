//! Virtual-time runs: reproducible to the byte, and the retry storm's collapse and recovery.

use std::path::{Path, PathBuf};
use std::sync::{RwLock, RwLockReadGuard};

use gauntlet::report::{self, Summary};
use gauntlet::scenario::Scenario;

/// The sim-against-real test times a real run, which the issue asks of a machine that is not
/// overloaded: it runs alone (write lock) while the CPU-bound simulations share the read lock.
static MACHINE: RwLock<()> = RwLock::new(());

fn shared_machine() -> RwLockReadGuard<'static, ()> {
    MACHINE.read().unwrap_or_else(|p| p.into_inner())
}

fn scenario(name: &str) -> Scenario {
    Scenario::load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios")
            .join(name),
    )
    .unwrap()
}

fn sim_files(s: &Scenario, dir: &Path) -> (Summary, Vec<u8>, Vec<u8>) {
    let run = gauntlet::sim::run(s, std::future::pending()).unwrap();
    let summary = Summary::build(s, &run, "sim");
    report::write_run(dir, &summary, &report::Recorded::of(&run)).unwrap();
    let mut csv_and_hgrm = std::fs::read(dir.join("timeseries.csv")).unwrap();
    csv_and_hgrm.extend(std::fs::read(dir.join("latency.hgrm")).unwrap());
    csv_and_hgrm.extend(std::fs::read(dir.join("latency.hlog")).unwrap());
    (
        summary,
        std::fs::read(dir.join("summary.json")).unwrap(),
        csv_and_hgrm,
    )
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gauntlet-sim-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn same_seed_same_bytes_different_seed_different_figures() {
    let _shared = shared_machine();
    let s = scenario("canonical.toml");
    let (a, a_json, a_csv) = sim_files(&s, &temp("a"));
    let (_, b_json, b_csv) = sim_files(&s, &temp("b"));
    assert_eq!(a_json, b_json, "summary.json differs between two runs");
    assert_eq!(
        a_csv, b_csv,
        "timeseries.csv or latency.hgrm differs between two runs"
    );
    let mut other = s.clone();
    other.seed += 1;
    let (c, c_json, _) = sim_files(&other, &temp("c"));
    assert_ne!(a_json, c_json);
    // Different draws, the same story: request counts within a few standard deviations.
    let (na, nc) = (a.requests.total as f64, c.requests.total as f64);
    assert!((na - nc).abs() < 5.0 * na.sqrt(), "{na} vs {nc}");
    assert_eq!(a.mode, "sim");
}

#[test]
fn the_naive_retry_storm_collapses_and_the_budgeted_one_recovers() {
    let _shared = shared_machine();
    let naive =
        gauntlet::sim::run(&scenario("retry-storm-naive.toml"), std::future::pending()).unwrap();
    let naive = Summary::build(&scenario("retry-storm-naive.toml"), &naive, "sim");
    let budgeted_s = scenario("retry-storm-budgeted.toml");
    let budgeted = gauntlet::sim::run(&budgeted_s, std::future::pending()).unwrap();
    let budgeted = Summary::build(&budgeted_s, &budgeted, "sim");
    // Naive: after the 3 s trigger, amplification stays high, goodput low, and no recovery.
    assert!(naive.amplification > 2.5, "{}", naive.amplification);
    assert!(
        naive.goodput_rps < 0.5 * naive.offered_rps,
        "{} of {}",
        naive.goodput_rps,
        naive.offered_rps
    );
    assert_eq!(
        naive.recovery[0].recovered_after_s, None,
        "{:?}",
        naive.recovery
    );
    // Budgeted: the same trigger, back to normal within seconds.
    assert!(budgeted.amplification < 1.2, "{}", budgeted.amplification);
    let after = budgeted.recovery[0]
        .recovered_after_s
        .expect("the budgeted client recovers");
    assert!(after <= 5.0, "{after}");
    assert!(budgeted.goodput_rps > 0.85 * budgeted.offered_rps);
}

#[test]
fn sim_agrees_with_a_real_run() {
    let _alone = MACHINE.write().unwrap_or_else(|p| p.into_inner());
    let text = r#"
name = "faithful"
seed = 11
duration = "4s"
[upstream]
latency = { distribution = "uniform", min = "40ms", max = "120ms" }
[[upstream.failures]]
kind = "status"
status = 503
probability = 0.1
[workload]
arrivals = "constant"
stages = [{ for = "4s", rate = "100/s" }]
prompts = { distinct = 100000, zipf_exponent = 0.0 }
[client.retry]
max_attempts = 2
base_delay = "20ms"
jitter = "none"
"#;
    let s = Scenario::parse(text, "faithful.toml").unwrap();
    let sim = Summary::build(
        &s,
        &gauntlet::sim::run(&s, std::future::pending()).unwrap(),
        "sim",
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let real = rt
        .block_on(gauntlet::driver::run(
            &s,
            Default::default(),
            std::future::pending(),
        ))
        .unwrap();
    let real = Summary::build(&s, &real, "real");
    let close = |a: f64, b: f64| (a - b).abs() <= 0.10 * b;
    assert!(
        close(real.latency_ms.p50, sim.latency_ms.p50),
        "p50 {} vs {}",
        real.latency_ms.p50,
        sim.latency_ms.p50
    );
    assert!(
        close(real.latency_ms.p99, sim.latency_ms.p99),
        "p99 {} vs {}",
        real.latency_ms.p99,
        sim.latency_ms.p99
    );
    assert!(
        (real.error_rate - sim.error_rate).abs() <= 0.01,
        "{} vs {}",
        real.error_rate,
        sim.error_rate
    );
    assert_eq!(real.requests.total, sim.requests.total);
}

#[test]
fn sweep_writes_a_ranked_grid() {
    let _shared = shared_machine();
    let out = temp("sweep");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(["sweep"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/retry-storm-naive.toml"))
        .args([
            "--set",
            "client.retry.max_attempts=1,5",
            "--set",
            "upstream.timeline.0.for=1s,3s",
            "--objective",
            "min latency.p99 where error_rate < 10%",
            "--jobs",
            "2",
            "--quiet",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5, "{csv}");
    assert!(csv
        .starts_with("client.retry.max_attempts,upstream.timeline.0.for,p50_ms,p99_ms,error_rate"));
    let md = std::fs::read_to_string(out.join("sweep.md")).unwrap();
    assert!(md.contains("| best"), "{md}");
    // The naive policy with a 3 s trigger collapses: it is not the best row.
    let best = md.lines().find(|l| l.starts_with("| best")).unwrap();
    assert!(!best.contains("| 5 | 3s |"), "{best}");
    let svg = std::fs::read_to_string(out.join("pareto.svg")).unwrap();
    assert_eq!(svg.matches("<circle").count(), 4);

    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(["sweep"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/canonical.toml"))
        .args(["--set", "client.retry.max_attempts=0", "--quiet", "--out"])
        .arg(temp("sweep-bad"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("max_attempts"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

#[test]
fn a_simulation_whose_clock_stops_is_stopped_with_an_error() {
    let _shared = shared_machine();
    // Zero latency and zero think time: every answer comes at the instant it was asked for, so
    // the virtual clock would never move and the run would never end.
    let s = Scenario::parse(
        "name = \"spin\"\nduration = \"10s\"\n[upstream]\nlatency = { distribution = \"fixed\", value = \"0ms\" }\n[workload]\nmodel = \"closed\"\nusers = 2\n",
        "spin.toml",
    )
    .unwrap();
    let err = gauntlet::sim::run(&s, std::future::pending()).unwrap_err();
    assert!(
        matches!(err, gauntlet::driver::run::RunError::NoProgress { at, .. } if at == 0.0),
        "{err}"
    );
    assert!(err.to_string().contains("made no progress"), "{err}");
}

#[test]
fn a_stopped_sweep_keeps_the_finished_combinations() {
    let _shared = shared_machine();
    let dir = temp("sweep-stopped");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("long.toml");
    std::fs::write(
        &file,
        "name = \"long\"\nduration = \"10h\"\n[workload]\nstages = [{ for = \"10h\", rate = \"50/s\" }]\n",
    )
    .unwrap();
    let out = dir.join("out");
    // One job: the 1 s variant finishes at once, the 10 h one is running when SIGTERM comes.
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(["sweep"])
        .arg(&file)
        .args([
            "--set",
            "duration=1s,10h",
            "--jobs",
            "1",
            "--quiet",
            "--out",
        ])
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2000));
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let done = child.wait_with_output().unwrap();
    assert_eq!(
        done.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.lines().nth(1).unwrap().starts_with("1s,"), "{csv}");
    let md = std::fs::read_to_string(out.join("sweep.md")).unwrap();
    assert!(
        md.contains("**Partial:** interrupted with 1 of 2 combinations finished"),
        "{md}"
    );
}

/// Golden files: the shipped example report is exactly what a simulated run of the canonical
/// scenario writes. A deliberate change of a report format regenerates it with
/// `gauntlet run scenarios/canonical.toml --sim --out reports/example`.
#[test]
fn the_example_report_is_reproduced_byte_for_byte() {
    let _shared = shared_machine();
    let s = scenario("canonical.toml");
    let out = temp("golden");
    sim_files(&s, &out);
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/example");
    for file in [
        "summary.json",
        "summary.md",
        "junit.xml",
        "timeseries.csv",
        "latency.hlog",
        "histograms.hlog",
        "latency.hgrm",
    ] {
        let want = std::fs::read_to_string(example.join(file)).unwrap();
        let got = std::fs::read_to_string(out.join(file)).unwrap();
        assert!(want == got, "{file} differs from reports/example/{file}");
    }
}

#[test]
fn compare_exits_1_on_a_regression_and_0_on_equal_runs() {
    let _shared = shared_machine();
    let bin = env!("CARGO_BIN_EXE_gauntlet");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let run = |name: &str| {
        let out = temp(&format!("cmp-{name}"));
        let st = std::process::Command::new(bin)
            .args(["run", "--sim", "--quiet", "--out"])
            .arg(&out)
            .arg(dir.join(format!("{name}.toml")))
            .output()
            .unwrap();
        assert!(st.status.code().is_some());
        out
    };
    let good = run("retry-storm-budgeted");
    let bad = run("retry-storm-naive");
    let compare = |a: &Path, b: &Path| {
        std::process::Command::new(bin)
            .args(["compare"])
            .arg(a)
            .arg(b)
            .args(["--fail-on-regression", "10%"])
            .output()
            .unwrap()
    };
    let same = compare(&good, &good);
    assert_eq!(
        same.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&same.stdout)
    );
    let worse = compare(&good, &bad);
    assert_eq!(worse.status.code(), Some(1));
    let table = String::from_utf8_lossy(&worse.stdout);
    assert!(
        table.contains("| latency.p99 |") && table.contains("**regressed**"),
        "{table}"
    );
    let better = compare(&bad, &good);
    assert_eq!(better.status.code(), Some(0));
    let svg = std::fs::read_to_string(good.join("compare_percentiles.svg")).unwrap();
    assert!(svg.matches("<polyline").count() >= 2, "both runs are drawn");
    let png = good.join("compare_percentiles.png");
    assert!(std::fs::metadata(png).unwrap().len() > 1000);
}
