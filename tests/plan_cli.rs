//! `gauntlet plan` end to end through the binary: the search finds a capacity that follows from
//! the scenario's limits, writes its files, compares variants, confirms on real time, and refuses
//! bad arguments with exit 2.
//!
//! The scenario, `scenarios/plan-daily-quota.toml`: a daily quota of 205 requests, closed-model
//! users each sending one request a second (100 ms fixed latency + 900 ms think time) for 9.5 s,
//! so every user sends at t = 0, 1, ..., 9: 10 requests. U users send 10U; the quota refuses
//! max(0, 10U - 205) of them (429 insufficient_quota, not retried: no retry layer). With the SLO
//! `error_rate < 1%`: U = 20 sends 200, none refused (passes); U = 21 sends 210, 5 refused =
//! 2.38 % (fails). The capacity is 20 users, and with a quota of 405 it is 40 (41 users: 5 of 410
//! refused, 1.22 %).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn scenario() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/plan-daily-quota.toml")
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gauntlet-plan-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn plan(args: &[&str], out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .arg("plan")
        .arg(scenario())
        .args(args)
        .args(["--quiet", "--jobs", "2", "--out"])
        .arg(out)
        .output()
        .unwrap()
}

fn json(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("plan.json")).unwrap()).unwrap()
}

#[test]
fn finds_the_users_the_daily_quota_carries() {
    let out = temp("quota");
    let o = plan(
        &[
            "--vary",
            "workload.users=1..60",
            "--until",
            "error_rate < 1%",
        ],
        &out,
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout.contains("workload.users: 20 meets the SLO; 21 fails (error_rate = 2.38%"),
        "{stdout}"
    );
    let j = json(&out);
    assert_eq!(j["key"], "workload.users");
    assert_eq!(j["answer"], 20.0);
    assert_eq!(j["next_failing"], 21.0);
    assert_eq!(j["at_least"], false);
    assert_eq!(j["non_monotone"], false);
    assert_eq!(j["until"], "error_rate < 1%");
    assert_eq!(j["failed"][0]["metric"], "error_rate");
    let steps = j["steps"].as_array().unwrap();
    // Integer key, resolution 1: 2 bounds plus about 2 probes a round for log3(59) rounds.
    assert!((4..=14).contains(&steps.len()), "{}", steps.len());
    assert!(steps
        .iter()
        .all(|s| s["value"].as_f64().unwrap().fract() == 0.0));
    assert_eq!(j["at_answer"]["upstream.calls"], 200.0);

    let mut csv = csv::Reader::from_path(out.join("plan.csv")).unwrap();
    let header: Vec<String> = csv.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header[..5],
        ["variant", "step", "workload.users", "pass", "error_rate"]
    );
    for want in [
        "latency.p99",
        "goodput_rps",
        "quota.used",
        "outcomes.cache_hit",
    ] {
        assert!(header.iter().any(|h| h == want), "{header:?}");
    }
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), steps.len());
    for r in &rows {
        let users: f64 = r[2].parse().unwrap();
        let err: f64 = r[4].parse().unwrap();
        // The arithmetic above holds exactly up to 21 users; beyond, a refused request comes
        // back at once and its user sends again sooner (more requests), but some are refused.
        if users <= 21.0 {
            let refused = (10.0 * users - 205.0).max(0.0);
            assert!(
                (err - refused / (10.0 * users)).abs() < 1e-6,
                "{users} users: {err}"
            );
        } else {
            assert!(err > 0.01, "{users} users: {err}");
        }
        assert_eq!(&r[3], if err < 0.01 { "true" } else { "false" });
    }
    let md = std::fs::read_to_string(out.join("plan.md")).unwrap();
    assert!(md.contains("20 meets the SLO"), "{md}");
    let svg = std::fs::read_to_string(out.join("plan.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("answer 20"),
        "{}",
        &svg[..200]
    );
    assert!(out.join("plan.png").exists());
}

