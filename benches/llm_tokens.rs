//! What the LLM figures cost: recording one token's arrival, and recording one finished
//! streamed request (its TTFT, 100 gaps, TPOT, tokens and SLO check) into the run's recorder.
//!
//! `cargo bench --bench llm_tokens`
//!
//! - `tokens/record_gap`: one `TokenObserver::on_tokens` call, as the adapter makes per content
//!   chunk (a lock, a subtraction and a push; the log is taken every 256 tokens, as a request
//!   ends). Target: under 50 ns.
//! - `tokens/record_request`: one `Recorder::completed` of a 101-token stream under an `[slo]`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use gauntlet::client::{ChatResponse, Outcome, Priority, Route, TokenObserver};
use gauntlet::driver::recorder::{Completion, Recorder};
use gauntlet::record::TokenLog;
use gauntlet::scenario::SloSpec;
use tokio::time::Instant;

fn record_gap(c: &mut Criterion) {
    let log = TokenLog::default();
    let mut t = Instant::now();
    let mut n = 0u32;
    c.bench_function("tokens/record_gap", |b| {
        b.iter(|| {
            t += Duration::from_millis(20);
            log.on_tokens(1, 1, black_box(t));
            n += 1;
            if n % 256 == 0 {
                black_box(log.take());
            }
        })
    });
}

fn record_request(c: &mut Criterion) {
    let t0 = Instant::now();
    let slo: SloSpec =
        toml::from_str("ttft = \"1s\"\nitl = { p = 99, max = \"100ms\" }\ntpot = \"50ms\"")
            .unwrap();
    let recorder = Recorder::new(t0, Duration::from_secs(3600)).with_slo(Some(slo));
    let log = TokenLog::default();
    let ok = Ok(ChatResponse::local("x", Outcome::Upstream));
    c.bench_function("tokens/record_request", |b| {
        b.iter(|| {
            for i in 0..101u64 {
                log.on_tokens(1, 1, t0 + Duration::from_millis(200 + 20 * i));
            }
            let tokens = log.take();
            recorder.begin();
            recorder.completed(&Completion {
                intended: t0,
                sent: t0,
                done: t0 + Duration::from_millis(2200),
                result: &ok,
                attempts: 1,
                limiter_wait: Duration::ZERO,
                priority: Priority::Interactive,
                route: Route::Chat,
                tenant: Some("sk-a"),
                tokens: Some(&tokens),
            });
        })
    });
}

#[allow(missing_docs)]
mod harness {
    use super::*;
    criterion_group!(benches, record_gap, record_request);
}

criterion_main!(harness::benches);
