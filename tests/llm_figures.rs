//! The LLM figures against the mock's stream pacing: a fixed time to first token and a fixed
//! delay per token come back as TTFT, inter-token latency and TPOT — exactly on virtual time,
//! within 1 ms over real HTTP — streams that broke mid-way are kept apart from the good ones,
//! and SLO goodput and attainment follow from the pacing.

use std::path::PathBuf;
use std::process::Command;

use gauntlet::record::new_histogram;
use gauntlet::report::Summary;
use gauntlet::scenario::Scenario;

/// Ten-token replies after 200 ms, one token every 20 ms; every session streams.
fn paced(extra: &str) -> String {
    format!(
        r#"
name = "paced"
seed = 7
duration = "10s"

[upstream]
reply = {{ tokens = {{ distribution = "fixed", value = 10 }} }}
stream = {{ time_to_first_token = "200ms", per_token = "20ms" }}

[workload]
arrivals = "constant"
stages = [{{ for = "10s", rate = "5/s" }}]
prompts = {{ distinct = 100000, zipf_exponent = 0.0 }}
stream_share = 1.0
batch_share = 0.5
{extra}
"#
    )
}

/// Requests a 10 s run at 5/s starts (the first one interval in).
const TOTAL: u64 = 49;

fn sim(text: &str) -> Summary {
    let s = Scenario::parse(text, "paced.toml").unwrap();
    let run = gauntlet::sim::run(&s, std::future::pending()).unwrap();
    Summary::build(&s, &run, "sim")
}

/// The bucket of `ms` in a run's histograms, as its percentiles report it.
fn bucket_ms(ms: u64) -> (f64, f64) {
    let h = new_histogram();
    let us = ms * 1000;
    (
        h.lowest_equivalent(us) as f64 / 1000.0,
        h.highest_equivalent(us) as f64 / 1000.0,
    )
}

#[test]
fn simulated_pacing_comes_back_exactly() {
    let s = sim(&paced(""));
    let n = s.requests.ok;
    assert_eq!((s.requests.total, s.requests.errors), (TOTAL, 0));
    let (lo, hi) = bucket_ms(200);
    assert_eq!((s.ttft_ms.min, s.ttft_ms.p50, s.ttft_ms.p99), (lo, hi, hi));
    assert_eq!(s.ttft_ms.count, n);
    assert_eq!((s.ttft_sent_ms.p50, s.ttft_attempt_ms.p99), (hi, hi));
    let (lo, hi) = bucket_ms(20);
    assert_eq!((s.itl_ms.min, s.itl_ms.p50, s.itl_ms.max), (lo, hi, hi));
    assert_eq!(s.itl_ms.count, 9 * n, "nine gaps in a ten-token stream");
    // (e2e − TTFT) / (10 − 1) = (380 ms − 200 ms) / 9.
    assert_eq!((s.tpot_ms.min, s.tpot_ms.max), (lo, hi));
    assert_eq!(s.tokens.output, 10 * n);
    assert!(s.tokens.input > 0);
    assert_eq!(s.tokens.output_per_s, (10 * n) as f64 / 10.0);
    assert_eq!(s.tokens.requests_per_s, TOTAL as f64 / 10.0);
    // Each request: 10 tokens in 380 ms.
    let per_request = s.tokens.per_request_output_per_s.p50;
    assert!((per_request - 10.0 / 0.38).abs() < 0.05, "{per_request}");
    assert_eq!((s.tokens.broken_streams, s.itl_broken_ms.count), (0, 0));
    assert!(s.slo.is_none(), "no [slo], no slo object");
    assert!(s.metric("itl.p99") > 19.9 && s.metric("tpot.p50") > 19.9);
}

