//! The upstream's view through whole runs: `gauntlet run` over real HTTP on 127.0.0.1 against
//! the embedded mock, and one simulation on virtual time.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_gauntlet");

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gauntlet-upview-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `gauntlet run` on scenario text: the exit code, the output, the summary and the
/// report directory.
fn run(name: &str, scenario: &str) -> (i32, String, Value, PathBuf) {
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
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    let summary = std::fs::read_to_string(out.join("summary.json"))
        .unwrap_or_else(|e| panic!("no summary.json ({e}): {text}"));
    (
        output.status.code().unwrap_or(-1),
        text,
        serde_json::from_str(&summary).unwrap(),
        out,
    )
}

/// A two-second run during an outage (every attempt 503), with `client` as the stack.
fn outage(client: &str, thresholds: &str) -> String {
    format!(
        r#"
name = "upstream-view"
duration = "2s"
[upstream]
latency = {{ distribution = "fixed", value = "5ms" }}
[[upstream.timeline]]
at = "0s"
kind = "outage"
status = 503
[workload]
arrivals = "constant"
stages = [{{ for = "2s", rate = "20/s" }}]
prompts = {{ distinct = 100000, zipf_exponent = 0.0 }}
{client}
[thresholds]
{thresholds}
"#
    )
}

fn retrying(jitter: &str) -> String {
    format!(
        "[client.retry]\nmax_attempts = 3\nbase_delay = \"100ms\"\nmultiplier = 1.0\njitter = \"{jitter}\""
    )
}

fn uv<'a>(s: &'a Value, key: &str) -> &'a Value {
    let v = key.split('.').fold(&s["upstream_view"], |v, k| &v[k]);
    assert!(!v.is_null(), "upstream_view.{key} in {s}");
    v
}

fn up_column_sum(dir: &Path, column: &str) -> u64 {
    let mut r = csv::Reader::from_path(dir.join("timeseries.csv")).unwrap();
    let at = r
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == column)
        .unwrap();
    r.records()
        .map(|rec| rec.unwrap()[at].parse::<u64>().unwrap())
        .sum()
}

#[test]
fn retries_during_an_outage_amplify_and_no_retries_do_not() {
    let limit = r#""upstream_view.amplification" = "< 2""#;
    let (code, out, s, dir) = run("retrying", &outage(&retrying("none"), limit));
    assert_eq!(code, 1, "amplification over 2 fails its threshold: {out}");
    let amp = uv(&s, "amplification").as_f64().unwrap();
    assert!(amp > 2.0, "{amp}");
    assert_eq!(uv(&s, "driver_requests"), &s["requests"]["total"]);
    let attempts = uv(&s, "attempts").as_u64().unwrap();
    assert!(uv(&s, "retries").as_u64().unwrap() > 0);
    assert!(uv(&s, "prompt_tokens_resent").as_u64().unwrap() > 0);
    assert_eq!(uv(&s, "tokens_charged"), 0, "a 503 outage charges nothing");
    assert_eq!(s["thresholds"][0]["metric"], "upstream_view.amplification");
    assert_eq!(s["thresholds"][0]["pass"], false);
    assert_eq!(up_column_sum(&dir, "up_attempts"), attempts);
    assert!(dir.join("upstream_view.png").is_file());
    assert!(std::fs::read_to_string(dir.join("summary.md"))
        .unwrap()
        .contains("upstream's view"));

    let (code, out, s, _) = run("no-retries", &outage("", limit));
    assert_eq!(code, 0, "{out}");
    assert_eq!(uv(&s, "amplification").as_f64().unwrap(), 1.0);
    assert_eq!(uv(&s, "retries"), 0);
}

#[test]
fn lock_step_retries_score_a_smaller_spread_than_jittered_ones() {
    let measured = |jitter: &str| {
        let (_, out, s, _) = run(jitter, &outage(&retrying(jitter), ""));
        let count = uv(&s, "retry_delay_ms.first_count").as_u64().unwrap();
        assert!(count >= 10, "{out}");
        (
            uv(&s, "retry_delay_ms.cv").as_f64().unwrap(),
            uv(&s, "retry_delay_ms.spread_ms").as_f64().unwrap(),
        )
    };
    let (lock_cv, lock_spread) = measured("none");
    let (jit_cv, jit_spread) = measured("full");
    assert!(lock_cv < 0.15, "lock-step cv {lock_cv}");
    assert!(jit_cv > 0.3, "jittered cv {jit_cv}");
    assert!(
        jit_spread > lock_spread + 30.0,
        "{jit_spread} vs {lock_spread}"
    );
}

