//! Fallback, in a configured order, when the upstream path fails, the breaker is open, the
//! limiter refuses or the quota is spent: a stale cache entry, a local template answer, a queue
//! that answers when capacity returns (within a max wait), or the error itself.
//!
//! Errors that are the caller's own (400, 401, a filtered prompt) are returned as they are:
//! a canned answer would hide a bug.

use std::sync::Arc;
use std::time::Duration;

use gauntlet_wire::duration::HumanDuration;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt};

use super::cache::{cache_key, ResponseCache};
use super::error::{ClientError, Rejection};
use super::layer_support::{deadline_after, Inner};
use super::observer::{Event, SharedObserver};
use super::request::{ChatRequest, ChatResponse, Outcome};

/// One step of the fallback order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FallbackStep {
    /// An expired cache entry within `stale_if_error`.
    Stale,
    /// The local template answer.
    Local,
    /// Try again until capacity returns, within `queue_max_wait`.
    Queue,
    /// Give up with the error.
    Error,
}

/// `[client.fallback]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FallbackConfig {
    /// `false` returns errors as they are.
    pub enabled: bool,
    /// Steps tried in order.
    pub order: Vec<FallbackStep>,
    /// The text the `local` step answers with.
    pub local_answer: String,
    /// Longest a queued request waits for capacity.
    pub queue_max_wait: HumanDuration,
    /// How often a queued request tries again.
    pub queue_retry_every: HumanDuration,
}

impl Default for FallbackConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            order: vec![FallbackStep::Stale, FallbackStep::Local],
            local_answer: "The assistant is busy right now. Please try again in a minute.".into(),
            queue_max_wait: HumanDuration(Duration::from_secs(30)),
            queue_retry_every: HumanDuration(Duration::from_secs(1)),
        }
    }
}

/// Whether a failure is one the fallback answers for: not a stream broken after content, whose
/// tokens the caller may already have shown (a fallback answer would silently replace them).
pub fn falls_back(e: &ClientError) -> bool {
    !matches!(e, ClientError::StreamBroken { .. }) && e.is_upstream_failure()
        || matches!(
            e,
            ClientError::QuotaExhausted
                | ClientError::Rejected(Rejection::BreakerOpen)
                | ClientError::Rejected(Rejection::LimiterFull)
        )
}

/// Adds the fallback; `cache` serves the `stale` step.
#[derive(Debug, Clone)]
pub struct FallbackLayer {
    config: Arc<FallbackConfig>,
    cache: Option<Arc<ResponseCache>>,
    observer: SharedObserver,
}

impl FallbackLayer {
    /// A fallback over `cache` (if the stack has one).
    pub fn new(
        config: FallbackConfig,
        cache: Option<Arc<ResponseCache>>,
        observer: SharedObserver,
    ) -> Self {
        Self {
            config: Arc::new(config),
            cache,
            observer,
        }
    }
}

impl<S> Layer<S> for FallbackLayer {
    type Service = Fallback<S>;
    fn layer(&self, inner: S) -> Fallback<S> {
        Fallback {
            inner,
            layer: self.clone(),
        }
    }
}

/// A service behind [`FallbackLayer`]: when the inner call fails in a way [`falls_back`] covers,
/// tries the configured steps in order.
#[derive(Debug, Clone)]
pub struct Fallback<S> {
    inner: S,
    layer: FallbackLayer,
}

impl<S: Inner> Service<ChatRequest> for Fallback<S> {
    always_ready_chat_service!();

    fn call(&mut self, req: ChatRequest) -> Self::Future {
        let inner = self.inner.clone();
        let layer = self.layer.clone();
        // Keep only what the configured steps need: the stale step the cache key, the queue
        // step the whole request.
        let order = &layer.config.order;
        let key = (layer.cache.is_some() && order.contains(&FallbackStep::Stale)).then(|| {
            layer
                .cache
                .as_ref()
                .map_or_else(|| cache_key(&req), |c| c.key(&req))
        });
        let kept = order.contains(&FallbackStep::Queue).then(|| req.clone());
        Box::pin(async move {
            let error = match inner.clone().oneshot(req).await {
                Ok(r) => return Ok(r),
                Err(e) if !falls_back(&e) => return Err(e),
                Err(e) => e,
            };
            let served = |resp: ChatResponse, outcome: Outcome| {
                layer.observer.on_event(&Event::Served { outcome });
                Ok(ChatResponse { outcome, ..resp })
            };
            for step in &layer.config.order {
                match step {
                    FallbackStep::Stale => {
                        let (Some(cache), Some(key)) = (&layer.cache, key) else {
                            continue;
                        };
                        if let Some(stale) = cache.stale(key, Instant::now()) {
                            return served(stale, Outcome::Stale);
                        }
                    }
                    FallbackStep::Local => {
                        return served(
                            ChatResponse::local(
                                layer.config.local_answer.clone(),
                                Outcome::Fallback,
                            ),
                            Outcome::Fallback,
                        );
                    }
                    FallbackStep::Queue => {
                        let Some(req) = &kept else { continue };
                        if let Some(resp) = queue(inner.clone(), req, &layer.config).await {
                            return served(resp, Outcome::Queued);
                        }
                    }
                    FallbackStep::Error => return Err(error),
                }
            }
            Err(error)
        })
    }
}

