//! Overhead of the whole client stack per request, over an upstream that answers at once.
//!
//! `cargo bench --bench client_stack`
//!
//! - `client_stack/upstream_only`: the instant upstream alone (the baseline).
//! - `client_stack/cache_hit`: every layer on, the answer in the cache.
//! - `client_stack/miss`: every layer on, a new prompt each time (filter, context, fallback,
//!   cache miss + insert, total timeout, retry, breaker, limiter, attempt timeout).
//! - `client_stack/miss_via_mock_router`: the miss path plus the adapter and mock-upstream's
//!   Router in-process (JSON both ways, the mock's fault engine), for scale.
//!
//! Overhead = a stack figure minus `upstream_only`.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{criterion_group, criterion_main, Criterion};
use gauntlet::client::{
    ChatRequest, ChatResponse, ChatService, ClientConfig, ClientError, ClientStack, Outcome,
};
use gauntlet::in_process::in_process_transport;
use mock_upstream::server::{router, MockOptions, MockState};
use tower::ServiceExt;

const EVERY_LAYER: &str = r#"
[filter]
enabled = true
terms = ["password", "secret"]
[context]
max_turns = 4
[fallback]
order = ["stale", "local"]
[cache]
ttl = "1h"
max_entries = 100000
stale_if_error = "1h"
[timeout]
attempt = "30s"
total = "60s"
[retry]
max_attempts = 3
budget_ratio = 0.1
[breaker]
min_calls = 1000
[limiter]
rate = "1000000000/s"
burst = 1000000
"#;

fn instant_upstream() -> ChatService {
    ChatService::new(tower::service_fn(|_req: ChatRequest| {
        std::future::ready(Ok::<_, ClientError>(ChatResponse::local(
            "answer",
            Outcome::Upstream,
        )))
    }))
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config: ClientConfig = toml::from_str(EVERY_LAYER).unwrap();
    let mut group = c.benchmark_group("client_stack");

    let bare = instant_upstream();
    group.bench_function("upstream_only", |b| {
        b.iter(|| {
            rt.block_on(
                bare.clone()
                    .oneshot(black_box(ChatRequest::user_text("m", "q"))),
            )
            .unwrap()
        })
    });

    let stack = ClientStack::builder(&config)
        .build_over(instant_upstream())
        .unwrap();
    rt.block_on(stack.send(ChatRequest::user_text("m", "cached question")))
        .unwrap();
    group.bench_function("cache_hit", |b| {
        b.iter(|| {
            let r = rt
                .block_on(stack.send(black_box(ChatRequest::user_text("m", "cached question"))))
                .unwrap();
            assert_eq!(r.outcome, Outcome::CacheHit);
        })
    });

    let n = AtomicU64::new(0);
    group.bench_function("miss", |b| {
        b.iter(|| {
            let i = n.fetch_add(1, Ordering::Relaxed);
            let r = rt
                .block_on(stack.send(black_box(ChatRequest::user_text(
                    "m",
                    format!("question {i}"),
                ))))
                .unwrap();
            assert_eq!(r.outcome, Outcome::Upstream);
        })
    });

    let mock = MockState::new(Default::default(), MockOptions::default());
    let via_mock = rt.block_on(async {
        ClientStack::builder(&config)
            .transport(in_process_transport(router(mock)))
            .build()
            .unwrap()
    });
    group.bench_function("miss_via_mock_router", |b| {
        b.iter(|| {
            let i = n.fetch_add(1, Ordering::Relaxed);
            let r = rt
                .block_on(via_mock.send(black_box(ChatRequest::user_text(
                    "m",
                    format!("question {i}"),
                ))))
                .unwrap();
            assert_eq!(r.outcome, Outcome::Upstream);
        })
    });
    group.finish();
}

#[allow(missing_docs)]
mod harness {
    use super::*;
    criterion_group!(benches, bench);
}
criterion_main!(harness::benches);
