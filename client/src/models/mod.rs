//! A model fallback chain: when the preferred model is rate-limited (a 429 the retries did not
//! get past) or out of quota, the request is asked of the next model in `chain` (cheaper, or on
//! another free tier), and the answer is marked [`Outcome::Degraded`] with the model that gave
//! it in the request's [`Trace::answered_by`](crate::Trace::answered_by).
//!
//! In the stack it sits outside the retries (each model gets its retries before the chain moves
//! on) and inside the total timeout and the cache (the cache keeps the answer under the model
//! the caller asked for, marked degraded).

use std::collections::HashSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tower::{Layer, Service, ServiceExt};

use super::error::ClientError;
use super::layer_support::Inner;
use super::observer::{Event, SharedObserver};
use super::request::{ChatRequest, Outcome};

/// The most models a chain holds.
pub const MAX_CHAIN: usize = 32;

/// `[client.models]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelsConfig {
    /// `false` asks only the model the request names.
    pub enabled: bool,
    /// Models in order of preference. A request naming one of them falls back to the ones after
    /// it; a request naming another model falls back to the whole chain.
    pub chain: Vec<String>,
}

impl Default for ModelsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            chain: Vec::new(),
        }
    }
}

/// Why a `[client.models]` table cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvalidModels {
    /// No models, or one: nothing to fall back to.
    #[error("models.chain needs at least two models to fall back between")]
    TooShort,
    /// More than [`MAX_CHAIN`].
    #[error("models.chain lists {0} models, more than {MAX_CHAIN}")]
    TooLong(usize),
    /// An empty name.
    #[error("models.chain[{0}] is empty")]
    EmptyModel(usize),
    /// A model twice, which would be asked twice.
    #[error("models.chain: {0:?} is listed twice")]
    Duplicate(String),
}

impl ModelsConfig {
    /// Checks the chain a config file may get wrong.
    pub fn validate(&self) -> Result<(), InvalidModels> {
        if self.chain.len() < 2 {
            return Err(InvalidModels::TooShort);
        }
        if self.chain.len() > MAX_CHAIN {
            return Err(InvalidModels::TooLong(self.chain.len()));
        }
        let mut seen = HashSet::new();
        for (i, m) in self.chain.iter().enumerate() {
            if m.trim().is_empty() {
                return Err(InvalidModels::EmptyModel(i));
            }
            if !seen.insert(m.as_str()) {
                return Err(InvalidModels::Duplicate(m.clone()));
            }
        }
        Ok(())
    }

    /// The models to try for a request naming `model`, in order, `model` first.
    fn order(&self, model: &str) -> Vec<Arc<str>> {
        let rest = match self.chain.iter().position(|m| m == model) {
            Some(p) => &self.chain[p + 1..],
            None => &self.chain[..],
        };
        std::iter::once(model)
            .chain(rest.iter().map(String::as_str))
            .map(Arc::from)
            .collect()
    }
}

/// Whether an error means the model is out of capacity for now, so another model may answer.
pub fn degrades(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::RateLimited { .. } | ClientError::QuotaExhausted
    )
}

/// Adds the chain.
#[derive(Debug, Clone)]
pub struct ModelChainLayer {
    config: Arc<ModelsConfig>,
    observer: SharedObserver,
}

impl ModelChainLayer {
    /// Checks `config`.
    pub fn new(config: &ModelsConfig, observer: SharedObserver) -> Result<Self, InvalidModels> {
        config.validate()?;
        Ok(Self {
            config: Arc::new(config.clone()),
            observer,
        })
    }
}

impl<S> Layer<S> for ModelChainLayer {
    type Service = ModelChain<S>;
    fn layer(&self, inner: S) -> ModelChain<S> {
        ModelChain {
            inner,
            layer: self.clone(),
        }
    }
}

/// A service behind [`ModelChainLayer`]: asks the next model when one is out of capacity.
#[derive(Debug, Clone)]
pub struct ModelChain<S> {
    inner: S,
    layer: ModelChainLayer,
}

impl<S: Inner> Service<ChatRequest> for ModelChain<S> {
    always_ready_chat_service!();

