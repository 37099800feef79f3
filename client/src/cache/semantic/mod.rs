//! `[client.cache.semantic]`: after an exact-key miss, an answer cached for a prompt that means
//! (nearly) the same — the cosine of the two prompts' embeddings at least `threshold` — is served
//! as [`Outcome::SemanticHit`] instead of asking the upstream.
//!
//! What is embedded is the **last user message** alone; everything else that shapes the answer
//! (model, route, system prompt and earlier turns, tools, response format, `max_tokens`,
//! temperature) must match exactly: it is hashed into the entry's scope with the exact cache's
//! key. So a paraphrased question hits only in the same conversation state. Proxied callers'
//! bodies (`passthrough`) and embeddings requests skip this layer.
//!
//! Embeddings come from the local function ([`local_embedding`], free) or the upstream's
//! `/v1/embeddings`, sent through the layers below the cache (limiter, retries, adapter), so
//! they take quota like any call; each is reported as [`Event::EmbeddingCall`].

mod embed;
mod index;

use std::sync::Arc;
use std::time::Duration;

use gauntlet_wire::duration::HumanDuration;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt};

pub use embed::{cosine, local_embedding, LOCAL_DIMENSIONS};
pub use index::{Match, SemanticIndex};

use super::key::cache_key_with;
use super::normalize::Folds;
use crate::layer_support::Inner;
use crate::observer::{Event, SharedObserver};
use crate::request::{ChatRequest, ChatResponse, Outcome, Route};

/// The most entries a semantic cache may keep: each holds a vector (up to
/// [`MAX_UPSTREAM_DIMENSIONS`] floats) and is scanned on every lookup.
pub const MAX_ENTRIES: usize = 100_000;

/// The longest upstream vector kept (`text-embedding-3-large`'s 3072, rounded up); a longer one
/// is treated as a failed embedding, so a hostile upstream cannot grow memory without bound.
pub const MAX_UPSTREAM_DIMENSIONS: usize = 4096;

/// Where prompt embeddings come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Embedder {
    /// [`local_embedding`]: free and deterministic, surface similarity only.
    #[default]
    Local,
    /// The upstream's `/v1/embeddings` with `model`: one call per lookup, against the quota.
    Upstream,
}

impl Embedder {
    /// Every embedder, for docs and reports.
    pub const ALL: [Embedder; 2] = [Embedder::Local, Embedder::Upstream];
}

/// `[client.cache.semantic]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SemanticConfig {
    /// `false` turns the semantic lookup off and keeps the exact cache.
    pub enabled: bool,
    /// Least cosine similarity served as a hit, in (0, 1]. The default 0.9 kept the false-hit
    /// rate of the local embedder on `scenarios/data/paraphrase-pairs.json` lowest for a useful
    /// hit rate (see `client/tests/semantic_pairs.rs`).
    pub threshold: f32,
    /// `local` or `upstream`.
    pub embedder: Embedder,
    /// The embeddings model asked with `embedder = "upstream"`.
    pub model: String,
    /// Most answers kept (at most [`MAX_ENTRIES`]); the oldest goes first. A lookup scans them.
    pub max_entries: usize,
    /// How long an answer is served; absent: the exact cache's `ttl`.
    pub ttl: Option<HumanDuration>,
}

impl Default for SemanticConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            threshold: 0.9,
            embedder: Embedder::Local,
            model: "text-embedding-3-small".into(),
            max_entries: 1_000,
            ttl: None,
        }
    }
}

/// A `[client.cache.semantic]` the stack refuses, with the key to fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvalidSemantic {
    /// Not a number in (0, 1].
    #[error("cache.semantic.threshold must be in (0, 1], got {0}")]
    Threshold(f32),
    /// Zero, or more than [`MAX_ENTRIES`].
    #[error("cache.semantic.max_entries must be 1..={MAX_ENTRIES}, got {0}")]
    MaxEntries(usize),
    /// A zero TTL would cache nothing.
    #[error("cache.semantic.ttl must be more than 0")]
    Ttl,
    /// `embedder = "upstream"` with no model to ask.
    #[error("cache.semantic.model must be set for embedder = \"upstream\"")]
    Model,
}

impl SemanticConfig {
    /// Checks every key; `exact_ttl` is the exact cache's, used when `ttl` is absent.
    pub fn validate(&self, exact_ttl: Duration) -> Result<Duration, InvalidSemantic> {
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return Err(InvalidSemantic::Threshold(self.threshold));
        }
        if self.max_entries == 0 || self.max_entries > MAX_ENTRIES {
            return Err(InvalidSemantic::MaxEntries(self.max_entries));
        }
        let ttl = self.ttl.map_or(exact_ttl, |t| t.0);
        if ttl.is_zero() {
            return Err(InvalidSemantic::Ttl);
        }
        if self.embedder == Embedder::Upstream && self.model.trim().is_empty() {
            return Err(InvalidSemantic::Model);
        }
        Ok(ttl)
    }
}

