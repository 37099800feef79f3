//! What a semantic-cache lookup costs: embedding a prompt with the local embedder, and scanning
//! the index (one 256-float dot product per entry of the scope) at 1 000 and 10 000 entries.
//! The scan is linear, so its cost is proportional to `max_entries`.
//!
//! `cargo bench --bench semantic_lookup`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use gauntlet::client::cache::semantic::{local_embedding, SemanticIndex};
use gauntlet::client::{ChatResponse, Outcome};
use tokio::time::Instant;

fn embed(c: &mut Criterion) {
    c.bench_function("semantic/local_embedding", |b| {
        b.iter(|| {
            local_embedding(black_box(
                "How do I change the delivery address of my order?",
            ))
        })
    });
}

fn lookup(c: &mut Criterion) {
    let now = Instant::now();
    for n in [1_000usize, 10_000] {
        let idx = SemanticIndex::new(n, Duration::from_secs(3600));
        for i in 0..n {
            let v = local_embedding(&format!("question number {i} about topic {}", i * 7));
            idx.insert(1, v, ChatResponse::local("a", Outcome::Upstream), now);
        }
        let probe = local_embedding("a question nobody asked before");
        c.bench_function(&format!("semantic/find_{n}"), |b| {
            b.iter(|| idx.find(1, black_box(&probe), 0.9, now))
        });
    }
}

#[allow(missing_docs)]
mod harness {
    use super::*;
    criterion_group!(benches, embed, lookup);
}

criterion_main!(harness::benches);
