//! The mock's stream pacing comes back as TTFT and inter-token latency within a millisecond at
//! p50 and p99 in a real run (issue 17), measured on an optimised `gauntlet` binary: the one
//! `GAUNTLET_RELEASE_BIN` names (`.ci/run` builds `target/release/gauntlet` and sets it, with
//! `GAUNTLET_REQUIRE_RELEASE=1`, which makes a missing binary a failure; elsewhere the test is
//! skipped with a note). Alone in its test binary, so no other test of the suite shares the
//! machine's two cores with it (cargo runs test binaries one after another).
//!
//! Why release: a first token waits for a fresh request's whole path (the driver's send, the
//! mock's parse, the hand-over from the precise pacer, the write and the read), where a token
//! gap does not. A debug build (dependencies at opt-level 1) came back with TTFT p99s of
//! 201.2-201.5 ms for 200 ms; the release build 200.58-200.96 ms in 8 runs of 9, 201.47 in one
//! (2026-12-02, quiet 2-core machine). A user measures with the release binary.
//!
//! What makes it hold: the mock counts its latency from the request's arrival (its own parsing,
//! decision and rendering come out of the wait) and ends its waits on the precise pacer (tokio's
//! timer alone ends a 20 ms sleep about 21.3 ms later). `ttft_ms`, from the intended start, also
//! holds the schedule's own lag (about 0.9 ms at this rate), which the user of a load test does
//! see: it is bounded looser.
//!
//! A shared machine can stall a process for a few milliseconds now and then (another build, the
//! kernel), and a stall lands in the p99 of a 320-request run (its 4th-worst figure). So the
//! p50s must hold in every run, and the p99s in one of [`RUNS`] runs; a mock or driver that adds
//! a millisecond of its own fails every run. Every run's figures are printed.
//!
//! It runs with the default report interval (1 s): at a boundary, the recorder used to allocate
//! the next interval's histograms under its lock, which took 4-6 ms now and then and made the
//! first token due at that boundary that late (2 of 8 boundaries in an 8 s run). The boundary
//! now swaps in histograms emptied outside the lock (`driver::recorder_rows`), and this test
//! keeps the boundaries in its figures: 16 of them. The stall came in some runs only (the
//! lock-held roll took 4.4-5.5 ms at 2 of 8 boundaries, and 0.1 ms at the rest; with blanks,
//! 3-16 µs at all 32 boundaries of four runs), so this test alone does not reliably catch its
//! return.
//!
//! Also seen, and not mended: one to three of the first requests of a fresh process get their
//! first token 1-5 ms late (a cold process's first runs of its code paths; measured
//! 2026-12-02). The run is 16 s, so the p99 is its 4th-worst figure and that warm-up alone
//! does not decide it.

use std::process::Command;

use serde_json::Value;

const SCENARIO: &str = r#"
name = "paced-real"
seed = 7
duration = "16s"

[upstream]
reply = { tokens = { distribution = "fixed", value = 10 } }
stream = { time_to_first_token = "200ms", per_token = "20ms" }

[workload]
arrivals = "constant"
stages = [{ for = "16s", rate = "20/s" }]
prompts = { distinct = 100000, zipf_exponent = 0.0 }
stream_share = 1.0
"#;

fn figure(s: &Value, key: &str, p: &str) -> f64 {
    s[key][p]
        .as_f64()
        .unwrap_or_else(|| panic!("{key}.{p} in {s}"))
}

/// Runs tried for the p99s (see the module doc). Five since mimalloc stopped taking huge pages
/// (2026-12-03): the first token's p99 from the send came back at 200.96-201.22 ms in 6 runs,
/// where it had been 200.58-200.96 in 8 of 9; a run stops the test as soon as it holds.
const RUNS: usize = 5;

