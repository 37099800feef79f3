//! The view's arithmetic on a paused clock: a scripted client's arrivals in, the counters out.

use std::sync::Arc;

use tokio::time::{advance, Duration, Instant};

use super::note::Note;
use super::{Arrival, ExampleKind, UpstreamView};

/// An arrival answered at once: `status` (with `retry_after` ms on a 429), from key `k`, body
/// `body`, retry-count header `rc`.
fn at(now: Instant, k: &'static str, body: u64, rc: Option<u32>, status: u16) -> Arrival<'static> {
    Arrival {
        arrived: now,
        sent: now,
        key: Some(k),
        route: "/v1/chat/completions",
        retry_count: rc,
        note: Note {
            body_hash: Some(body),
            prompt_tokens: 100,
            charged_tokens: if status == 200 { 150 } else { 0 },
        },
        status: Some(status),
        retry_after: None,
        should_retry: None,
        concurrency: 1,
        abandoned: false,
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[tokio::test(start_paused = true)]
async fn an_attempt_inside_retry_after_is_early_and_one_after_it_is_not() {
    let view = UpstreamView::new(Instant::now());
    let t = Instant::now();
    let mut refused = at(t, "sk-a", 1, None, 429);
    refused.retry_after = Some(ms(1_000));
    view.record(&refused);
    advance(ms(300)).await;
    view.record(&at(Instant::now(), "sk-a", 1, Some(1), 429));
    // Another key is not held to sk-a's deadline.
    view.record(&at(Instant::now(), "sk-b", 7, None, 200));
    advance(ms(800)).await;
    view.record(&at(Instant::now(), "sk-a", 1, Some(2), 200));
    let s = view.snapshot();
    let c = s.totals.counters;
    assert_eq!(c.attempts, 4);
    assert_eq!(c.answers_429, 2);
    assert_eq!(c.early_after_429, 1);
    assert_eq!(c.early_retries_after_429, 1);
    assert_eq!(c.early_by_ms_max, 700.0);
    assert_eq!(c.retries, 2);
    assert_eq!(c.retries_by_header, 2);
    assert_eq!(c.prompt_tokens_resent, 200);
    assert_eq!(c.tokens_charged, 300);
    let early = &s.totals.examples[0];
    assert_eq!(early.kind, ExampleKind::EarlyAfter429);
    // The evidence names the key by a hash, never by any part of the token.
    assert_eq!(early.key, super::mask("sk-a"));
    assert!(early.key.starts_with("key#") && !early.key.contains("sk-"));
    assert_eq!(early.previous_status, Some(429));
    // 1 s intervals: three attempts in the first, the last one in the second.
    assert_eq!(s.intervals.len(), 2);
    assert_eq!(s.intervals[0].counters.attempts, 3);
    assert_eq!(s.intervals[1].counters.attempts, 1);
    assert_eq!(s.intervals[1].start_ms, 1_000.0);
}

#[tokio::test(start_paused = true)]
async fn a_patient_retry_is_held_to_its_own_429_not_to_a_later_one_of_its_key() {
    let view = UpstreamView::new(Instant::now());
    let refused = |body, t| Arrival {
        retry_after: Some(ms(1_000)),
        ..at(t, "sk-busy", body, None, 429)
    };
    view.record(&refused(1, Instant::now()));
    advance(ms(500)).await;
    // Another request of the same key is refused half a second later.
    view.record(&refused(2, Instant::now()));
    advance(ms(550)).await;
    // The first one's retry waited its full second: early for the key, not for its own 429.
    view.record(&at(Instant::now(), "sk-busy", 1, Some(1), 200));
    let c = view.snapshot().totals.counters;
    assert_eq!(c.early_after_429, 2);
    assert_eq!(c.early_retries_after_429, 0);
}

#[tokio::test(start_paused = true)]
async fn a_retried_quota_error_is_a_non_retryable_retry() {
    let view = UpstreamView::new(Instant::now());
    let mut quota = at(Instant::now(), "sk-q", 9, None, 429);
    quota.should_retry = Some(false);
    view.record(&quota);
    advance(ms(50)).await;
    // No header: the same body from the same key after the error is what gives it away.
    view.record(&at(Instant::now(), "sk-q", 9, None, 429));
    advance(ms(50)).await;
    view.record(&at(Instant::now(), "sk-q", 10, None, 404));
    advance(ms(50)).await;
    view.record(&at(Instant::now(), "sk-q", 10, None, 404));
    let c = view.snapshot().totals.counters;
    assert_eq!(c.non_retryable_answers, 3);
    assert_eq!(c.retries, 2);
    assert_eq!(c.retries_by_header, 0);
    // The quota 429's retry, and the 404's (a 404 needs no header to be final).
    assert_eq!(c.non_retryable_retries, 2);
}

#[tokio::test(start_paused = true)]
async fn the_same_body_after_a_success_is_not_a_retry() {
    let view = UpstreamView::new(Instant::now());
    view.record(&at(Instant::now(), "sk-a", 3, None, 200));
    advance(ms(10)).await;
    view.record(&at(Instant::now(), "sk-a", 3, None, 200));
    // And an error's body sent again after the window is a new request.
    view.record(&at(Instant::now(), "sk-a", 4, None, 500));
    advance(Duration::from_secs(61)).await;
    view.record(&at(Instant::now(), "sk-a", 4, None, 200));
    assert_eq!(view.snapshot().totals.counters.retries, 0);
}

/// `n` requests fail at once and are retried after `delay(i)`.
async fn burst(delay: impl Fn(u64) -> u64) -> f64 {
    let view = UpstreamView::new(Instant::now());
    let t = Instant::now();
    for i in 0..20 {
        view.record(&at(t, "sk-a", i, None, 503));
    }
    let mut retries: Vec<(u64, u64)> = (0..20).map(|i| (delay(i), i)).collect();
    retries.sort();
    for (d, i) in retries {
        advance((t + ms(d)).saturating_duration_since(Instant::now())).await;
        view.record(&at(Instant::now(), "sk-a", i, Some(1), 200));
    }
    let s = view.snapshot();
    assert_eq!(s.totals.first_retry_delay_ms.count, 20);
    s.totals.counters.retry_delays.cv().unwrap()
}

#[tokio::test(start_paused = true)]
async fn lock_step_retries_have_a_smaller_spread_than_jittered_ones() {
    let lock_step = burst(|_| 500).await;
    let jittered = burst(|i| 50 + i * 47).await;
    assert!(lock_step < 0.01, "{lock_step}");
    assert!(jittered > 0.3, "{jittered}");
}

#[tokio::test(start_paused = true)]
async fn concurrency_counts_what_is_in_flight_and_for_how_long() {
    let view = Arc::new(UpstreamView::new(Instant::now()));
    let (one, d1) = view.arrive(Instant::now());
    let (two, d2) = view.arrive(Instant::now());
    assert_eq!((one, two), (1, 2));
    advance(ms(500)).await;
    drop(d1);
    drop(d2);
    let (three, d3) = view.arrive(Instant::now());
    assert_eq!(three, 1);
    drop(d3);
    let c = view.snapshot().totals.counters;
    assert_eq!(c.busy_ms, 1_000.0);
    assert_eq!(c.concurrency_mean(1_000.0), 1.0);
}

#[tokio::test(start_paused = true)]
async fn a_reset_starts_over_and_keeps_the_width_it_was_given() {
    let view = UpstreamView::new(Instant::now());
    view.reset(Instant::now(), Some(ms(250)));
    view.record(&at(Instant::now(), "sk-a", 1, None, 200));
    advance(ms(600)).await;
    view.record(&at(Instant::now(), "sk-a", 2, None, 200));
    let s = view.snapshot();
    assert_eq!(s.interval_ms, 250.0);
    assert_eq!(s.intervals.len(), 3);
    view.reset(Instant::now(), None);
    let s = view.snapshot();
    assert_eq!((s.interval_ms, s.totals.counters.attempts), (250.0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_retry_is_judged_on_arrival_not_after_the_answers_sent_while_it_waits() {
    use super::note::{self, Judge, Slot};
    let view = Arc::new(UpstreamView::new(Instant::now()));
    view.record(&at(Instant::now(), "sk-a", 1, None, 503));
    advance(ms(10)).await;
    let arrived = Instant::now();
    let slot = Arc::new(Slot::judged(Judge {
        view: view.clone(),
        key: super::key_hash(Some("sk-a")),
        at: arrived,
        retry_count: None,
    }));
    // The retry's body arrives; the handler notes it (without the header: by body alone).
    note::scope(slot.clone(), async { note::body_hash_for_test(1) }).await;
    // While it waits in the mock, a hundred other bodies of the key are answered with errors,
    // more than the key's memory holds.
    for b in 100..200 {
        view.record(&at(Instant::now(), "sk-a", b, None, 503));
    }
    advance(ms(500)).await;
    let retry = Arrival {
        arrived,
        ..at(Instant::now(), "sk-a", 1, None, 200)
    };
    view.record_classified(&retry, slot.classified());
    let c = view.snapshot().totals.counters;
    assert_eq!(c.retries, 1);
    assert_eq!(c.retry_delays.0[0].n, 1);
    assert_eq!(c.retry_delays.0[0].sum_ms, 10.0);
}