#[test]
fn slo_goodput_and_attainment_follow_from_the_pacing() {
    // Every request has TTFT 200 ms, gaps of 20 ms and TPOT 20 ms: within these objectives...
    let ok = sim(&paced(
        "[slo]\nttft = \"201ms\"\nitl = { p = 99, max = \"21ms\" }\ntpot = \"21ms\"\ne2e = \"1s\"\n[thresholds]\n\"slo.goodput\" = \"> 4/s\"\n\"slo.attainment\" = \"> 95%\"\n\"itl.p99\" = \"< 100ms\"\n\"ttft.p99\" = \"< 2s\"",
    ));
    let slo = ok.slo.as_ref().unwrap();
    assert_eq!((slo.requests, slo.met, slo.attainment), (TOTAL, TOTAL, 1.0));
    assert_eq!(slo.goodput_rps, TOTAL as f64 / 10.0);
    assert_eq!(slo.by_priority.len(), 2, "{:?}", slo.by_priority);
    assert_eq!(
        slo.by_priority.values().map(|c| c.met).sum::<u64>(),
        TOTAL,
        "{:?}",
        slo.by_priority
    );
    assert_eq!(slo.by_route["chat"].attainment, 1.0);
    assert!(ok.passed(), "{:?}", ok.thresholds);
    // ...and just outside each one of these.
    for objective in [
        "ttft = \"199ms\"",
        "itl = \"19ms\"",
        "tpot = \"19ms\"",
        "e2e = \"379ms\"",
    ] {
        let s = sim(&paced(&format!(
            "[slo]\n{objective}\n[thresholds]\n\"slo.attainment\" = \"> 95%\""
        )));
        let slo = s.slo.as_ref().unwrap();
        assert_eq!(
            (slo.met, slo.attainment, slo.goodput_rps),
            (0, 0.0, 0.0),
            "{objective}"
        );
        assert!(!s.passed(), "{objective}");
    }
}

#[test]
fn tenants_get_their_own_attainment() {
    let s = sim(&paced(
        "tenants = [{ key = \"sk-a\", share = 1.0 }, { key = \"sk-b\", share = 1.0 }]\n[slo]\nttft = \"1s\"",
    ));
    let slo = s.slo.unwrap();
    assert_eq!(slo.by_tenant.len(), 2, "{:?}", slo.by_tenant);
    assert_eq!(
        slo.by_tenant.values().map(|c| c.requests).sum::<u64>(),
        TOTAL
    );
    assert!(slo.by_tenant.values().all(|c| c.attainment == 1.0));
}

#[test]
fn a_stream_that_broke_mid_way_is_not_counted_as_good() {
    let s = sim(&paced(
        "[slo]\nttft = \"1s\"\n\n[[upstream.failures]]\nkind = \"stream_error\"\nprobability = 0.3\nafter = 3\n\n[client.retry]\nmax_attempts = 1",
    ));
    let broken = s.outcomes["stream_broken"];
    let ok = s.requests.ok;
    assert!(broken > 0 && ok > 0, "{:?}", s.outcomes);
    assert_eq!(ok + broken, TOTAL);
    assert_eq!(s.tokens.broken_streams, broken);
    assert_eq!(s.tokens.broken_output, 3 * broken);
    assert_eq!(s.itl_broken_ms.count, 2 * broken);
    // The good figures hold the good streams only.
    assert_eq!(s.itl_ms.count, 9 * ok);
    assert_eq!((s.ttft_ms.count, s.tokens.output), (ok, 10 * ok));
    let slo = s.slo.unwrap();
    assert_eq!((slo.requests, slo.met), (TOTAL, ok));
}

#[test]
fn a_restarted_stream_counts_its_first_attempt_as_broken_and_its_wait_in_ttft() {
    let s = sim(&paced(
        "[[upstream.failures]]\nkind = \"stream_error\"\nprobability = 0.3\nafter = 3\n\n[client.retry]\nmax_attempts = 5\nbase_delay = \"10ms\"\nrestart_broken_streams = true",
    ));
    assert!(s.streams.restarts > 0);
    assert_eq!(
        s.tokens.broken_streams,
        s.streams.restarts + s.outcomes["stream_broken"]
    );
    // The user waited for the broken attempt (its 200 ms + 2 gaps) and the backoff before the
    // first token they kept; the successful attempt's own TTFT is still 200 ms.
    assert!(s.ttft_ms.max > 440.0, "{:?}", s.ttft_ms);
    let (_, hi) = bucket_ms(200);
    assert_eq!(s.ttft_attempt_ms.max, hi);
    assert_eq!(s.itl_ms.count, 9 * s.requests.ok);
}

