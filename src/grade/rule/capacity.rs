//! The rules about capacity and streams: a slow upstream, its concurrency cap, a broken stream.

use super::super::observed::Observed;
use super::CONCURRENCY_CAP;
use super::{count, Evidence, Verdict};

pub(super) fn slowdown(o: &Observed) -> Verdict {
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

pub(super) fn broken_stream(o: &Observed) -> Verdict {
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

pub(super) fn concurrency_cap(o: &Observed) -> Verdict {
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
