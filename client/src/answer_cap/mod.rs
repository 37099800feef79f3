//! Load-aware answer length: when the upstream says its token quota is nearly spent, ask for
//! shorter answers (`max_tokens` capped), so the quota that is left serves more requests.
//!
//! The layer keeps the latest `x-ratelimit-*-tokens` view from the answers that pass it, shared
//! by every request, and caps a request's `max_tokens` by [`AnswerCapConfig::cap_at`] of the
//! share left; a caller's smaller `max_tokens` is kept. It sits outside the cache, so a capped
//! answer is cached under its own (capped) key and never served later to an uncapped request.

mod config;

use std::sync::Arc;

use tower::{Layer, Service, ServiceExt};

pub use config::{AnswerCapConfig, InvalidAnswerCap};

use crate::layer_support::Inner;
use crate::limiter::QuotaView;
use crate::observer::{Event, SharedObserver};
use crate::request::{ChatRequest, Outcome};

/// Adds the answer cap; services it builds share one quota view.
#[derive(Debug, Clone)]
pub struct AnswerCapLayer {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: AnswerCapConfig,
    view: QuotaView,
    observer: SharedObserver,
}

impl AnswerCapLayer {
    /// A layer that has seen no quota yet (so caps nothing until an answer reports one).
    pub fn new(
        config: AnswerCapConfig,
        observer: SharedObserver,
    ) -> Result<Self, InvalidAnswerCap> {
        config.validate()?;
        Ok(Self {
            shared: Arc::new(Shared {
                config,
                view: QuotaView::default(),
                observer,
            }),
        })
    }
}

impl<S> Layer<S> for AnswerCapLayer {
    type Service = AnswerCap<S>;
    fn layer(&self, inner: S) -> AnswerCap<S> {
        AnswerCap {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// A service behind [`AnswerCapLayer`].
#[derive(Debug, Clone)]
pub struct AnswerCap<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S: Inner> Service<ChatRequest> for AnswerCap<S> {
    always_ready_chat_service!();

    fn call(&mut self, mut req: ChatRequest) -> Self::Future {
        let inner = self.inner.clone();
        let shared = self.shared.clone();
        Box::pin(async move {
            let cap = if req.route.completes() {
                shared
                    .view
                    .tokens_left()
                    .and_then(|l| shared.config.cap_at(l))
            } else {
                None
            };
            if let Some(cap) = cap.filter(|c| req.max_tokens.is_none_or(|m| m > *c)) {
                shared.observer.on_event(&Event::AnswerCapped {
                    requested: req.max_tokens,
                    cap,
                });
                req.max_tokens = Some(cap);
            }
            let result = inner.oneshot(req).await;
            if let Ok(resp) = &result {
                if let Some(info) = resp
                    .rate_limit
                    .filter(|_| resp.outcome == Outcome::Upstream)
                {
                    shared.view.update(&info);
                }
            }
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limiter::fake::upstream;
    use crate::observer::CountingObserver;
    use std::time::Duration;

    fn req(max_tokens: Option<u32>) -> ChatRequest {
        let mut r = ChatRequest::user_text("m", "q");
        r.max_tokens = max_tokens;
        r
    }

    fn sent(seen: &crate::limiter::fake::Seen) -> Vec<Option<u32>> {
        seen.lock().unwrap().iter().map(|r| r.max_tokens).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn caps_once_the_quota_is_low_and_lifts_as_it_refills() {
        let obs = Arc::new(CountingObserver::default());
        let config = AnswerCapConfig {
            max_tokens: 64,
            ..AnswerCapConfig::default()
        };
        let layer = AnswerCapLayer::new(config, obs.clone()).unwrap();
        let (up, seen) = upstream(Outcome::Upstream, [500, 100, 100, 100, 900]);
        let svc = layer.layer(up);
        // Nothing seen yet, then 50 % left: neither is capped.
        svc.clone().oneshot(req(Some(500))).await.unwrap();
        svc.clone().oneshot(req(Some(500))).await.unwrap();
        // 10 % left: capped to 64; a caller's smaller 32 is kept.
        svc.clone().oneshot(req(None)).await.unwrap();
        svc.clone().oneshot(req(Some(32))).await.unwrap();
        // 10 % left 12 s ago: refilled to 28 %, above the threshold again.
        tokio::time::sleep(Duration::from_secs(12)).await;
        svc.clone().oneshot(req(Some(500))).await.unwrap();
        assert_eq!(
            sent(&seen),
            [Some(500), Some(500), Some(64), Some(32), Some(500)]
        );
        let capped: Vec<Event> = obs
            .events()
            .into_iter()
            .filter(|e| matches!(e, Event::AnswerCapped { .. }))
            .collect();
        assert_eq!(
            capped,
            [Event::AnswerCapped {
                requested: None,
                cap: 64
            }]
        );
        assert_eq!(CountingObserver::get(&obs.answers_capped), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn local_answers_and_embeddings_are_left_alone() {
        let noop = Arc::new(crate::observer::NoopObserver);
        // A cache hit's old figures say nothing about the quota now.
        let layer = AnswerCapLayer::new(AnswerCapConfig::default(), noop.clone()).unwrap();
        let (cached, seen) = upstream(Outcome::CacheHit, [0]);
        let svc = layer.layer(cached);
        svc.clone().oneshot(req(None)).await.unwrap();
        svc.clone().oneshot(req(None)).await.unwrap();
        assert_eq!(sent(&seen), [None, None]);
        // Embeddings have no answer to shorten.
        let layer = AnswerCapLayer::new(AnswerCapConfig::default(), noop).unwrap();
        let (up, seen) = upstream(Outcome::Upstream, [0]);
        let svc = layer.layer(up);
        svc.clone().oneshot(req(None)).await.unwrap();
        let mut emb = req(None);
        emb.route = crate::request::Route::Embeddings;
        svc.clone().oneshot(emb).await.unwrap();
        svc.clone().oneshot(req(None)).await.unwrap();
        assert_eq!(sent(&seen), [None, None, Some(128)]);
    }
}