const BIN: &str = env!("CARGO_BIN_EXE_gauntlet");

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gauntlet-llm-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `gauntlet` with `args`; returns its exit code.
fn gauntlet(args: &[&std::ffi::OsStr]) -> i32 {
    let out = Command::new(BIN).args(args).output().unwrap();
    out.status.code().unwrap_or(-1)
}

#[test]
fn merged_token_figures_are_exact_sums_and_read_back() {
    use gauntlet::report::histograms::read_histograms;
    use gauntlet::report::load::{load_recorded, load_summary};
    let dir = temp_dir("merge");
    let file = dir.join("paced.toml");
    // Two "nodes" that differ in their pacing, so the merged percentiles are of both.
    let slo = "[slo]\nitl = { p = 99, max = \"25ms\" }";
    std::fs::write(&file, paced(slo)).unwrap();
    let other = dir.join("slower.toml");
    std::fs::write(
        &other,
        paced(slo).replace("per_token = \"20ms\"", "per_token = \"30ms\""),
    )
    .unwrap();
    let (a, b, m) = (dir.join("a"), dir.join("b"), dir.join("m"));
    for (scenario, out) in [(&file, &a), (&other, &b)] {
        let code = gauntlet(&[
            "run".as_ref(),
            scenario.as_os_str(),
            "--sim".as_ref(),
            "--quiet".as_ref(),
            "--out".as_ref(),
            out.as_os_str(),
        ]);
        assert_eq!(code, 0);
    }
    let code = gauntlet(&[
        "merge".as_ref(),
        "--out".as_ref(),
        m.as_os_str(),
        a.as_os_str(),
        b.as_os_str(),
    ]);
    assert_eq!(code, 0);
    let (sa, sb, sm) = (
        load_summary(&a).unwrap(),
        load_summary(&b).unwrap(),
        load_summary(&m).unwrap(),
    );
    assert_eq!(sm.itl_ms.count, sa.itl_ms.count + sb.itl_ms.count);
    assert_eq!(sm.tokens.output, sa.tokens.output + sb.tokens.output);
    let (slo_a, slo_b, slo_m) = (sa.slo.unwrap(), sb.slo.unwrap(), sm.slo.unwrap());
    assert_eq!(
        (slo_a.met, slo_b.met),
        (TOTAL, 0),
        "30 ms gaps miss a 25 ms objective"
    );
    assert_eq!((slo_m.requests, slo_m.met), (2 * TOTAL, TOTAL));
    assert_eq!(slo_m.attainment, 0.5);
    // The merged percentiles are read off the sum of the nodes' histograms.
    let hist = |d: &std::path::Path, name: &str| {
        let all = read_histograms(&std::fs::read(d.join("histograms.hlog")).unwrap()).unwrap();
        all.into_iter().find(|(n, _)| n == name).unwrap().1
    };
    let mut sum = hist(&a, "itl");
    sum.add(hist(&b, "itl")).unwrap();
    assert_eq!(hist(&m, "itl"), sum);
    assert_eq!(sm.itl_ms.p50, sum.value_at_quantile(0.5) as f64 / 1000.0);
    // Interval by interval too: tokens.hlog reads back and adds up.
    let ra = load_recorded(&a, &load_summary(&a).unwrap()).unwrap();
    let rm = load_recorded(&m, &load_summary(&m).unwrap()).unwrap();
    let out_tokens =
        |r: &gauntlet::report::Recorded| r.rows.iter().map(|r| r.tokens.output_tokens).sum::<u64>();
    assert_eq!(out_tokens(&rm), sm.tokens.output);
    assert!(rm.rows.iter().any(|r| !r.tokens.itl_histogram.is_empty()));
    assert!(ra
        .rows
        .iter()
        .all(|r| r.tokens.itl_p99_ms == 0.0 || r.tokens.itl_p99_ms < 20.1));
    let mixed = rm
        .rows
        .iter()
        .filter(|r| r.tokens.itl_p99_ms > 29.9)
        .count();
    assert!(
        mixed > 0,
        "the slower node's gaps are in the merged intervals"
    );
    // The merge drew the token chart from what it read back.
    assert!(m.join("tokens_over_time.svg").exists());
    // And `compare` shows the slower node's inter-token latency as a regression.
    let cmp = Command::new(BIN)
        .arg("compare")
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&cmp.stdout);
    assert!(text.contains("| itl.p99 |"), "{text}");
}
