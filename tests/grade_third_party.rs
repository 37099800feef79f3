//! Systems nobody here wrote, graded by `gauntlet grade` through the shipped system files of
//! `scenarios/grade/systems/`: a small service on the official `openai` Python SDK
//! (`tests/sut/python_openai_app/app.py`) with the SDK's built-in retries and with them off, and
//! `gauntlet proxy` with the tuned stack of `scenarios/grade/systems/proxy-tuned-stack.toml`.
//!
//! The SDK's grades differ the way its documented behaviour says (openai-python
//! `_base_client.py`): it retries 429 and 5xx twice by default with exponential backoff scaled by
//! a random 0.75–1.0, so with retries on it jitters but triples the load during an outage; it
//! obeys `x-should-retry: false`, so it never retries `insufficient_quota` either way; with
//! `max_retries=0` it sends each request once, so it bounds amplification and has no retries to
//! spread.
//!
//! The interpreter is `GAUNTLET_SDK_PYTHON` (`.ci/run` makes a venv with the pinned SDK), else
//! `target/sdk-venv/bin/python`; without one the SDK test is skipped (passing, saying why) unless
//! `GAUNTLET_REQUIRE_SDK=1`.

mod grade_harness;

use std::path::{Path, PathBuf};

use grade_harness::{grade_with_env, scratch, verdicts};

/// Asked of the SDK app: the questions its retry setting changes, and one it passes either way.
const SDK_ASKED: &str = "quota_not_retried,jitter,outage_amplification";

fn systems() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/grade/systems")
}

/// The SDK venv's python, or `None` after saying why it is skipped.
fn sdk_python() -> Option<String> {
    let python = std::env::var("GAUNTLET_SDK_PYTHON").ok().or_else(|| {
        let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/sdk-venv/bin/python");
        venv.is_file().then(|| venv.display().to_string())
    });
    let usable = python.as_ref().is_some_and(|p| {
        std::process::Command::new(p)
            .args(["-c", "import openai"])
            .status()
            .is_ok_and(|s| s.success())
    });
    if usable {
        return python;
    }
    let why = "no python with the openai SDK (set GAUNTLET_SDK_PYTHON, see .ci/run)";
    if std::env::var("GAUNTLET_REQUIRE_SDK").as_deref() == Ok("1") {
        panic!("GAUNTLET_REQUIRE_SDK=1 but {why}");
    }
    eprintln!("skipped: {why}");
    None
}

#[test]
fn the_openai_sdk_with_and_without_retries_grades_as_documented() {
    let Some(python) = sdk_python() else { return };
    let env = [("GAUNTLET_SDK_PYTHON", python.as_str())];
    let on_dir = scratch("sdk-retries");
    let off_dir = scratch("sdk-no-retries");
    let on_file = systems().join("python-openai-sdk.toml");
    let off_file = systems().join("python-openai-sdk-no-retries.toml");
    let off_run = std::thread::spawn({
        let (out, file, python) = (off_dir.join("card"), off_file.clone(), python.clone());
        move || {
            let env = [("GAUNTLET_SDK_PYTHON", python.as_str())];
            let code = grade_with_env(&[file.to_str().unwrap(), "--only", SDK_ASKED], &out, &env);
            (code, out)
        }
    });
    let on_out = on_dir.join("card");
    let on_code = grade_with_env(
        &[on_file.to_str().unwrap(), "--only", SDK_ASKED],
        &on_out,
        &env,
    );
    let (off_code, off_out) = off_run.join().unwrap();
    let on = verdicts(&on_out);
    let off = verdicts(&off_out);
    assert_eq!(
        (on_code, off_code),
        (1, 1),
        "retries on {on:?}; off {off:?}"
    );
    // x-should-retry: false is obeyed before any status rule, retries on or off.
    assert!(on["quota_not_retried"].0, "{on:?}");
    assert!(off["quota_not_retried"].0, "{off:?}");
    // Backoff 0.5 s × 2^n scaled by a random 0.75–1.0: spread out, not lock-step.
    assert!(on["jitter"].0, "{on:?}");
    assert!(!off["jitter"].0, "no retries, nothing to spread: {off:?}");
    // Two retries of every 503: three attempts per request while the upstream is down.
    assert!(!on["outage_amplification"].0, "{on:?}");
    assert!(off["outage_amplification"].0, "{off:?}");
    // The SDK's retries are visible at the upstream by their header.
    let view = summary_view(&on_out.join("outage_amplification"));
    assert!(view["retries_by_header"].as_u64().unwrap() > 0, "{view}");
}

#[test]
fn gauntlet_proxy_with_the_tuned_stack_is_graded() {
    let dir = scratch("proxy-tuned");
    let out = dir.join("card");
    let file = systems().join("gauntlet-proxy.toml");
    let asked = "quota_not_retried,outage_amplification,fallback,slowdown";
    let code = grade_with_env(
        &[file.to_str().unwrap(), "--only", asked],
        &out,
        &[("GAUNTLET_BIN", env!("CARGO_BIN_EXE_gauntlet"))],
    );
    let card = verdicts(&out);
    assert_eq!(code, 0, "{card:?}");
    assert_eq!(card.len(), 4);
}

fn summary_view(run: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(run.join("summary.json")).unwrap();
    let s: serde_json::Value = serde_json::from_str(&text).unwrap();
    s["upstream_view"].clone()
}
