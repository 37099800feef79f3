//! `gauntlet grade` end to end, through the real binary: `gauntlet proxy` started as the system
//! under test (`[system] command`) with a good stack passes the questions its stack answers, and
//! with a naive one (fixed 10 ms retries, no budget, no breaker, no fallback) fails them; the
//! scorecard's files exist, `junit.xml` is well-formed with one case per question, and the exit
//! code says what happened (0, 1, and 2 for a system that does not start).

mod grade_harness;

use grade_harness::{grade, scratch, verdicts, write_system};

/// A stack a free tier wants: retries with jitter and a budget, a breaker that opens fast and
/// probes soon, a local fallback, timeouts under the caller's deadline.
const GOOD_STACK: &str = r#"
[client.retry]
max_attempts = 3
base_delay = "200ms"
jitter = "full"
budget_ratio = 0.1
budget_min_per_sec = 1.0

[client.breaker]
failure_ratio = 0.5
window = "2s"
min_calls = 5
open_for = "1s"

[client.fallback]
order = ["local"]
local_answer = "Busy right now; this is a local answer."

[client.timeout]
attempt = "1s"
total = "1500ms"
"#;

/// Retries as a naive integration writes them: at once, five times, the same delay for all.
const NAIVE_STACK: &str = r#"
[client.retry]
max_attempts = 5
base_delay = "10ms"
multiplier = 1.0
jitter = "none"
"#;

/// The questions asked here: what each stack is known to pass or fail, in a few seconds each.
const ASKED: &str = "quota_not_retried,jitter,outage_amplification,fallback";

fn proxy_system(dir: &std::path::Path, stack: &str) -> std::path::PathBuf {
    let config = dir.join("stack.toml");
    let text = format!("[proxy]\nupstream = \"http://127.0.0.1:9\"\n{stack}");
    std::fs::write(&config, text).unwrap();
    let command = format!(
        "[\"{}\", \"proxy\", \"{}\", \"--listen\", \"127.0.0.1:{{port}}\", \"--upstream\", \"{{mock_url}}\"]",
        env!("CARGO_BIN_EXE_gauntlet"),
        config.display()
    );
    write_system(dir, &format!("command = {command}\nready = \"/healthz\"\n"))
}

#[test]
fn a_good_stack_passes_and_a_naive_one_fails_with_evidence() {
    let good_dir = scratch("good");
    let bad_dir = scratch("naive");
    let good = proxy_system(&good_dir, GOOD_STACK);
    let bad = proxy_system(&bad_dir, NAIVE_STACK);
    // Both at once: each takes as long as its slowest questions, and the two share nothing.
    let good_run = std::thread::spawn({
        let out = good_dir.join("card");
        move || (grade(&[good.to_str().unwrap(), "--only", ASKED], &out), out)
    });
    let out = bad_dir.join("card");
    let bad_code = grade(&[bad.to_str().unwrap(), "--only", ASKED], &out);
    let (good_code, good_out) = good_run.join().unwrap();

    let good = verdicts(&good_out);
    assert_eq!(good.len(), 4);
    for q in ["quota_not_retried", "outage_amplification", "fallback"] {
        assert!(good[q].0, "the good stack fails {q}: {good:?}");
    }
    // Its breaker opens (5 calls) before the burst's first retries: nothing to spread, which
    // the rule counts as no data, so the scorecard fails and grade exits 1.
    assert!(!good["jitter"].0, "{good:?}");
    assert_eq!(good_code, 1, "{good:?}");

    let bad = verdicts(&out);
    assert_eq!(bad_code, 1, "{bad:?}");
    assert!(
        bad["quota_not_retried"].0,
        "quota errors are never retried by the stack: {bad:?}"
    );
    for q in ["jitter", "outage_amplification", "fallback"] {
        assert!(!bad[q].0, "{q} passes with naive retries: {bad:?}");
    }
    // The evidence: the interval and the counts, in every format.
    let md = std::fs::read_to_string(out.join("scorecard.md")).unwrap();
    assert!(md.contains("## outage_amplification"), "{md}");
    assert!(md.contains("interval: 0.50 s to 3.50 s"), "{md}");
    assert!(md.contains("upstream attempts:"), "{md}");
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    grade_harness::assert_well_formed_xml(&junit);
    assert_eq!(junit.matches("<testcase ").count(), 4, "{junit}");
    assert_eq!(junit.matches("<failure ").count(), 3, "{junit}");
    let html = std::fs::read_to_string(out.join("scorecard.html")).unwrap();
    assert!(html.contains("1 of 4 questions passed"), "{html}");
    for q in ASKED.split(',') {
        assert!(
            out.join(q).join("summary.json").is_file(),
            "{q}'s run report"
        );
        assert!(out.join(q).join("system.log").is_file(), "{q}'s system log");
    }
}

#[test]
fn a_system_that_does_not_start_is_a_usage_error() {
    let dir = scratch("nostart");
    let system = write_system(&dir, "command = \"exit 3\"\nready = \"/healthz\"\n");
    let out = dir.join("card");
    assert_eq!(
        grade(&[system.to_str().unwrap(), "--only", "jitter"], &out),
        2
    );
    assert!(!out.join("scorecard.json").exists());
    // A question that does not exist, and no system at all, are usage errors too.
    assert_eq!(
        grade(&[system.to_str().unwrap(), "--only", "speed"], &out),
        2
    );
    assert_eq!(grade(&[], &out), 2);
}
