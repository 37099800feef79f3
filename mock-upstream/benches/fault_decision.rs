//! Cost of one fault decision: the work the mock adds to every request before any I/O.
//!
//! `cargo bench -p mock-upstream --bench fault_decision`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use mock_upstream::faults::engine::{RequestInfo, Route};
use mock_upstream::faults::{parse_toml, FaultEngine};
use tokio::time::Instant;

fn engine(toml: &str) -> FaultEngine {
    FaultEngine::new(parse_toml(toml, "bench").unwrap(), Some(1), Instant::now())
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("fault_decision");
    let req = RequestInfo {
        route: Route::ChatCompletions,
        api_key: Some("sk-bench"),
        model: "gpt-4o-mini",
        prompt_tokens: 40,
        prompt_hash: 0xfeed,
        max_tokens: Some(64),
        queued: 0,
    };
    let t0 = Instant::now();
    let mut step = 0u64;

    let mut bare = engine("");
    group.bench_function("no_faults", |b| {
        b.iter(|| black_box(bare.decide(t0, black_box(&req))))
    });

    let mut limits = engine(
        "[limits]\nrequests_per_minute = 100000000\ntokens_per_minute = 1000000000\nrequests_per_day = 1000000000",
    );
    group.bench_function("limits_on", |b| {
        b.iter(|| {
            step += 1;
            black_box(limits.decide(t0 + Duration::from_micros(step), black_box(&req)))
        })
    });

    // The canonical file with limits raised so every request runs the whole path (buckets,
    // timeline, failures, latency and spike draws), and the bench key accepted.
    let canonical = "accept_unknown_keys = true\n".to_string()
        + &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/faults/canonical.toml"
        ))
        .unwrap()
        .replace(
            "requests_per_minute = 60",
            "requests_per_minute = 100000000",
        )
        .replace("requests_per_day = 5000", "requests_per_day = 1000000000")
        .replace(
            "tokens_per_minute = 40000",
            "tokens_per_minute = 1000000000",
        );
    let mut full = engine(&canonical);
    group.bench_function("canonical", |b| {
        b.iter(|| {
            step += 1;
            black_box(full.decide(t0 + Duration::from_micros(step), black_box(&req)))
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