/// Adds the semantic lookup under the exact cache.
#[derive(Debug, Clone)]
pub struct SemanticLayer {
    config: Arc<SemanticConfig>,
    index: Arc<SemanticIndex>,
    folds: Folds,
    observer: SharedObserver,
}

impl SemanticLayer {
    /// A layer for `config` (checked against the exact cache's `exact_ttl`); `folds` are the
    /// exact cache's `normalize`, applied to the scope too.
    pub fn new(
        config: &SemanticConfig,
        exact_ttl: Duration,
        folds: Folds,
        observer: SharedObserver,
    ) -> Result<Self, InvalidSemantic> {
        let ttl = config.validate(exact_ttl)?;
        Ok(Self {
            config: Arc::new(config.clone()),
            index: Arc::new(SemanticIndex::new(config.max_entries, ttl)),
            folds,
            observer,
        })
    }

    /// The entries, for a dashboard's or a test's count.
    pub fn index(&self) -> &Arc<SemanticIndex> {
        &self.index
    }
}

impl<S> Layer<S> for SemanticLayer {
    type Service = Semantic<S>;
    fn layer(&self, inner: S) -> Semantic<S> {
        Semantic {
            inner,
            layer: self.clone(),
        }
    }
}

/// A service behind [`SemanticLayer`].
#[derive(Debug, Clone)]
pub struct Semantic<S> {
    inner: S,
    layer: SemanticLayer,
}

/// The scope (everything but the last user message, hashed) and that message's text; `None`
/// for a request this layer does not serve.
fn split(req: &ChatRequest, folds: Folds) -> Option<(super::CacheKey, String)> {
    if !req.route.completes() || req.passthrough.is_some() {
        return None;
    }
    let last = req
        .messages
        .iter()
        .rposition(|m| m.role.trim().eq_ignore_ascii_case("user"))?;
    let prompt = req.messages[last].text_ref().into_owned();
    let mut rest = ChatRequest {
        messages: Vec::with_capacity(req.messages.len() - 1),
        ..req.clone()
    };
    for (i, m) in req.messages.iter().enumerate() {
        if i != last {
            rest.messages.push(m.clone());
        }
    }
    // The turns after the user message (a tool's answer, say) are in the scope too.
    rest.messages.push(gauntlet_wire::openai::ChatMessage::new(
        "gauntlet:semantic",
        format!("{last}"),
    ));
    Some((cache_key_with(&rest, folds), prompt))
}

/// The prompt's embedding, or `None` when the upstream could not give one (the request then
/// goes on as a miss: the cache is an optimisation).
async fn embed<S: Inner>(
    layer: &SemanticLayer,
    inner: S,
    req: &ChatRequest,
    prompt: &str,
) -> Option<Vec<f32>> {
    match layer.config.embedder {
        Embedder::Local => Some(local_embedding(prompt)),
        Embedder::Upstream => {
            let ask = ChatRequest {
                route: Route::Embeddings,
                api_key: req.api_key.clone(),
                user: req.user.clone(),
                priority: req.priority,
                ..ChatRequest::user_text(layer.config.model.clone(), prompt)
            };
            let result = inner.oneshot(ask).await;
            let vector = result.ok().and_then(|mut r| r.embeddings.drain(..).next());
            let vector = vector.filter(|v| !v.is_empty() && v.len() <= MAX_UPSTREAM_DIMENSIONS);
            layer.observer.on_event(&Event::EmbeddingCall {
                ok: vector.is_some(),
            });
            vector.map(|mut v| {
                embed::normalise(&mut v);
                v
            })
        }
    }
}

impl<S: Inner> Service<ChatRequest> for Semantic<S> {
    always_ready_chat_service!();

    fn call(&mut self, req: ChatRequest) -> Self::Future {
        let inner = self.inner.clone();
        let layer = self.layer.clone();
        let Some((scope, prompt)) = split(&req, layer.folds) else {
            return Box::pin(inner.oneshot(req));
        };
        Box::pin(async move {
            let vector = embed(&layer, inner.clone(), &req, &prompt).await;
            if let Some(v) = &vector {
                let found = layer
                    .index
                    .find(scope, v, layer.config.threshold, Instant::now());
                if let Some(hit) = found {
                    return Ok(served(hit.response, &layer.observer));
                }
            }
            let resp = inner.oneshot(req).await?;
            if let (Some(v), Outcome::Upstream) = (vector, resp.outcome) {
                layer.index.insert(scope, v, resp.clone(), Instant::now());
            }
            Ok(resp)
        })
    }
}

fn served(mut resp: ChatResponse, observer: &SharedObserver) -> ChatResponse {
    resp.outcome = Outcome::SemanticHit;
    resp.ttft = None;
    observer.on_event(&Event::Served {
        outcome: Outcome::SemanticHit,
    });
    resp
}

#[cfg(test)]
mod tests;
