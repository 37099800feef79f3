//! The rules about an outage: the load sent into it, the recovery after it, the answers during it.

use super::super::observed::Observed;
use super::{count, Evidence, Verdict};
use super::{MAX_OUTAGE_AMPLIFICATION, MAX_RECOVERY_S, MIN_FALLBACK_SHARE};

pub(super) fn outage_amplification(o: &Observed) -> Verdict {
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

pub(super) fn recovery(o: &Observed) -> Verdict {
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

pub(super) fn fallback(o: &Observed) -> Verdict {
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
