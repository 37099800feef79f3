//! The rules about retries: when they come (Retry-After), which errors they follow (quota), and
//! how they are spread (jitter).

use super::super::observed::Observed;
use super::{count, needs_view, Evidence, Verdict};
use super::{MIN_RETRY_DELAY_CV, MIN_RETRY_SPREAD_MS};

pub(super) fn retry_after(o: &Observed) -> Verdict {
    let (answers, early, early_all) = match (
        needs_view(o, "answers_429"),
        needs_view(o, "early_retries_after_429"),
        needs_view(o, "early_after_429"),
    ) {
        (Ok(a), Ok(e), Ok(all)) => (a, e, all),
        (Err(v), ..) | (_, Err(v), _) | (.., Err(v)) => return v,
    };
    let mut evidence = Evidence {
        interval: None,
        counts: vec![
            count("429s sent", answers),
            count("retries before retry-after", early),
            count("attempts of any kind before retry-after", early_all),
            count(
                "most early by, ms",
                o.view("early_by_ms.max").unwrap_or(0.0),
            ),
        ],
        example: None,
    };
    if answers == 0.0 {
        let pass = o.summary.requests.ok > 0;
        return Verdict::new(
            pass,
            "the upstream never had to answer 429 (the question was not asked)".into(),
            evidence,
        );
    }
    if early > 0.0 {
        evidence.example = o.example("early_after_429");
    }
    Verdict::new(
        early == 0.0,
        format!("{early} retries came before the retry-after of the 429 they followed (want 0)"),
        evidence,
    )
}

pub(super) fn quota_not_retried(o: &Observed) -> Verdict {
    let (refused, retried) = match (
        needs_view(o, "non_retryable_answers"),
        needs_view(o, "non_retryable_retries"),
    ) {
        (Ok(a), Ok(r)) => (a, r),
        (Err(v), _) | (_, Err(v)) => return v,
    };
    let mut evidence = Evidence {
        interval: None,
        counts: vec![
            count("non-retryable answers (insufficient_quota)", refused),
            count("retries of them", retried),
            count("upstream attempts", o.view("attempts").unwrap_or(0.0)),
            count("caller requests", o.summary.requests.total),
        ],
        example: None,
    };
    if refused == 0.0 {
        return Verdict::new(
            false,
            "no data: the upstream never answered insufficient_quota".into(),
            evidence,
        );
    }
    if retried > 0.0 {
        evidence.example = o.example("non_retryable_retry");
    }
    Verdict::new(
        retried == 0.0,
        format!("{retried} retries of insufficient_quota answers (want 0)"),
        evidence,
    )
}

pub(super) fn jitter(o: &Observed) -> Verdict {
    let n = o.view("retry_delay_ms.count").unwrap_or(0.0);
    let spread = o.view("retry_delay_ms.spread_ms").unwrap_or(0.0);
    let cv = o.view("retry_delay_ms.cv").unwrap_or(0.0);
    let mut evidence = Evidence {
        interval: o.event(),
        counts: vec![
            count("retry delays measured", n),
            count(
                "first-retry delay p10, ms",
                o.view("retry_delay_ms.p10").unwrap_or(0.0),
            ),
            count(
                "first-retry delay p90, ms",
                o.view("retry_delay_ms.p90").unwrap_or(0.0),
            ),
            count("spread p90 − p10, ms", spread),
            count("coefficient of variation", format!("{cv:.3}")),
        ],
        example: None,
    };
    if n < 2.0 {
        return Verdict::new(
            false,
            format!("no data: {n} retry delays measured (the system did not retry the burst)"),
            evidence,
        );
    }
    let pass = spread >= MIN_RETRY_SPREAD_MS && cv >= MIN_RETRY_DELAY_CV;
    if !pass {
        evidence.example = o.example("retry");
    }
    Verdict::new(
        pass,
        format!(
            "first retries spread over {spread:.0} ms, delay cv {cv:.3} (want ≥ {MIN_RETRY_SPREAD_MS:.0} ms and ≥ {MIN_RETRY_DELAY_CV})"
        ),
        evidence,
    )
}
