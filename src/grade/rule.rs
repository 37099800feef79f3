//! Each question's pass/fail rule, on the upstream's view and the driver's view of its run. A
//! rule that finds nothing to judge (the question was never asked: no 429 was sent, no stream
//! was answered) fails, as a threshold with no data does: a system that did not start answering
//! cannot pass.

use serde::Serialize;

use super::observed::Observed;
use super::question::Question;

/// Most caller requests' worth of upstream attempts per request during an outage.
pub const MAX_OUTAGE_AMPLIFICATION: f64 = 1.5;
/// Seconds after an outage within which callers must be served normally again.
pub const MAX_RECOVERY_S: f64 = 3.0;
/// Share of the requests completed during an outage that a fallback must answer.
pub const MIN_FALLBACK_SHARE: f64 = 0.9;
/// Least spread (p90 − p10) of a burst's first retries, ms: closer, they hit as one burst.
pub const MIN_RETRY_SPREAD_MS: f64 = 50.0;
/// Least coefficient of variation of retry delays: below, the delays are one fixed value.
pub const MIN_RETRY_DELAY_CV: f64 = 0.04;
/// The concurrency cap of `scenarios/grade/concurrency_cap.toml`.
pub const CONCURRENCY_CAP: f64 = 4.0;

/// What a failed question shows: where, how many, and one request.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Evidence {
    /// The interval of the run the rule looked at, seconds from its start.
    pub interval: Option<(f64, f64)>,
    /// The counts the rule compared, by name.
    pub counts: Vec<(String, String)>,
    /// One request that broke the rule, as the upstream saw it.
    pub example: Option<String>,
}

/// A question's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// Whether the rule holds.
    pub pass: bool,
    /// What was measured against what the rule wants, in one line.
    pub measured: String,
    /// The figures behind it.
    pub evidence: Evidence,
}

impl Verdict {
    fn new(pass: bool, measured: String, evidence: Evidence) -> Self {
        Self {
            pass,
            measured,
            evidence,
        }
    }
}

fn count(name: &str, v: impl ToString) -> (String, String) {
    (name.to_string(), v.to_string())
}

/// Judges `question` on its run.
pub fn judge(question: Question, o: &Observed) -> Verdict {
    match question {
        Question::RetryAfter => retry_after(o),
        Question::QuotaNotRetried => quota_not_retried(o),
        Question::Jitter => jitter(o),
        Question::OutageAmplification => outage_amplification(o),
        Question::Recovery => recovery(o),
        Question::Slowdown => slowdown(o),
        Question::BrokenStream => broken_stream(o),
        Question::Fallback => fallback(o),
        Question::ConcurrencyCap => concurrency_cap(o),
    }
}

/// The view's number, or a failed verdict saying the run had no view of the upstream.
fn needs_view(o: &Observed, key: &str) -> Result<f64, Verdict> {
    o.view(key).ok_or_else(|| {
        Verdict::new(
            false,
            format!("no data: the run has no upstream_view.{key}"),
            Evidence::default(),
        )
    })
}

