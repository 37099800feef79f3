//! `ClientStack::from_config`: the layers in their documented order.
//!
//! From the caller inwards: filter → context → fallback → answer cap → cache → total timeout →
//! model chain → retry → key pool → breaker → limiter → attempt timeout → adapter → transport.
//! So a filtered prompt never leaves;
//! history is part of the cache key; the fallback sees every failure, timeouts included; a cache
//! hit skips everything below it; each retry passes the breaker and the limiter again (a retry
//! costs quota like any request); the attempt timeout bounds one upstream call.

use std::sync::Arc;

use super::chat_service::ChatService;
use tower::{Layer, ServiceExt};

use super::adapter::Adapter;
use super::answer_cap::{AnswerCapLayer, InvalidAnswerCap};
use super::breaker::{BreakerLayer, InvalidBreaker};
#[cfg(feature = "redis")]
use super::cache::RedisL2;
use super::cache::{CacheLayer, L2Store, ResponseCache};
use super::config::ClientConfig;
use super::context::ContextLayer;
use super::error::{ClientError, TimeoutScope};
use super::fallback::FallbackLayer;
use super::filter::{FilterLayer, InvalidFilter};
use super::limiter::{InvalidLimiter, LimiterLayer};
use super::models::{InvalidModels, ModelChainLayer};
use super::observer::{BreakerState, NoopObserver, SharedObserver};
use super::pool::{InvalidPool, PoolLayer};
use super::request::{ChatRequest, ChatResponse, Trace};
use super::retry::{InvalidRetry, RetryLayer};
use super::timeout::TimeoutLayer;
use super::transport::{
    http_transport, HttpTransportConfig, RootsError, Transport, TransportError,
};

