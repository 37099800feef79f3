//! The key pool and the model chain through `gauntlet run --sim`: the driver records their
//! events and the report shows the pool's cost, paid share and spent keys, and degraded answers
//! among the outcomes.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_gauntlet");

/// Runs `gauntlet run --sim` on scenario text; returns the exit code, output and summary.
fn run_sim(name: &str, scenario: &str) -> (i32, String, Option<Value>) {
    let dir: PathBuf =
        std::env::temp_dir().join(format!("gauntlet-pool-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("scenario.toml");
    std::fs::write(&file, scenario).unwrap();
    let out = dir.join("report");
    let output = Command::new(BIN)
        .args(["run", "--sim", "--quiet", "--out"])
        .arg(&out)
        .arg(&file)
        .output()
        .unwrap();
    let summary = std::fs::read_to_string(out.join("summary.json"))
        .ok()
        .map(|t| serde_json::from_str(&t).unwrap());
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap_or_default();
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr)
        + &md;
    (output.status.code().unwrap_or(-1), text, summary)
}

const FREE_THEN_PAID: &str = r#"
name = "pool-sim"
duration = "5s"
[upstream]
[[upstream.keys]]
key = "sk-free"
requests_per_day = 20
[[upstream.keys]]
key = "sk-paid"
[workload]
arrivals = "constant"
stages = [{ for = "5s", rate = "10/s" }]
prompts = { distinct = 100000, zipf_exponent = 0.0 }
[client.pool]
[[client.pool.keys]]
name = "free"
key = "sk-free"
[[client.pool.keys]]
name = "paid"
key = "sk-paid"
cost_per_1k_tokens = 0.5
tier = 1
"#;

#[test]
fn the_report_shows_the_pools_cost_and_paid_share() {
    let (code, out, s) = run_sim("cost", FREE_THEN_PAID);
    assert_eq!(code, 0, "{out}");
    let s = s.expect("summary.json");
    let pool = &s["pool"];
    let total = s["requests"]["total"].as_u64().unwrap();
    assert!(total >= 45, "{s}");
    assert_eq!(pool["requests"], total, "{pool}");
    // The free key's 20 a day, then the paid key; one insufficient_quota taught the pool.
    assert_eq!(pool["paid_requests"], total - 20, "{pool}");
    let share = (total - 20) as f64 / total as f64;
    assert_eq!(pool["paid_share"].as_f64(), Some(share), "{pool}");
    assert_eq!(pool["spent_keys"], 1, "{pool}");
    assert!(pool["cost"].as_f64().unwrap() > 0.0, "{pool}");
    assert_eq!(s["upstream"]["status_counts"]["429"], 1, "{s}");
    assert_eq!(s["outcomes"]["upstream"], total);
    let line = format!(
        "| key pool | {total} answers, {:.1} % on paid keys",
        share * 100.0
    );
    assert!(out.contains(&line), "{out}");
}

#[test]
fn degraded_answers_are_an_outcome_of_the_report() {
    let scenario = r#"
name = "chain-sim"
duration = "5s"
[upstream]
models = [{ id = "gpt-4o", requests_per_day = 10 }, "gpt-4o-mini"]
[workload]
model_name = "gpt-4o"
arrivals = "constant"
stages = [{ for = "5s", rate = "10/s" }]
prompts = { distinct = 100000, zipf_exponent = 0.0 }
[client.models]
chain = ["gpt-4o", "gpt-4o-mini"]
"#;
    let (code, out, s) = run_sim("chain", scenario);
    assert_eq!(code, 0, "{out}");
    let s = s.expect("summary.json");
    assert_eq!(s["outcomes"]["upstream"], 10, "{}", s["outcomes"]);
    let total = s["requests"]["total"].as_u64().unwrap();
    assert!(total >= 45, "{s}");
    assert_eq!(s["outcomes"]["degraded"], total - 10, "{}", s["outcomes"]);
    assert!(s.get("pool").is_none(), "no pool, no pool figures: {s}");
}

#[test]
fn bad_pool_and_chain_tables_are_refused_at_their_line() {
    for (table, want) in [
        ("[client.pool]\nstrategy = \"random\"\n", "random"),
        ("[client.pool]\n", "pool.keys is empty"),
        (
            "[client.pool]\n[[client.pool.keys]]\nname = \"a\"\nkey = \"k\"\nrpm = 0\n",
            "rpm = 0",
        ),
        ("[client.models]\nchain = [\"a\"]\n", "at least two"),
    ] {
        let scenario = format!(
            "name = \"bad\"\nduration = \"1s\"\n[workload]\nstages = [{{ for = \"1s\", rate = \"1/s\" }}]\n{table}"
        );
        let (code, out, _) = run_sim("bad", &scenario);
        assert_ne!(code, 0, "{table}: {out}");
        assert!(out.contains(want), "{table}: {out}");
        assert!(
            out.contains("scenario.toml:"),
            "{table}: no file:line: {out}"
        );
    }
}