/// Tries again every `queue_retry_every` until an answer or `queue_max_wait`.
async fn queue<S>(inner: S, req: &ChatRequest, config: &FallbackConfig) -> Option<ChatResponse>
where
    S: Inner,
{
    let deadline = deadline_after(Instant::now(), config.queue_max_wait.0);
    loop {
        let next = deadline_after(Instant::now(), config.queue_retry_every.0);
        if next > deadline {
            return None;
        }
        tokio::time::sleep_until(next).await;
        match inner.clone().oneshot(req.clone()).await {
            Ok(resp) => return Some(resp),
            Err(e) if !falls_back(&e) => return None,
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::CacheConfig;
    use crate::observer::NoopObserver;
    use crate::testing::{Scripted, Step};

    fn layer(order: Vec<FallbackStep>, cache: Option<Arc<ResponseCache>>) -> FallbackLayer {
        let cfg = FallbackConfig {
            order,
            ..FallbackConfig::default()
        };
        FallbackLayer::new(cfg, cache, Arc::new(NoopObserver))
    }

    #[tokio::test(start_paused = true)]
    async fn stale_then_local_then_error() {
        let cache = Arc::new(ResponseCache::new(
            &CacheConfig {
                stale_if_error: Some(HumanDuration(Duration::from_secs(3600))),
                ..CacheConfig::default()
            },
            None,
        ));
        let q = ChatRequest::user_text("m", "known");
        cache.store(
            cache_key(&q),
            &ChatResponse::local("old", Outcome::Upstream),
            Instant::now(),
        );
        tokio::time::advance(Duration::from_secs(400)).await;
        let up = Scripted::with_default([], Step::status(503));
        let svc = layer(vec![FallbackStep::Stale, FallbackStep::Local], Some(cache)).layer(up);
        let r = svc.clone().oneshot(q).await.unwrap();
        assert_eq!((r.outcome, r.text.as_str()), (Outcome::Stale, "old"));
        let r = svc
            .clone()
            .oneshot(ChatRequest::user_text("m", "new"))
            .await
            .unwrap();
        assert_eq!(r.outcome, Outcome::Fallback);

        let up = Scripted::with_default([], Step::status(503));
        let svc = layer(vec![FallbackStep::Stale, FallbackStep::Error], None).layer(up);
        let e = svc
            .oneshot(ChatRequest::user_text("m", "x"))
            .await
            .unwrap_err();
        assert_eq!(e, ClientError::Server { status: 503 });
    }

    #[tokio::test(start_paused = true)]
    async fn caller_errors_are_not_papered_over() {
        let bad = ClientError::Client {
            status: 400,
            message: "bad".into(),
        };
        let up = Scripted::new([Step::err(bad.clone())]);
        let svc = layer(vec![FallbackStep::Local], None).layer(up);
        assert_eq!(
            svc.oneshot(ChatRequest::user_text("m", "x"))
                .await
                .unwrap_err(),
            bad
        );
    }

    #[tokio::test(start_paused = true)]
    async fn queue_answers_when_capacity_returns() {
        let up = Scripted::new([Step::status(503), Step::status(503), Step::status(503)]);
        let svc = layer(vec![FallbackStep::Queue, FallbackStep::Error], None).layer(up.clone());
        let t0 = Instant::now();
        let r = svc.oneshot(ChatRequest::user_text("m", "x")).await.unwrap();
        assert_eq!(r.outcome, Outcome::Queued);
        assert_eq!(t0.elapsed(), Duration::from_secs(3));
        assert_eq!(up.call_count(), 4);
    }
}
