use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::error::ClientError;
use crate::observer::CountingObserver;
use crate::testing::Scripted;

fn layer(cfg: SemanticConfig) -> (SemanticLayer, Arc<CountingObserver>) {
    let obs = Arc::new(CountingObserver::default());
    let l = SemanticLayer::new(&cfg, Duration::from_secs(300), Folds::NONE, obs.clone()).unwrap();
    (l, obs)
}

async fn ask(svc: &Semantic<impl Inner>, text: &str) -> Outcome {
    svc.clone()
        .oneshot(ChatRequest::user_text("m", text))
        .await
        .unwrap()
        .outcome
}

#[tokio::test(start_paused = true)]
async fn a_paraphrase_hits_until_the_ttl_and_a_near_miss_does_not() {
    let (l, obs) = layer(SemanticConfig {
        ttl: Some(HumanDuration(Duration::from_secs(60))),
        threshold: 0.8,
        ..SemanticConfig::default()
    });
    let up = Scripted::default();
    let svc = l.layer(up.clone());
    assert_eq!(
        ask(&svc, "How do I reset my password?").await,
        Outcome::Upstream
    );
    assert_eq!(
        ask(&svc, "how can I reset the password").await,
        Outcome::SemanticHit
    );
    assert_eq!(
        ask(&svc, "How do I change my email address?").await,
        Outcome::Upstream
    );
    assert_eq!(up.call_count(), 2);
    assert_eq!(CountingObserver::get(&obs.served_locally), 1);
    tokio::time::advance(Duration::from_secs(60)).await;
    assert_eq!(
        ask(&svc, "how can I reset the password").await,
        Outcome::Upstream
    );
    assert_eq!(up.call_count(), 3);
}

#[tokio::test(start_paused = true)]
async fn another_model_or_system_prompt_is_another_scope() {
    let (l, _) = layer(SemanticConfig::default());
    let up = Scripted::default();
    let svc = l.layer(up.clone());
    assert_eq!(ask(&svc, "reset my password").await, Outcome::Upstream);
    let other_model = ChatRequest::user_text("m2", "reset my password");
    let r = svc.clone().oneshot(other_model).await.unwrap();
    assert_eq!(r.outcome, Outcome::Upstream);
    let mut with_system = ChatRequest::user_text("m", "reset my password");
    with_system.messages.insert(
        0,
        gauntlet_wire::openai::ChatMessage::new("system", "You are a pirate."),
    );
    let r = svc.clone().oneshot(with_system).await.unwrap();
    assert_eq!(r.outcome, Outcome::Upstream);
    assert_eq!(ask(&svc, "reset my password").await, Outcome::SemanticHit);
    assert_eq!(up.call_count(), 3);
}

#[tokio::test(start_paused = true)]
async fn errors_are_not_stored() {
    let (l, _) = layer(SemanticConfig::default());
    let up = Scripted::new([crate::testing::Step::status(503)]);
    let svc = l.layer(up.clone());
    let r = svc
        .clone()
        .oneshot(ChatRequest::user_text("m", "reset my password"))
        .await;
    assert!(r.is_err());
    assert_eq!(ask(&svc, "reset my password").await, Outcome::Upstream);
    assert!(l.index().len() == 1);
}

/// An upstream that answers embeddings with a vector from the local function and chats with
/// "answer", counting each kind.
#[derive(Clone, Default)]
struct Upstream {
    embeddings: Arc<AtomicUsize>,
    chats: Arc<AtomicUsize>,
    broken: bool,
}

impl Service<ChatRequest> for Upstream {
    always_ready_chat_service!();
    fn call(&mut self, req: ChatRequest) -> Self::Future {
        let me = self.clone();
        Box::pin(async move {
            if req.route == Route::Embeddings {
                me.embeddings.fetch_add(1, Ordering::Relaxed);
                if me.broken {
                    return Err(ClientError::Server { status: 500 });
                }
                let mut r = ChatResponse::local("", Outcome::Upstream);
                let v: Vec<f32> = local_embedding(&req.messages[0].text_ref())
                    .iter()
                    .map(|x| x * 3.0)
                    .collect();
                r.embeddings = vec![v];
                return Ok(r);
            }
            me.chats.fetch_add(1, Ordering::Relaxed);
            Ok(ChatResponse::local("answer", Outcome::Upstream))
        })
    }
}

#[tokio::test(start_paused = true)]
async fn the_upstream_embedder_calls_the_inner_service_and_reports_each_call() {
    let (l, obs) = layer(SemanticConfig {
        embedder: Embedder::Upstream,
        ..SemanticConfig::default()
    });
    let up = Upstream::default();
    let svc = l.layer(up.clone());
    assert_eq!(
        ask(&svc, "How do I reset my password?").await,
        Outcome::Upstream
    );
    assert_eq!(
        ask(&svc, "how do I reset my password").await,
        Outcome::SemanticHit
    );
    assert_eq!(up.embeddings.load(Ordering::Relaxed), 2);
    assert_eq!(up.chats.load(Ordering::Relaxed), 1);
    let calls = obs
        .events()
        .iter()
        .filter(|e| **e == Event::EmbeddingCall { ok: true })
        .count();
    assert_eq!(calls, 2);
}

#[tokio::test(start_paused = true)]
async fn a_failed_upstream_embedding_is_a_miss_not_an_error() {
    let (l, obs) = layer(SemanticConfig {
        embedder: Embedder::Upstream,
        ..SemanticConfig::default()
    });
    let up = Upstream {
        broken: true,
        ..Upstream::default()
    };
    let svc = l.layer(up.clone());
    assert_eq!(ask(&svc, "reset my password").await, Outcome::Upstream);
    assert_eq!(ask(&svc, "reset my password").await, Outcome::Upstream);
    assert_eq!(up.chats.load(Ordering::Relaxed), 2);
    assert!(obs.events().contains(&Event::EmbeddingCall { ok: false }));
}

#[test]
fn hostile_values_are_refused() {
    let exact = Duration::from_secs(300);
    for t in [0.0, -0.5, 1.01, f32::NAN, f32::INFINITY] {
        let c = SemanticConfig {
            threshold: t,
            ..SemanticConfig::default()
        };
        assert!(
            matches!(c.validate(exact), Err(InvalidSemantic::Threshold(_))),
            "{t}"
        );
    }
    for n in [0, MAX_ENTRIES + 1] {
        let c = SemanticConfig {
            max_entries: n,
            ..SemanticConfig::default()
        };
        assert_eq!(c.validate(exact), Err(InvalidSemantic::MaxEntries(n)));
    }
    let c = SemanticConfig {
        ttl: Some(HumanDuration(Duration::ZERO)),
        ..SemanticConfig::default()
    };
    assert_eq!(c.validate(exact), Err(InvalidSemantic::Ttl));
    let c = SemanticConfig {
        embedder: Embedder::Upstream,
        model: " ".into(),
        ..SemanticConfig::default()
    };
    assert_eq!(c.validate(exact), Err(InvalidSemantic::Model));
    assert_eq!(SemanticConfig::default().validate(exact), Ok(exact));
    let e = toml::from_str::<SemanticConfig>("treshold = 0.9").unwrap_err();
    assert!(e.to_string().contains("treshold"), "{e}");
}
