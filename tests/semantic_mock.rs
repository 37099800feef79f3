//! The semantic cache through the whole stack against the real mock, over HTTP on 127.0.0.1
//! and in simulation (the in-process transport): a paraphrase is answered without a chat call
//! reaching the mock, a near miss is not, and with `embedder = "upstream"` every lookup is an
//! embeddings call that the mock sees (`/_mock/stats`) and the observer counts.

mod common;

use std::sync::Arc;

use common::mock;
use gauntlet::client::transport::Transport;
use gauntlet::client::{ChatRequest, ClientConfig, ClientStack, CountingObserver, Outcome};
use mock_upstream::server::{MockOptions, MockState};
use serde_json::Value;

const CHAT: &str = "/v1/chat/completions";
const EMBEDDINGS: &str = "/v1/embeddings";

fn config(embedder: &str) -> ClientConfig {
    toml::from_str(&format!(
        "[cache]\n[cache.semantic]\nembedder = \"{embedder}\"\nthreshold = 0.9\n"
    ))
    .expect("valid client config")
}

/// Asks a question, its paraphrase (other case and punctuation, which the exact key keeps
/// apart) and a near miss (another object); the outcomes in order.
async fn ask_three(stack: &ClientStack) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for text in [
        "How do I reset my password?",
        "how do I reset my password",
        "How do I reset my username?",
    ] {
        let r = stack
            .send(ChatRequest::user_text("gpt-4o-mini", text))
            .await
            .unwrap();
        assert!(!r.text.is_empty());
        outcomes.push(r.outcome);
    }
    outcomes
}

fn count(by_route: &Value, route: &str) -> u64 {
    by_route[route].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn over_http_a_paraphrase_skips_the_mock_and_embeddings_are_counted() {
    let m = mock("").await;
    let mut c = config("upstream");
    c.adapter.base_url = m.url.clone();
    let obs = Arc::new(CountingObserver::default());
    let stack = ClientStack::builder(&c)
        .observer(obs.clone())
        .build()
        .unwrap();
    let outcomes = ask_three(&stack).await;
    assert_eq!(
        outcomes,
        [Outcome::Upstream, Outcome::SemanticHit, Outcome::Upstream]
    );
    let stats: Value = reqwest::get(format!("{}/_mock/stats", m.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let by_route = &stats["by_route"];
    assert_eq!(count(by_route, CHAT), 2, "{stats}");
    assert_eq!(count(by_route, EMBEDDINGS), 3, "{stats}");
    assert_eq!(CountingObserver::get(&obs.embedding_calls), 3);
    // Each embeddings call is an upstream attempt: it spends quota like any request.
    assert_eq!(CountingObserver::get(&obs.attempts), 5);
}

#[tokio::test]
async fn the_local_embedder_makes_no_embeddings_call() {
    let m = mock("").await;
    let mut c = config("local");
    c.adapter.base_url = m.url.clone();
    let obs = Arc::new(CountingObserver::default());
    let stack = ClientStack::builder(&c)
        .observer(obs.clone())
        .build()
        .unwrap();
    assert_eq!(
        ask_three(&stack).await,
        [Outcome::Upstream, Outcome::SemanticHit, Outcome::Upstream]
    );
    let stats = m.state.stats();
    assert_eq!(stats.by_route.get(CHAT).copied(), Some(2));
    assert_eq!(stats.by_route.get(EMBEDDINGS).copied(), None);
    assert_eq!(CountingObserver::get(&obs.embedding_calls), 0);
}

#[tokio::test(start_paused = true)]
async fn in_simulation_the_upstream_embedder_goes_through_the_in_process_mock() {
    let state = MockState::new(
        mock_upstream::faults::parse_toml("", "test.toml").unwrap(),
        MockOptions::default(),
    );
    let transport: Transport =
        gauntlet::in_process::in_process_transport(mock_upstream::server::router(state.clone()));
    let mut c = config("upstream");
    c.adapter.base_url = "http://in-process".into();
    let stack = ClientStack::builder(&c)
        .transport(transport)
        .build()
        .unwrap();
    assert_eq!(
        ask_three(&stack).await,
        [Outcome::Upstream, Outcome::SemanticHit, Outcome::Upstream]
    );
    let stats = state.stats();
    assert_eq!(stats.by_route.get(CHAT).copied(), Some(2));
    assert_eq!(stats.by_route.get(EMBEDDINGS).copied(), Some(3));
}