/// The figures checked and the pacing each should come back as, to a millisecond.
const PACED: [(&str, f64); 4] = [
    ("ttft_sent_ms", 200.0),
    ("ttft_attempt_ms", 200.0),
    ("itl_ms", 20.0),
    ("tpot_ms", 20.0),
];

/// The optimised binary to measure; `None` (after a note) when the test is skipped.
fn release_bin() -> Option<std::path::PathBuf> {
    match std::env::var_os("GAUNTLET_RELEASE_BIN") {
        Some(path) => Some(path.into()),
        None => {
            let msg = "GAUNTLET_RELEASE_BIN is not set (cargo build --release --bin gauntlet, \
                       then GAUNTLET_RELEASE_BIN=target/release/gauntlet)";
            if std::env::var("GAUNTLET_REQUIRE_RELEASE").is_ok_and(|v| v == "1") {
                panic!("{msg} and GAUNTLET_REQUIRE_RELEASE=1");
            }
            eprintln!("skipped: {msg}");
            None
        }
    }
}

/// One real run of [`SCENARIO`]: its `summary.json`.
fn run(bin: &std::path::Path, dir: &std::path::Path, n: usize) -> Value {
    let file = dir.join("paced.toml");
    std::fs::write(&file, SCENARIO).unwrap();
    let out = dir.join(format!("report-{n}"));
    let output = Command::new(bin)
        .args(["run", "--quiet", "--out"])
        .arg(&out)
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let text = std::fs::read_to_string(out.join("summary.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The figures of percentile `p` further than a millisecond from their pacing, as far as the
/// histogram tells: a summary figure is the top of its histogram bucket (3 significant digits,
/// so 128 µs wide at 200 ms), and a reported 201.087 ms holds every value from 200.960 up. One CI
/// run came back with exactly that p99 in all three runs.
fn off(s: &Value, p: &str) -> Vec<String> {
    PACED
        .iter()
        .map(|&(key, want)| (key, figure(s, key, p), want))
        .filter(|&(_, got, want)| (got - want).abs() > 1.0 + bucket_ms(got))
        .map(|(key, got, want)| format!("{key}.{p} = {got}, paced at {want}"))
        .collect()
}

/// The width of the histogram bucket a figure of `ms` stands for: 3 significant digits keep 2 048
/// buckets per power of two of microseconds, 1 024 of them above its half.
fn bucket_ms(ms: f64) -> f64 {
    let us = (ms * 1000.0).max(2048.0);
    2f64.powi(us.log2().floor() as i32 - 10) / 1000.0
}

/// Checks what every run must hold: the p50s, the counts, `ttft_ms` beside the schedule's lag.
fn check_every_run(s: &Value) {
    assert_eq!(off(s, "p50"), Vec::<String>::new());
    let ttft = figure(s, "ttft_ms", "p50");
    assert!((200.0..203.0).contains(&ttft), "ttft_ms.p50 = {ttft}");
    let ok = figure(s, "requests", "ok");
    assert!(ok >= 310.0, "{ok} of ~319 requests ok");
    assert_eq!(figure(s, "itl_ms", "count"), 9.0 * ok);
}

#[test]
fn real_pacing_comes_back_within_a_millisecond() {
    let Some(bin) = release_bin() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("gauntlet-pacing-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut misses = Vec::new();
    for n in 0..RUNS {
        let s = run(&bin, &dir, n);
        check_every_run(&s);
        let p99 = off(&s, "p99");
        let figures: Vec<String> = PACED
            .iter()
            .map(|&(key, ..)| {
                let (p50, p99) = (figure(&s, key, "p50"), figure(&s, key, "p99"));
                format!("{key} p50 {p50} p99 {p99}")
            })
            .collect();
        eprintln!("run {n}: {figures:?}; p99s off: {p99:?}");
        if p99.is_empty() {
            let _ = std::fs::remove_dir_all(&dir);
            return;
        }
        misses.push(p99);
    }
    panic!("the p99s missed in all {RUNS} runs: {misses:?}");
}