#[test]
fn compares_strategies_side_by_side() {
    let out = temp("compare");
    let o = plan(
        &[
            "--vary",
            "workload.users=1..60",
            "--until",
            "error_rate < 1%",
            "--compare",
            "quota405:upstream.limits.requests_per_day=405",
            "--compare",
            "cached:client.cache.ttl=1h",
        ],
        &out,
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let j = json(&out);
    assert_eq!(j["answer"], 20.0);
    let compare = j["compare"].as_array().unwrap();
    assert_eq!(compare[0]["name"], "quota405");
    assert_eq!(compare[0]["answer"], 40.0);
    assert_eq!(compare[0]["next_failing"], 41.0);
    // Five distinct prompts: after five misses every answer is a cache hit and spends no
    // quota, so the whole range passes.
    assert_eq!(compare[1]["answer"], 60.0);
    assert_eq!(compare[1]["at_least"], true);
    assert!(
        compare[1]["at_answer"]["outcomes.cache_hit"]
            .as_f64()
            .unwrap()
            > 0.5
    );

    let mut csv = csv::Reader::from_path(out.join("compare.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    let answers: Vec<(&str, &str)> = rows.iter().map(|r| (&r[0], &r[2])).collect();
    assert_eq!(
        answers,
        [("base", "20"), ("quota405", "40"), ("cached", "60")]
    );
    let md = std::fs::read_to_string(out.join("compare.md")).unwrap();
    assert!(
        md.contains("| cached | client.cache.ttl=1h | ≥ 60 |"),
        "{md}"
    );
    assert!(md.contains("cache hit"), "{md}");
}

#[test]
fn none_and_at_least_are_answers_at_the_range_ends() {
    let out = temp("none");
    let o = plan(
        &[
            "--vary",
            "workload.users=25..60",
            "--until",
            "error_rate < 1%",
        ],
        &out,
    );
    assert_eq!(o.status.code(), Some(1), "none passes: exit 1");
    assert!(String::from_utf8_lossy(&o.stdout).contains("no value meets the SLO; even 25 fails"));
    assert!(json(&out)["answer"].is_null());
    let out = temp("at-least");
    let o = plan(
        &[
            "--vary",
            "workload.users=1..15",
            "--until",
            "error_rate < 1%",
        ],
        &out,
    );
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("at least 15"));
    assert_eq!(json(&out)["steps"].as_array().unwrap().len(), 2);
}

#[test]
fn confirm_runs_the_answer_on_real_time() {
    let out = temp("confirm");
    let o = plan(
        &[
            "--vary",
            "workload.users=10..30",
            "--until",
            "error_rate < 1%",
            "--confirm",
        ],
        &out,
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout.contains("confirmed on real time at 20: meets the SLO"),
        "{stdout}"
    );
    let j = json(&out);
    assert_eq!(j["confirm"]["pass"], true);
    assert_eq!(j["confirm"]["value"], 20.0);
    let real: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("confirm/summary.json")).unwrap())
            .unwrap();
    assert_eq!(real["mode"], "real");
    assert_eq!(real["requests"]["total"], 200);
}

#[test]
fn bad_arguments_exit_2_with_the_reason() {
    let cases: [(&[&str], &str); 10] = [
        (
            &["--vary", "workload.users", "--until", "error_rate < 1%"],
            "KEY=LO..HI",
        ),
        (
            &[
                "--vary",
                "workload.users=x..5",
                "--until",
                "error_rate < 1%",
            ],
            "not a finite number",
        ),
        (
            &[
                "--vary",
                "workload.users=9..5",
                "--until",
                "error_rate < 1%",
            ],
            "LO must be below HI",
        ),
        (
            &[
                "--vary",
                "workload.users=1..5",
                "--until",
                "error_rate < 1%",
                "--step",
                "0",
            ],
            "positive",
        ),
        (
            &[
                "--vary",
                "workload.users=1..5",
                "--until",
                "error_rate < 1%",
                "--step",
                "NaN",
            ],
            "positive",
        ),
        (
            &[
                "--vary",
                "workload.users=1..5",
                "--until",
                "latency.p98 < 1s",
            ],
            "unknown metric",
        ),
        (
            &["--vary", "workload.users=1..5", "--until", "error_rate 1%"],
            "needs <",
        ),
        (
            &[
                "--vary",
                "workload.users=1..5",
                "--until",
                "error_rate < 1%",
                "--set",
                "nope",
            ],
            "KEY=VALUE",
        ),
        (
            &[
                "--vary",
                "workload.users=1..5",
                "--until",
                "error_rate < 1%",
                "--compare",
                "x",
            ],
            "NAME:KEY=VALUE",
        ),
        // Valid syntax, but the scenario refuses the value: named before anything runs.
        (
            &[
                "--vary",
                "workload.users=1..200000",
                "--until",
                "error_rate < 1%",
            ],
            "users",
        ),
    ];
    for (args, want) in cases {
        let out = temp("bad");
        let o = plan(args, &out);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert!(!out.join("plan.json").exists());
    }
}
