//! Each rule on made-up figures: where it passes, where it fails, and that no data fails.

use serde_json::json;

use super::super::observed::{Observed, SeriesRow};
use super::super::question::Question;
use super::judge;
use crate::report::Summary;

fn observed(view: serde_json::Value) -> Observed {
    let summary: Summary =
        serde_json::from_str(include_str!("../../../reports/example/summary.json")).unwrap();
    Observed {
        summary,
        upstream_view: view,
        rows: Vec::new(),
    }
}

fn row(start: f64, started: u64, ok: u64, errors: u64, attempts: u64) -> SeriesRow {
    SeriesRow {
        interval_start_s: start,
        started,
        completed: ok + errors,
        ok,
        errors,
        up_attempts: Some(attempts),
        up_retries: Some(attempts.saturating_sub(started)),
    }
}

#[test]
fn retry_after_fails_on_an_early_retry_and_shows_it() {
    let view = |early: u64| {
        json!({"answers_429": 12, "early_retries_after_429": early, "early_after_429": early + 3,
               "early_by_ms": {"max": 800.0},
               "examples": [{"kind": "early_after_429", "at_s": 2.5, "route": "/v1/chat/completions",
                             "key": "key#1a2b3c4d", "retry_count": 1, "status": 429, "early_by_ms": 790.0}]})
    };
    assert!(judge(Question::RetryAfter, &observed(view(0))).pass);
    let v = judge(Question::RetryAfter, &observed(view(2)));
    assert!(!v.pass, "{v:?}");
    assert!(v.evidence.example.unwrap().contains("790"));
    // No view of the upstream: no data, a failure.
    let v = judge(Question::RetryAfter, &observed(serde_json::Value::Null));
    assert!(!v.pass && v.measured.starts_with("no data"), "{v:?}");
    // Never told to wait, and answering: nothing to honour.
    let v = judge(
        Question::RetryAfter,
        &observed(json!({"answers_429": 0, "early_retries_after_429": 0, "early_after_429": 0})),
    );
    assert!(v.pass, "{v:?}");
}

#[test]
fn quota_retries_fail_and_an_unasked_question_fails() {
    let view = |refused: u64, retried: u64| json!({"non_retryable_answers": refused, "non_retryable_retries": retried, "attempts": 20});
    assert!(judge(Question::QuotaNotRetried, &observed(view(10, 0))).pass);
    assert!(!judge(Question::QuotaNotRetried, &observed(view(10, 1))).pass);
    let v = judge(Question::QuotaNotRetried, &observed(view(0, 0)));
    assert!(!v.pass && v.measured.starts_with("no data"), "{v:?}");
}

#[test]
fn jitter_wants_both_spread_and_variation() {
    let view = |spread: f64, cv: f64| {
        json!({"retry_delay_ms": {"count": 40, "p10": 380.0, "p90": 380.0 + spread,
                                  "spread_ms": spread, "cv": cv}})
    };
    assert!(judge(Question::Jitter, &observed(view(100.0, 0.08))).pass);
    assert!(!judge(Question::Jitter, &observed(view(10.0, 0.2))).pass);
    assert!(!judge(Question::Jitter, &observed(view(100.0, 0.01))).pass);
    let none = json!({"retry_delay_ms": {"count": 0, "spread_ms": 0.0, "cv": 0.0}});
    assert!(!judge(Question::Jitter, &observed(none)).pass);
}

#[test]
fn outage_amplification_counts_the_outage_only() {
    let mut o = observed(json!({}));
    // The example's outage is 10 s to 13 s: three attempts per request before it do not count.
    o.rows = vec![
        row(9.0, 10, 10, 0, 30),
        row(10.0, 10, 10, 0, 12),
        row(11.0, 10, 10, 0, 14),
        row(12.0, 10, 10, 0, 10),
        row(13.0, 10, 10, 0, 40),
    ];
    let v = judge(Question::OutageAmplification, &o);
    assert!(v.pass, "{v:?}");
    assert_eq!(v.evidence.interval, Some((10.0, 13.0)));
    o.rows[2].up_attempts = Some(30);
    let v = judge(Question::OutageAmplification, &o);
    assert!(!v.pass && v.measured.starts_with("1.73"), "{v:?}");
    o.rows[2].up_attempts = None;
    assert!(!judge(Question::OutageAmplification, &o).pass);
}

#[test]
fn fallback_wants_answers_during_the_outage() {
    let mut o = observed(json!({}));
    o.rows = (0..16).map(|i| row(f64::from(i), 10, 10, 0, 10)).collect();
    assert!(judge(Question::Fallback, &o).pass);
    o.rows[11] = row(11.0, 10, 2, 8, 10);
    let v = judge(Question::Fallback, &o);
    assert!(!v.pass, "{v:?}");
    assert_eq!(v.evidence.interval, Some((10.5, 13.0)));
}

#[test]
fn recovery_reads_the_summary_and_needs_a_served_baseline() {
    let mut o = observed(json!({}));
    o.rows = (0..16).map(|i| row(f64::from(i), 10, 10, 0, 10)).collect();
    assert!(judge(Question::Recovery, &o).pass);
    o.summary.recovery[0].recovered_after_s = Some(4.5);
    assert!(!judge(Question::Recovery, &o).pass);
    o.summary.recovery[0].recovered_after_s = None;
    assert!(!judge(Question::Recovery, &o).pass);
    // A system that never answered "recovers" at once to its baseline of nothing: a failure.
    o.summary.recovery[0].recovered_after_s = Some(0.0);
    o.rows = (0..16).map(|i| row(f64::from(i), 10, 0, 10, 10)).collect();
    assert!(!judge(Question::Recovery, &o).pass);
}

#[test]
fn slowdown_fails_on_a_timeout_at_the_callers_deadline() {
    let mut o = observed(json!({}));
    assert!(judge(Question::Slowdown, &o).pass);
    o.summary.error_kinds.insert("timeout_total".into(), 3);
    o.summary.requests.errors = 3;
    let v = judge(Question::Slowdown, &o);
    assert!(!v.pass && v.measured.starts_with("3 "), "{v:?}");
}

#[test]
fn a_complete_looking_answer_to_a_broken_stream_fails() {
    let mut o = observed(json!({}));
    // The example run's callers got 417 answers: with every upstream stream broken, that fails.
    assert!(!judge(Question::BrokenStream, &o).pass);
    o.summary.requests.errors = o.summary.requests.ok;
    o.summary.requests.ok = 0;
    assert!(judge(Question::BrokenStream, &o).pass);
    o.summary.upstream.status_counts.clear();
    assert!(!judge(Question::BrokenStream, &o).pass, "not asked");
}

#[test]
fn the_concurrency_cap_fails_on_a_refusal() {
    let mut o = observed(json!({"concurrency_max": 6}));
    // The example's upstream refused 33 with 503.
    let v = judge(Question::ConcurrencyCap, &o);
    assert!(!v.pass && v.measured.starts_with("33 "), "{v:?}");
    o.summary.upstream.status_counts.remove("503");
    assert!(judge(Question::ConcurrencyCap, &o).pass);
}