fn retry_after(o: &Observed) -> Verdict {
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

fn quota_not_retried(o: &Observed) -> Verdict {
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

fn jitter(o: &Observed) -> Verdict {
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

fn outage_amplification(o: &Observed) -> Verdict {
    let Some((at, end)) = o.event() else {
        return Verdict::new(
            false,
            "no data: the run has no outage".into(),
            Evidence::default(),
        );
    };
    let rows: Vec<_> = o.rows_in(at, end).collect();
    let started: u64 = rows.iter().map(|r| r.started).sum();
    let attempts: Option<u64> = rows.iter().map(|r| r.up_attempts).sum();
    let retries: u64 = rows.iter().filter_map(|r| r.up_retries).sum();
    let Some(attempts) = attempts else {
        return Verdict::new(
            false,
            "no data: timeseries.csv has no up_attempts".into(),
            Evidence::default(),
        );
    };
    let ratio = attempts as f64 / started.max(1) as f64;
    let pass = started > 0 && ratio <= MAX_OUTAGE_AMPLIFICATION;
    let evidence = Evidence {
        interval: Some((at, end)),
        counts: vec![
            count("caller requests started", started),
            count("upstream attempts", attempts),
            count("of them retries", retries),
        ],
        example: (!pass).then(|| o.example("retry")).flatten(),
    };
    Verdict::new(
        pass,
        format!(
            "{ratio:.2} upstream attempts per caller request during the outage (want ≤ {MAX_OUTAGE_AMPLIFICATION})"
        ),
        evidence,
    )
}

fn recovery(o: &Observed) -> Verdict {
    let Some(r) = o.summary.recovery.first() else {
        return Verdict::new(
            false,
            "no data: the run has no outage".into(),
            Evidence::default(),
        );
    };
    let before: Vec<_> = o.rows_in(0.0, r.at_s).collect();
    let (ok_before, done_before) = before
        .iter()
        .fold((0, 0), |(a, b), row| (a + row.ok, b + row.completed));
    let after: Vec<_> = o.rows_in(r.end_s, f64::INFINITY).collect();
    let (ok_after, done_after) = after
        .iter()
        .fold((0, 0), |(a, b), row| (a + row.ok, b + row.completed));
    let evidence = Evidence {
        interval: Some((r.end_s, r.end_s + MAX_RECOVERY_S)),
        counts: vec![
            count(
                "answered / completed before the outage",
                format!("{ok_before} / {done_before}"),
            ),
            count(
                "answered / completed after it",
                format!("{ok_after} / {done_after}"),
            ),
        ],
        example: None,
    };
    if ok_before * 2 < done_before || done_before == 0 {
        return Verdict::new(
            false,
            "callers were not served normally even before the outage".into(),
            evidence,
        );
    }
    match r.recovered_after_s {
        Some(s) => Verdict::new(
            s <= MAX_RECOVERY_S,
            format!("recovered {s:.2} s after the outage ended (want ≤ {MAX_RECOVERY_S} s)"),
            evidence,
        ),
        None => Verdict::new(false, "did not recover within the run".into(), evidence),
    }
}

fn slowdown(o: &Observed) -> Verdict {
    let s = &o.summary;
    let timed_out = o.error_kind("timeout_total") + o.error_kind("timeout_attempt");
    let cut_off = o.error_kind("cut_off");
    let completed = s.requests.ok + s.requests.errors;
    let first_bad = o
        .rows
        .iter()
        .find(|r| r.errors > 0)
        .map(|r| r.interval_start_s);
    let evidence = Evidence {
        interval: o.event(),
        counts: vec![
            count("caller requests", s.requests.total),
            count("answered", s.requests.ok),
            count("timed out at the caller's deadline", timed_out),
            count("still open when the run ended", cut_off),
            count(
                "refused (429/503/504 and other errors)",
                s.requests.errors.saturating_sub(timed_out + cut_off),
            ),
            count(
                "first interval with an error, s",
                first_bad.map_or("none".to_string(), |t| format!("{t:.1}")),
            ),
        ],
        example: None,
    };
    if completed == 0 {
        return Verdict::new(
            false,
            "no data: no caller request completed".into(),
            evidence,
        );
    }
    Verdict::new(
        timed_out + cut_off == 0,
        format!("{} caller requests timed out (want 0)", timed_out + cut_off),
        evidence,
    )
}

fn broken_stream(o: &Observed) -> Verdict {
    let s = &o.summary;
    let broken = o.status("200");
    let first_ok = o.rows.iter().find(|r| r.ok > 0).map(|r| r.interval_start_s);
    let evidence = Evidence {
        interval: first_ok.map(|t| (t, t + o.row_width())),
        counts: vec![
            count("upstream answers, every one broken part-way", broken),
            count("caller requests", s.requests.total),
            count("reported to the caller as errors", s.requests.errors),
            count("passed off as complete answers", s.requests.ok),
        ],
        example: None,
    };
    if broken == 0 {
        return Verdict::new(
            false,
            "no data: the upstream answered no request (the question was not asked)".into(),
            evidence,
        );
    }
    Verdict::new(
        s.requests.ok == 0,
        format!(
            "{} answers reached callers as complete although the upstream finished none (want 0)",
            s.requests.ok
        ),
        evidence,
    )
}

fn fallback(o: &Observed) -> Verdict {
    let Some((at, end)) = o.event() else {
        return Verdict::new(
            false,
            "no data: the run has no outage".into(),
            Evidence::default(),
        );
    };
    // The caller's first requests of the outage may still be waiting on an attempt begun
    // before it; judge from half a second in.
    let from = at + 0.5;
    let (ok, done) = o
        .rows_in(from, end)
        .fold((0, 0), |(a, b), r| (a + r.ok, b + r.completed));
    let share = ok as f64 / done.max(1) as f64;
    let evidence = Evidence {
        interval: Some((from, end)),
        counts: vec![
            count("caller requests completed", done),
            count("answered", ok),
            count("failed", done - ok),
        ],
        example: None,
    };
    if done == 0 {
        return Verdict::new(
            false,
            "no caller request completed during the outage".into(),
            evidence,
        );
    }
    Verdict::new(
        share >= MIN_FALLBACK_SHARE,
        format!(
            "{:.0} % of the requests completed during the outage answered (want ≥ {:.0} %)",
            share * 100.0,
            MIN_FALLBACK_SHARE * 100.0
        ),
        evidence,
    )
}

fn concurrency_cap(o: &Observed) -> Verdict {
    let refused = o.status("503");
    let answered = o.status("200");
    let max = o.view("concurrency_max");
    let evidence = Evidence {
        interval: None,
        counts: vec![
            count("upstream answers", answered),
            count("refused for the cap (503)", refused),
            count(
                "most in flight at the upstream",
                max.map_or("unknown".to_string(), |m| m.to_string()),
            ),
            count("the cap", CONCURRENCY_CAP),
        ],
        example: None,
    };
    if answered + refused == 0 {
        return Verdict::new(
            false,
            "no data: the upstream saw no attempt".into(),
            evidence,
        );
    }
    Verdict::new(
        refused == 0,
        format!("{refused} attempts beyond the cap of {CONCURRENCY_CAP} in flight (want 0)"),
        evidence,
    )
}

impl Observed {
    /// The width of one row's interval, seconds (1 when the run had fewer than two rows).
    fn row_width(&self) -> f64 {
        match self.rows.as_slice() {
            [a, b, ..] => b.interval_start_s - a.interval_start_s,
            _ => 1.0,
        }
    }
}
