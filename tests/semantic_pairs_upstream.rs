//! The shipped labelled pairs (`scenarios/data/paraphrase-pairs.json`) embedded by the mock's
//! `/v1/embeddings` (through the stack and the in-process transport, as `embedder = "upstream"`
//! asks): hit and false-hit rates per threshold, to compare with the local embedder's
//! (`client/tests/semantic_pairs.rs`). The mock's vectors are a hashed sketch of words and
//! letter trigrams (mock-upstream/src/embedding.rs): surface closeness, not meaning, so they
//! say how the cache behaves, not how a real embeddings model would.
//!
//! `cargo test --test semantic_pairs_upstream -- --nocapture`

use gauntlet::client::{ChatRequest, ClientConfig, ClientStack, Route};
use mock_upstream::server::{MockOptions, MockState};
use serde::Deserialize;

#[derive(Deserialize)]
struct Pairs {
    pairs: Vec<Pair>,
}

#[derive(Deserialize)]
struct Pair {
    a: String,
    b: String,
    paraphrase: bool,
}

const THRESHOLDS: [f32; 12] = [
    0.60, 0.65, 0.70, 0.75, 0.80, 0.85, 0.88, 0.90, 0.92, 0.94, 0.96, 0.98,
];

async fn embed(stack: &ClientStack, text: &str) -> Vec<f32> {
    let req = ChatRequest {
        route: Route::Embeddings,
        ..ChatRequest::user_text("text-embedding-3-small", text)
    };
    let mut r = stack.send(req).await.expect("an embedding");
    r.embeddings.remove(0)
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

#[tokio::test(start_paused = true)]
async fn prints_the_mock_embedders_table() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/data/paraphrase-pairs.json"
    ))
    .unwrap();
    let pairs: Pairs = serde_json::from_str(&text).unwrap();
    let state = MockState::new(
        mock_upstream::faults::parse_toml("", "test.toml").unwrap(),
        MockOptions::default(),
    );
    let mut c: ClientConfig = toml::from_str("").unwrap();
    c.adapter.base_url = "http://in-process".into();
    let stack = ClientStack::builder(&c)
        .transport(gauntlet::in_process::in_process_transport(
            mock_upstream::server::router(state.clone()),
        ))
        .build()
        .unwrap();
    let mut scored = Vec::new();
    for p in &pairs.pairs {
        let s = cosine(&embed(&stack, &p.a).await, &embed(&stack, &p.b).await);
        scored.push((p.paraphrase, s));
    }
    // Every pair went to the mock: two embeddings calls each.
    let calls = state.stats().by_route.get("/v1/embeddings").copied();
    assert_eq!(calls, Some(2 * pairs.pairs.len() as u64));
    println!("| threshold | hit rate (paraphrases) | false-hit rate (near misses) |");
    println!("|---|---|---|");
    let share = |para: bool, t: f32| {
        let of: Vec<_> = scored.iter().filter(|(p, _)| *p == para).collect();
        of.iter().filter(|(_, s)| *s >= t).count() as f64 / of.len() as f64
    };
    for t in THRESHOLDS {
        println!(
            "| {t:.2} | {:.1} % | {:.1} % |",
            share(true, t) * 100.0,
            share(false, t) * 100.0
        );
    }
    // The vectors are surface sketches: a pair differing in case and punctuation only is the
    // same vector, and the word-order near misses are as close as paraphrases.
    let same = cosine(
        &embed(&stack, "HOW DO I RESET MY PASSWORD").await,
        &embed(&stack, "how do i reset my password?").await,
    );
    assert!(same > 0.999, "{same}");
}
