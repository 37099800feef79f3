//! Property: whatever `validate` accepts runs. Generated scenarios — extreme values included —
//! are either refused by validation with a message, or run a few seconds of simulation to the
//! end without a panic, within a bounded number of steps (a run whose virtual clock stops is
//! ended by the stall watch with an error, never left to hang).

use proptest::prelude::*;
use proptest::test_runner::TestRng;

use gauntlet::scenario::Scenario;

/// A number as TOML writes it, extremes included.
fn float() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just("nan".to_string()),
        1 => Just("inf".to_string()),
        1 => Just("-inf".to_string()),
        1 => Just("1e300".to_string()),
        1 => Just("-1.0".to_string()),
        60 => (0.0f64..1.0).prop_map(|v| format!("{v:.3}")),
    ]
}

fn count() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just("0".to_string()),
        1 => Just("4294967295".to_string()),
        30 => (1u32..20).prop_map(|v| v.to_string()),
    ]
}

fn duration() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => Just("\"0ms\"".to_string()),
        1 => Just("\"3650d\"".to_string()),
        30 => (0u32..300).prop_map(|v| format!("\"{v}ms\"")),
    ]
}

fn rate() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just("\"0/s\"".to_string()),
        1 => Just("\"1e300/s\"".to_string()),
        30 => (1u32..200).prop_map(|v| format!("\"{v}/s\"")),
    ]
}

prop_compose! {
    fn scenario()(
        closed in any::<bool>(),
        rate in rate(),
        users in count(),
        turns_max in count(),
        think in duration(),
        zipf in float(),
        latency in duration(),
        failure_p in float(),
        multiplier in float(),
        attempts in count(),
        base_delay in duration(),
        budget in float(),
        limiter_rate in rate(),
        burst in count(),
        ttl in duration(),
        share in float(),
    ) -> String {
        let load = if closed {
            format!("model = \"closed\"\nusers = {users}\nthink_time = {think}\n")
        } else {
            format!("stages = [{{ for = \"2s\", rate = {rate} }}]\n")
        };
        format!(
            "name = \"prop\"\nduration = \"2s\"\nseed = 3\n\
             [upstream]\nlatency = {{ distribution = \"fixed\", value = {latency} }}\n\
             [[upstream.failures]]\nkind = \"status\"\nstatus = 503\nprobability = {failure_p}\n\
             [[upstream.timeline]]\nat = \"500ms\"\nfor = \"500ms\"\nkind = \"latency\"\nmultiplier = {multiplier}\n\
             [workload]\n{load}turns = {{ min = 1, max = {turns_max} }}\n\
             prompts = {{ distinct = 50, zipf_exponent = {zipf} }}\n\
             tenants = [{{ key = \"a\", share = {share} }}]\n\
             [client.retry]\nmax_attempts = {attempts}\nbase_delay = {base_delay}\nbudget_ratio = {budget}\n\
             [client.limiter]\nrate = {limiter_rate}\nburst = {burst}\nmax_wait = \"1s\"\n\
             [client.cache]\nttl = {ttl}\n"
        )
    }
}

/// Runs one generated scenario: refused, or run to its end.
fn refused_or_runs(text: &str) -> Result<bool, TestCaseError> {
    let Ok(s) = Scenario::parse(text, "prop.toml") else {
        return Ok(false);
    };
    match gauntlet::sim::run(&s, std::future::pending()) {
        Ok(run) => prop_assert!(!run.interrupted),
        // The one error a valid scenario may end in: its clock stopped (zero latency, zero
        // think time, retries without delay), found and reported instead of hanging.
        Err(e) => prop_assert!(e.to_string().contains("made no progress"), "{e}\n{text}"),
    }
    Ok(true)
}

#[test]
fn what_validates_runs() {
    // A fixed seed: CI runs the same 64 scenarios every time (PROPTEST_CASES raises the count).
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let config = ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let rng = TestRng::deterministic_rng(config.rng_algorithm);
    let mut runner = proptest::test_runner::TestRunner::new_with_rng(config, rng);
    let ran = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(&scenario(), |text| {
            if refused_or_runs(&text)? {
                ran.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(())
        })
        .unwrap();
    // The generator must reach the engines, not only validation.
    let ran = ran.into_inner();
    eprintln!("{ran} of {cases} generated scenarios validated and ran");
    assert!(
        ran >= cases as usize / 4,
        "only {ran} of {cases} generated scenarios validated"
    );
}