#[test]
fn a_simulation_records_the_upstream_view_too() {
    let scenario = gauntlet::scenario::Scenario::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/outage-and-recovery.toml"),
    )
    .unwrap();
    let run = gauntlet::sim::run(&scenario, std::future::pending()).unwrap();
    let view = run
        .upstream_view
        .as_ref()
        .expect("the sim's mock is in-process");
    let attempts = view.totals.counters.attempts;
    assert_eq!(attempts, run.mock_stats.as_ref().unwrap().requests);
    assert!(view.totals.counters.retries > 0, "the outage is retried");
    let summary = gauntlet::report::Summary::build(&scenario, &run, "sim");
    let figures = summary.upstream_view.unwrap();
    assert_eq!(figures.attempts, attempts);
    assert!(figures.amplification > 0.0);
    let per_row: u64 = run
        .rows
        .iter()
        .map(|r| r.upstream_view.unwrap().attempts)
        .sum();
    assert_eq!(per_row, attempts);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_mocks_view_is_read_from_its_stats_and_cut_to_the_run() {
    let faults = mock_upstream::faults::parse_toml(
        "[[failures]]\nkind = \"status\"\nstatus = 503\nprobability = 1.0",
        "external.toml",
    )
    .unwrap();
    let mock = mock_upstream::server::RunningMock::start_local(faults, Default::default())
        .await
        .unwrap();
    // Traffic before the run is not the run's.
    let c = reqwest::Client::new();
    for _ in 0..5 {
        c.post(format!("{}/v1/chat/completions", mock.url))
            .bearer_auth("sk-before")
            .json(&serde_json::json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}))
            .send()
            .await
            .unwrap();
    }
    let scenario = format!(
        r#"
name = "external"
duration = "2s"
[upstream]
target = "{}"
api_keys = ["sk-run"]
[workload]
arrivals = "constant"
stages = [{{ for = "2s", rate = "20/s" }}]
prompts = {{ distinct = 100000, zipf_exponent = 0.0 }}
{}
"#,
        mock.url,
        retrying("full")
    );
    let (_, out, s, dir) = tokio::task::spawn_blocking(move || run("external", &scenario))
        .await
        .unwrap();
    let requests = s["requests"]["total"].as_u64().unwrap();
    assert!(requests > 0, "{out}");
    assert_eq!(uv(&s, "attempts").as_u64().unwrap(), 3 * requests, "{out}");
    assert_eq!(uv(&s, "amplification").as_f64().unwrap(), 3.0);
    assert_eq!(up_column_sum(&dir, "up_attempts"), 3 * requests);
}

#[test]
fn a_stack_that_ignores_retry_after_is_caught_and_one_that_honours_it_is_not() {
    let scenario = |honour: bool| {
        format!(
            r#"
name = "retry-after"
duration = "2s"
[upstream]
latency = {{ distribution = "fixed", value = "5ms" }}
[[upstream.timeline]]
at = "0s"
kind = "errors"
status = 429
probability = 1.0
[workload]
arrivals = "constant"
stages = [{{ for = "2s", rate = "10/s" }}]
prompts = {{ distinct = 100000, zipf_exponent = 0.0 }}
drain = "3s"
[client.retry]
max_attempts = 2
base_delay = "50ms"
jitter = "none"
honor_retry_after = {honour}
[thresholds]
"upstream_view.early_retries_after_429" = "<= 0"
"#
        )
    };
    let (code, out, s, _) = run("ignores", &scenario(false));
    assert_eq!(code, 1, "{out}");
    let retries = uv(&s, "retries").as_u64().unwrap();
    assert!(retries > 5, "{out}");
    assert_eq!(uv(&s, "early_retries_after_429").as_u64().unwrap(), retries);
    assert!(uv(&s, "early_by_ms.max").as_f64().unwrap() > 800.0);
    assert_eq!(uv(&s, "examples")[0]["kind"], "early_after_429");

    let (code, out, s, _) = run("honours", &scenario(true));
    assert_eq!(code, 0, "{out}");
    assert!(uv(&s, "retries").as_u64().unwrap() > 5, "{out}");
    assert_eq!(uv(&s, "early_retries_after_429"), 0);
}
