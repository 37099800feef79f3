//! The token half of recording a finished request: TTFT from the intended start, from the send
//! and from the successful attempt, every inter-token gap, TPOT, tokens, broken streams kept
//! apart, and whether the request met the `[slo]`.

use hdrhistogram::Histogram;

use super::recorder::Completion;
use crate::record::{
    record, record_gap, record_rate, SloCount, TokenInterval, TokenRow, TokenState, TokenTotals,
};
use crate::scenario::{RequestTimes, SloSpec};

/// Where one request's token figures go, borrowed from the recorder's state.
pub(super) struct TokenSinks<'a> {
    /// The run's TTFT from the intended start (`Totals::ttft`).
    pub ttft: &'a mut Histogram<u64>,
    /// The run's other token figures.
    pub totals: &'a mut TokenTotals,
    /// The open interval's histograms.
    pub interval: &'a mut TokenInterval,
    /// The open interval's counts.
    pub row: &'a mut TokenRow,
}

/// What a request that did not stream arrived with.
static NO_TOKENS: TokenState = TokenState::EMPTY;

/// Records the token figures of `c`.
pub(super) fn record_tokens(out: TokenSinks<'_>, slo: Option<&SloSpec>, c: &Completion<'_>) {
    let st = c.tokens.unwrap_or(&NO_TOKENS);
    let latency = c.done.saturating_duration_since(c.intended);
    let t = out.totals;
    // What broke: earlier attempts that were started again, and the last one if it failed.
    let failed_now = c.result.is_err() && st.chunks > 0;
    t.broken_streams += u64::from(st.broken_streams) + u64::from(failed_now);
    t.broken_output += st.broken_chunks;
    for g in &st.broken_gaps {
        record_gap(&mut t.itl_broken, *g);
    }
    if failed_now {
        t.broken_output += u64::from(st.chunks);
        for g in &st.gaps {
            record_gap(&mut t.itl_broken, *g);
        }
    }
    let mut ttft = latency;
    let mut tpot = None;
    if let Ok(r) = c.result {
        let usage = r.usage.as_ref();
        let output = usage.map_or(u64::from(st.chunks), |u| u64::from(u.completion_tokens));
        let input = usage.map_or(0, |u| u64::from(u.prompt_tokens));
        t.output += output;
        t.input += input;
        out.row.output_tokens += output;
        out.row.input_tokens += input;
        if let Some(first) = st.first {
            ttft = first.saturating_duration_since(c.intended);
            record(out.ttft, ttft);
            record(&mut out.interval.ttft, ttft);
            record(&mut t.ttft_sent, first.saturating_duration_since(c.sent));
            if let Some(a) = r.ttft {
                record(&mut t.ttft_attempt, a);
            }
            for g in &st.gaps {
                record_gap(&mut t.itl, *g);
                record_gap(&mut out.interval.itl, *g);
            }
            if output >= 2 {
                let rest = c.done.saturating_duration_since(first);
                let per = rest / u32::try_from(output - 1).unwrap_or(u32::MAX);
                record(&mut t.tpot, per);
                record(&mut out.interval.tpot, per);
                tpot = Some(per);
            }
            let secs = latency.as_secs_f64();
            if secs > 0.0 {
                record_rate(&mut t.tokens_per_s, output as f64 / secs);
            }
        }
    }
    let Some(spec) = slo else {
        return;
    };
    let gaps: &[u32] = if c.result.is_ok() { &st.gaps } else { &[] };
    let met = spec.met(&RequestTimes {
        answered: c.result.is_ok(),
        ttft,
        e2e: latency,
        tpot,
        gaps,
    });
    let s = &mut t.slo;
    s.all.add(met);
    s.by_route.entry(c.route.as_str()).or_default().add(met);
    s.by_priority
        .entry(c.priority.as_str())
        .or_default()
        .add(met);
    if let Some(tenant) = c.tenant {
        match s.by_tenant.get_mut(tenant) {
            Some(n) => n.add(met),
            None => {
                let mut n = SloCount::default();
                n.add(met);
                s.by_tenant.insert(tenant.to_string(), n);
            }
        }
    }
    out.row.slo_met += u64::from(met);
}

/// Counts `n` requests cut off at the end as not meeting the SLO.
pub(super) fn cut_off(t: &mut TokenTotals, slo: Option<&SloSpec>, n: u64) {
    if slo.is_some() {
        t.slo.all.requests += n;
    }
}