/// Why a stack could not be built; each variant names the table to fix.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// `[client.retry]`.
    #[error(transparent)]
    Retry(#[from] InvalidRetry),
    /// `[client.breaker]`.
    #[error(transparent)]
    Breaker(#[from] InvalidBreaker),
    /// `[client.limiter]`.
    #[error(transparent)]
    Limiter(#[from] InvalidLimiter),
    /// `[client.filter]`.
    #[error(transparent)]
    Filter(#[from] InvalidFilter),
    /// `[client.answer_cap]`.
    #[error(transparent)]
    AnswerCap(#[from] InvalidAnswerCap),
    /// The default HTTP transport could not be built.
    #[error("transport: {0}")]
    Transport(#[from] TransportError),
    /// `[client.cache.semantic]`.
    #[error(transparent)]
    Semantic(#[from] super::cache::semantic::InvalidSemantic),
    /// `[client.cache.redis]`.
    #[error("cache: {0}")]
    CacheRedis(#[from] crate::shared_store::InvalidRedis),
    /// `[client.transport] ca_file` (or the proxy's `upstream_ca`): unreadable or not certificates.
    #[error("transport: {0}")]
    Roots(#[from] RootsError),
    /// `[client.pool]`.
    #[error(transparent)]
    Pool(#[from] InvalidPool),
    /// `[client.models]`.
    #[error(transparent)]
    Models(#[from] InvalidModels),
}

/// A built client stack, with handles on the layers a dashboard wants to watch.
#[derive(Debug, Clone)]
pub struct ClientStack {
    /// The layers, outermost first; [`ClientStack::send`] adds the trace to the answer.
    service: ChatService,
    breaker: Option<BreakerLayer>,
    limiter: Option<LimiterLayer>,
    cache: Option<Arc<ResponseCache>>,
    adapter: Option<Adapter>,
}

/// Builds a [`ClientStack`] with a transport, seed, observer or L2 store other than the
/// defaults (HTTP to `adapter.base_url`, seed 0, no observer, no L2).
#[derive(Debug)]
pub struct StackBuilder<'a> {
    config: &'a ClientConfig,
    transport: Option<Transport>,
    seed: u64,
    observer: SharedObserver,
    l2: Option<Arc<dyn L2Store>>,
}

impl<'a> StackBuilder<'a> {
    /// Use this transport (for example the in-process one).
    pub fn transport(mut self, t: Transport) -> Self {
        self.transport = Some(t);
        self
    }

    /// Seed of every random draw in the stack (jitter).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Receives every layer's events; without one they are dropped.
    pub fn observer(mut self, o: SharedObserver) -> Self {
        self.observer = o;
        self
    }

    /// A second-level cache store to use instead of the one `[client.cache.redis]` would open (an
    /// in-memory one for a simulation, say).
    pub fn l2(mut self, l2: Arc<dyn L2Store>) -> Self {
        self.l2 = Some(l2);
        self
    }

    /// Builds the layers over the adapter and the transport.
    pub fn build(mut self) -> Result<ClientStack, StackError> {
        let transport = match self.transport.take() {
            Some(t) => t,
            None => http_transport(&HttpTransportConfig {
                http2_only: self.config.adapter.http2,
                extra_roots: self.config.extra_roots()?,
                ..HttpTransportConfig::default()
            })?,
        };
        let adapter = Adapter::new(
            transport,
            self.config.adapter.clone(),
            self.observer.clone(),
        );
        let mut stack = self.build_over(ChatService::new(adapter.clone()))?;
        stack.adapter = Some(adapter);
        Ok(stack)
    }

    /// Builds the layers over any innermost service instead of the adapter (benchmarks measure
    /// the layers' own cost this way; a library user can put the stack over their own client).
    pub fn build_over(self, inner: ChatService) -> Result<ClientStack, StackError> {
        let cfg = self.config;
        let obs = self.observer;
        let timeout = cfg.timeout.as_ref().filter(|t| t.enabled);

        let mut svc = inner;
        if let Some(d) = timeout.and_then(|t| t.attempt) {
            svc = ChatService::new(TimeoutLayer::new(d.0, TimeoutScope::Attempt).layer(svc));
        }
        let mut limiter = None;
        if let Some(c) = cfg.limiter.as_ref().filter(|c| c.enabled) {
            let l = LimiterLayer::new(c.clone(), obs.clone())?;
            svc = ChatService::new(l.layer(svc));
            limiter = Some(l);
        }
        let mut breaker = None;
        if let Some(c) = cfg.breaker.as_ref().filter(|c| c.enabled) {
            let b = BreakerLayer::new(c, obs.clone())?;
            svc = ChatService::new(b.layer(svc));
            breaker = Some(b);
        }
        if let Some(c) = cfg.pool.as_ref().filter(|c| c.enabled) {
            svc = ChatService::new(PoolLayer::new(c, obs.clone())?.layer(svc));
        }
        if let Some(c) = cfg.retry.as_ref().filter(|c| c.enabled) {
            let r = RetryLayer::new(c.clone(), stream_seed(self.seed, "retry"), obs.clone())?;
            svc = ChatService::new(r.layer(svc));
        }
        if let Some(c) = cfg.models.as_ref().filter(|c| c.enabled) {
            svc = ChatService::new(ModelChainLayer::new(c, obs.clone())?.layer(svc));
        }
        if let Some(d) = timeout.and_then(|t| t.total) {
            svc = ChatService::new(TimeoutLayer::new(d.0, TimeoutScope::Total).layer(svc));
        }
        let mut cache = None;
        if let Some(c) = cfg.cache.as_ref().filter(|c| c.enabled) {
            let l2 = match (&self.l2, &c.redis) {
                (Some(l2), _) => Some(l2.clone()),
                #[cfg(feature = "redis")]
                (None, Some(r)) => {
                    Some(Arc::new(RedisL2::open(r, obs.clone())?) as Arc<dyn L2Store>)
                }
                #[cfg(not(feature = "redis"))]
                (None, Some(_)) => return Err(crate::shared_store::InvalidRedis::NotBuiltIn.into()),
                (None, None) => None,
            };
            if let Some(s) = c.semantic.as_ref().filter(|s| s.enabled) {
                let layer = super::cache::semantic::SemanticLayer::new(
                    s,
                    c.ttl.0,
                    c.normalize,
                    obs.clone(),
                )?;
                svc = ChatService::new(layer.layer(svc));
            }
            let store = Arc::new(ResponseCache::new(c, l2));
            svc = ChatService::new(CacheLayer::new(store.clone(), obs.clone()).layer(svc));
            cache = Some(store);
        }
        if let Some(c) = cfg.answer_cap.as_ref().filter(|c| c.enabled) {
            let a = AnswerCapLayer::new(c.clone(), obs.clone())?;
            svc = ChatService::new(a.layer(svc));
        }
        if let Some(c) = cfg.fallback.as_ref().filter(|c| c.enabled) {
            let f = FallbackLayer::new(c.clone(), cache.clone(), obs.clone());
            svc = ChatService::new(f.layer(svc));
        }
        if let Some(c) = cfg.context.as_ref().filter(|c| c.enabled) {
            svc = ChatService::new(ContextLayer::new(c.clone()).layer(svc));
        }
        if let Some(c) = cfg.filter.as_ref().filter(|c| c.enabled) {
            svc = ChatService::new(FilterLayer::new(c, obs.clone())?.layer(svc));
        }
        Ok(ClientStack {
            service: svc,
            breaker,
            limiter,
            cache,
            adapter: None,
        })
    }
}

/// Copies the request's trace (attempts, limiter and retry waits) into the response, so every
/// answer says what it cost.
fn annotate(
    inner: ChatService,
) -> impl tower::Service<
    ChatRequest,
    Response = ChatResponse,
    Error = ClientError,
    Future = futures_util::future::BoxFuture<'static, Result<ChatResponse, ClientError>>,
> + Clone
       + Send {
    tower::service_fn(move |req: ChatRequest| {
        let trace = req.trace.clone();
        Box::pin(with_trace(inner.clone().oneshot(req), trace))
            as futures_util::future::BoxFuture<'static, _>
    })
}

/// Awaits `call` and copies what the request's trace recorded into the answer: the one place
/// both [`ClientStack::send`] and [`annotate`] do it.
async fn with_trace(
    call: impl std::future::Future<Output = Result<ChatResponse, ClientError>>,
    trace: Arc<Trace>,
) -> Result<ChatResponse, ClientError> {
    let mut resp = call.await?;
    resp.attempts = trace.attempts();
    resp.limiter_wait = trace.limiter_wait();
    Ok(resp)
}

/// A seed for one component, derived from the stack's seed and the component's name, so each
/// component draws from its own stream and adding a draw in one does not shift another.
pub fn stream_seed(seed: u64, component: &str) -> u64 {
    seed ^ gauntlet_wire::hash::stable_hash(component.as_bytes())
}

impl ClientStack {
    /// The stack over HTTP to `config.adapter.base_url`, seed 0, no observer.
    pub fn from_config(config: &ClientConfig) -> Result<Self, StackError> {
        Self::builder(config).build()
    }

    /// A builder for other transports, seeds and observers.
    pub fn builder(config: &ClientConfig) -> StackBuilder<'_> {
        StackBuilder {
            config,
            transport: None,
            seed: 0,
            observer: Arc::new(NoopObserver),
            l2: None,
        }
    }

    /// Sends one request through every layer; the answer says what it cost (attempts, limiter
    /// wait). The future owns what it needs, so it can be spawned.
    ///
    /// A plain async wrapper rather than one more boxed service: this runs for every request.
    pub fn send(
        &self,
        req: ChatRequest,
    ) -> impl std::future::Future<Output = Result<ChatResponse, ClientError>> + Send + 'static {
        let trace = req.trace.clone();
        with_trace(self.service.clone().oneshot(req), trace)
    }

    /// The stack as a tower service, to compose further (answers carry the trace, as with
    /// [`send`](Self::send)).
    pub fn service(&self) -> ChatService {
        ChatService::new(annotate(self.service.clone()))
    }

    /// The breaker's state, if there is a breaker.
    pub fn breaker_state(&self) -> Option<BreakerState> {
        self.breaker.as_ref().map(BreakerLayer::state)
    }

    /// Requests waiting in the limiter (0 without one), for progress displays.
    pub fn queue_depth(&self) -> usize {
        self.limiter.as_ref().map_or(0, LimiterLayer::queue_depth)
    }

    /// Entries in this process's cache, not the L2 store's (0 without a cache).
    pub fn cache_len(&self) -> u64 {
        self.cache.as_ref().map_or(0, |c| c.len())
    }

    /// Whether the adapter talks to `/v1/chat/completions` now (after an `auto` switch, say).
    pub fn uses_chat_completions(&self) -> bool {
        self.adapter
            .as_ref()
            .is_some_and(Adapter::uses_chat_completions)
    }
}