    fn call(&mut self, req: ChatRequest) -> Self::Future {
        let inner = self.inner.clone();
        let layer = self.layer.clone();
        Box::pin(async move {
            let order = layer.config.order(&req.model);
            let mut error = None;
            for (i, model) in order.iter().enumerate() {
                let mut ask = req.clone();
                ask.model = model.to_string();
                match inner.clone().oneshot(ask).await {
                    Ok(mut resp) => {
                        if i > 0 {
                            layer.observer.on_event(&Event::Degraded {
                                from: order[0].clone(),
                                to: model.clone(),
                            });
                            req.trace.set_answered_by(model);
                            if resp.outcome == Outcome::Upstream {
                                resp.outcome = Outcome::Degraded;
                            }
                        }
                        return Ok(resp);
                    }
                    Err(e) if degrades(&e) => error = Some(e),
                    Err(e) => return Err(e),
                }
            }
            Err(error.unwrap_or(ClientError::QuotaExhausted))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observer::CountingObserver;
    use crate::request::ChatResponse;

    fn chain(models: &[&str]) -> ModelsConfig {
        ModelsConfig {
            enabled: true,
            chain: models.iter().map(|m| m.to_string()).collect(),
        }
    }

    #[test]
    fn bad_chains_are_refused() {
        assert_eq!(chain(&["a"]).validate(), Err(InvalidModels::TooShort));
        assert_eq!(
            chain(&["a", ""]).validate(),
            Err(InvalidModels::EmptyModel(1))
        );
        assert_eq!(
            chain(&["a", "b", "a"]).validate(),
            Err(InvalidModels::Duplicate("a".into()))
        );
        let long: Vec<String> = (0..=MAX_CHAIN).map(|i| format!("m{i}")).collect();
        let refs: Vec<&str> = long.iter().map(String::as_str).collect();
        assert_eq!(
            chain(&refs).validate(),
            Err(InvalidModels::TooLong(MAX_CHAIN + 1))
        );
        let e = toml::from_str::<ModelsConfig>("chains = []").unwrap_err();
        assert!(e.to_string().contains("chains"), "{e}");
    }

    #[test]
    fn the_order_starts_at_the_model_asked_for() {
        let c = chain(&["big", "mid", "small"]);
        let names = |m: &str| c.order(m).iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(names("mid"), ["mid", "small"]);
        assert_eq!(names("other"), ["other", "big", "mid", "small"]);
    }

    /// An inner service where the named models are out of quota or rate-limited.
    fn upstream(
        busy: &'static [(&'static str, ClientError)],
    ) -> impl Inner<Future = crate::ChatFuture> {
        tower::service_fn(move |req: ChatRequest| {
            let err = busy
                .iter()
                .find(|(m, _)| *m == req.model)
                .map(|(_, e)| e.clone());
            Box::pin(async move {
                match err {
                    Some(e) => Err(e),
                    None => Ok(ChatResponse::local(req.model, Outcome::Upstream)),
                }
            }) as crate::ChatFuture
        })
    }

    #[tokio::test(start_paused = true)]
    async fn an_exhausted_model_degrades_to_the_next_and_is_marked() {
        static BUSY: [(&str, ClientError); 2] = [
            ("big", ClientError::QuotaExhausted),
            ("mid", ClientError::RateLimited { retry_after: None }),
        ];
        let obs = Arc::new(CountingObserver::default());
        let layer = ModelChainLayer::new(&chain(&["big", "mid", "small"]), obs.clone()).unwrap();
        let req = ChatRequest::user_text("big", "hi");
        let trace = req.trace.clone();
        let resp = layer.layer(upstream(&BUSY)).oneshot(req).await.unwrap();
        assert_eq!(resp.outcome, Outcome::Degraded);
        assert_eq!(resp.text, "small");
        assert_eq!(trace.answered_by().as_deref(), Some("small"));
        assert_eq!(
            obs.events(),
            [Event::Degraded {
                from: "big".into(),
                to: "small".into()
            }]
        );
        // The preferred model answering is not degraded.
        let resp = layer
            .layer(upstream(&[]))
            .oneshot(ChatRequest::user_text("big", "hi"))
            .await
            .unwrap();
        assert_eq!(resp.outcome, Outcome::Upstream);
    }

    #[tokio::test(start_paused = true)]
    async fn other_errors_and_an_exhausted_chain_end_the_request() {
        static ALL_BUSY: [(&str, ClientError); 2] = [
            ("a", ClientError::QuotaExhausted),
            ("b", ClientError::RateLimited { retry_after: None }),
        ];
        static BROKEN: [(&str, ClientError); 1] = [("a", ClientError::Server { status: 500 })];
        let layer =
            ModelChainLayer::new(&chain(&["a", "b"]), Arc::new(CountingObserver::default()))
                .unwrap();
        let e = layer
            .layer(upstream(&ALL_BUSY))
            .oneshot(ChatRequest::user_text("a", "hi"))
            .await
            .unwrap_err();
        assert_eq!(e, ClientError::RateLimited { retry_after: None });
        let e = layer
            .layer(upstream(&BROKEN))
            .oneshot(ChatRequest::user_text("a", "hi"))
            .await
            .unwrap_err();
        assert_eq!(e, ClientError::Server { status: 500 });
    }
}
