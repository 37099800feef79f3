//! Response cache: TTL and a size bound, coalescing of identical requests in flight, stale
//! entries kept for `stale_if_error` so the fallback can serve them, and a second-level store
//! shared by several nodes (Redis), which can also coalesce identical requests across nodes.
//! Errors and fallback answers are never cached.
//!
//! moka keeps the entries and bounds their number; expiry is our own `tokio::time::Instant` in
//! each entry (moka's TTL reads the std clock, which a paused clock cannot move).

mod key;
mod normalize;
mod redis_config;
#[cfg(feature = "redis")]
mod redis_store;
pub mod semantic;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::{BoxFuture, FutureExt, Shared};
use gauntlet_wire::duration::HumanDuration;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt};

pub use key::{cache_key, cache_key_with, CacheKey};
pub use normalize::{Fold, Folds};
pub use redis_config::RedisCacheConfig;
#[cfg(feature = "redis")]
pub use redis_store::RedisL2;

/// std's SipHash with fixed keys: the same hashes in every run (unlike `RandomState`).
pub type FixedHasher = std::hash::BuildHasherDefault<std::collections::hash_map::DefaultHasher>;

use super::error::ClientError;
use super::layer_support::{deadline_after, Inner};
use super::observer::{Event, SharedObserver};
use super::request::{ChatRequest, ChatResponse, Outcome};

/// `[client.cache]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// `false` sends every request upstream.
    pub enabled: bool,
    /// How long an answer is fresh.
    pub ttl: HumanDuration,
    /// Most entries kept.
    pub max_entries: u64,
    /// Identical requests in flight share one upstream call.
    pub coalesce: bool,
    /// How long after expiry an entry may still be served when the upstream fails.
    pub stale_if_error: Option<HumanDuration>,
    /// A second level on Redis shared by every node (absent: none).
    pub redis: Option<RedisCacheConfig>,
    /// Differences in message text the key ignores: `true` (every [`Fold`]), or a list of
    /// `"case"`, `"punctuation"`; whitespace runs are always folded. Only the key is
    /// normalised: the request goes upstream as written.
    #[serde(skip_serializing_if = "no_folds")]
    pub normalize: Folds,
    /// `[client.cache.semantic]`: answers for prompts that mean the same (absent: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub semantic: Option<semantic::SemanticConfig>,
}

fn no_folds(f: &Folds) -> bool {
    f.is_empty()
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            ttl: HumanDuration(Duration::from_secs(300)),
            max_entries: 10_000,
            coalesce: true,
            stale_if_error: None,
            redis: None,
            normalize: Folds::NONE,
            semantic: None,
        }
    }
}

/// An entry: the answer and when it was stored, which decides fresh or stale on the tokio clock.
#[derive(Debug, Clone)]
struct CachedAnswer {
    response: ChatResponse,
    stored_at: Instant,
}

/// A second-level store shared across processes, so a fleet asks the upstream once per
/// question instead of once per node. Values are answers; the TTL is the store's to enforce.
/// A store that cannot answer says "miss", never an error: the cache is an optimisation.
pub trait L2Store: Send + Sync + std::fmt::Debug {
    /// A fresh answer, if the store has one.
    fn get(&self, key: CacheKey) -> BoxFuture<'_, Option<ChatResponse>>;
    /// Stores an answer for `ttl`.
    fn put(&self, key: CacheKey, response: ChatResponse, ttl: Duration) -> BoxFuture<'_, ()>;
    /// `Some((lock_ttl, poll))` when identical requests are coalesced across nodes.
    fn coalesces(&self) -> Option<(Duration, Duration)> {
        None
    }
    /// Takes the request's lock for `ttl`; `false` when another node holds it.
    fn try_lock(&self, _key: CacheKey, _ttl: Duration) -> BoxFuture<'_, bool> {
        futures_util::future::ready(true).boxed()
    }
    /// Gives the lock back once the answer is stored.
    fn unlock(&self, _key: CacheKey) -> BoxFuture<'_, ()> {
        futures_util::future::ready(()).boxed()
    }
}

type InFlight = Shared<BoxFuture<'static, Result<ChatResponse, ClientError>>>;

/// The cache's storage, shared by the cache layer and the fallback's `stale` step.
#[derive(Debug)]
pub struct ResponseCache {
    entries: moka::sync::Cache<CacheKey, Arc<CachedAnswer>, FixedHasher>,
    ttl: Duration,
    stale_window: Duration,
    coalesce: bool,
    in_flight: Mutex<HashMap<CacheKey, InFlight>>,
    l2: Option<Arc<dyn L2Store>>,
    folds: Folds,
}

impl ResponseCache {
    /// An empty cache; `l2`, if any, is the level shared with other processes.
    pub fn new(config: &CacheConfig, l2: Option<Arc<dyn L2Store>>) -> Self {
        Self {
            // A fixed hasher: moka's eviction order then depends on the keys only, so a
            // simulation replays bit for bit.
            entries: moka::sync::Cache::builder()
                .max_capacity(config.max_entries.max(1))
                .build_with_hasher(FixedHasher::default()),
            ttl: config.ttl.0,
            stale_window: config.stale_if_error.map_or(Duration::ZERO, |d| d.0),
            coalesce: config.coalesce,
            in_flight: Mutex::new(HashMap::new()),
            l2,
            folds: config.normalize,
        }
    }

    /// The key of `req` under this cache's `normalize` (the fallback's stale step uses it too).
    pub fn key(&self, req: &ChatRequest) -> CacheKey {
        cache_key_with(req, self.folds)
    }

    /// The answer stored for `key` less than `ttl` before `now`, in this process (asking the L2
    /// store is the cache layer's job).
    pub fn fresh(&self, key: CacheKey, now: Instant) -> Option<ChatResponse> {
        let e = self.entries.get(&key)?;
        (now.saturating_duration_since(e.stored_at) < self.ttl).then(|| e.response.clone())
    }

    /// An expired answer still inside the `stale_if_error` window.
    pub fn stale(&self, key: CacheKey, now: Instant) -> Option<ChatResponse> {
        let e = self.entries.get(&key)?;
        let age = now.saturating_duration_since(e.stored_at);
        (age < self.ttl + self.stale_window).then(|| e.response.clone())
    }

    /// Stores an upstream answer.
    pub fn store(&self, key: CacheKey, response: &ChatResponse, now: Instant) {
        if response.outcome != Outcome::Upstream {
            return;
        }
        self.entries.insert(
            key,
            Arc::new(CachedAnswer {
                response: response.clone(),
                stored_at: now,
            }),
        );
    }

    /// Entries held in this process, not the L2 store's; runs moka's pending evictions first, so
    /// the figure is current.
    pub fn len(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.entry_count()
    }

    /// Whether [`len`](Self::len) is 0 (at the same cost).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Adds the cache in front of a service.
#[derive(Debug, Clone)]
pub struct CacheLayer {
    cache: Arc<ResponseCache>,
    observer: SharedObserver,
}

impl CacheLayer {
    /// A layer over `cache` (shared with the fallback).
    pub fn new(cache: Arc<ResponseCache>, observer: SharedObserver) -> Self {
        Self { cache, observer }
    }
}

impl<S> Layer<S> for CacheLayer {
    type Service = Cache<S>;
    fn layer(&self, inner: S) -> Cache<S> {
        Cache {
            inner,
            layer: self.clone(),
        }
    }
}

/// A service behind [`CacheLayer`]: answers fresh hits itself, then asks the L2 store, then the
/// inner service (once per key in flight, with `coalesce`).
#[derive(Debug, Clone)]
pub struct Cache<S> {
    inner: S,
    layer: CacheLayer,
}

fn served(mut resp: ChatResponse, outcome: Outcome, observer: &SharedObserver) -> ChatResponse {
    resp.outcome = outcome;
    resp.ttft = None;
    observer.on_event(&Event::Served { outcome });
    resp
}

impl<S: Inner> Service<ChatRequest> for Cache<S> {
    always_ready_chat_service!();

    fn call(&mut self, req: ChatRequest) -> Self::Future {
        let key = self.layer.cache.key(&req);
        let CacheLayer { cache, observer } = self.layer.clone();
        if let Some(hit) = cache.fresh(key, Instant::now()) {
            return Box::pin(std::future::ready(Ok(served(
                hit,
                Outcome::CacheHit,
                &observer,
            ))));
        }
        let inner = self.inner.clone();
        Box::pin(async move {
            if let Some(l2) = &cache.l2 {
                if let Some(hit) = l2.get(key).await {
                    cache.store(key, &hit, Instant::now());
                    return Ok(served(hit, Outcome::CacheHit, &observer));
                }
            }
            observer.on_event(&Event::CacheMiss);
            if !cache.coalesce {
                let result = fetch(cache.clone(), key, inner, req, observer.clone()).await;
                if let Ok(resp) = &result {
                    remember(&cache, key, resp).await;
                }
                return result;
            }
            let (shared, leader) = {
                let mut in_flight = cache.in_flight.lock().unwrap_or_else(|p| p.into_inner());
                match in_flight.get(&key) {
                    Some(f) => (f.clone(), false),
                    None => {
                        let f = fetch(cache.clone(), key, inner, req, observer.clone())
                            .boxed()
                            .shared();
                        in_flight.insert(key, f.clone());
                        (f, true)
                    }
                }
            };
            let result = shared.clone().await;
            // Whoever finishes first clears the entry (the leader may have been dropped), so a
            // later request never joins a finished call and reuses its result, error or not.
            {
                let mut in_flight = cache.in_flight.lock().unwrap_or_else(|p| p.into_inner());
                if in_flight.get(&key).is_some_and(|f| f.ptr_eq(&shared)) {
                    in_flight.remove(&key);
                }
            }
            if let Ok(resp) = &result {
                remember(&cache, key, resp).await;
            }
            if leader {
                result
            } else {
                result.map(|r| served(r, Outcome::Coalesced, &observer))
            }
        })
    }
}

/// Asks the upstream, or, with cross-node coalescing, lets one node ask while the others wait
/// for its answer in the L2 store. A node whose peer gave up (the lock expired or was released
/// without an answer) takes the lock and asks itself; after `lock_ttl` it asks regardless.
async fn fetch<S: Inner>(
    cache: Arc<ResponseCache>,
    key: CacheKey,
    inner: S,
    req: ChatRequest,
    observer: SharedObserver,
) -> Result<ChatResponse, ClientError> {
    let Some((l2, (lock_ttl, poll))) = cache
        .l2
        .as_ref()
        .and_then(|l2| l2.coalesces().map(|c| (l2.clone(), c)))
    else {
        return inner.oneshot(req).await;
    };
    let deadline = deadline_after(Instant::now(), lock_ttl);
    loop {
        if l2.try_lock(key, lock_ttl).await {
            let result = inner.oneshot(req).await;
            if let Ok(resp) = &result {
                // Stored before the lock goes, so a waiting node finds it.
                remember(&cache, key, resp).await;
            }
            l2.unlock(key).await;
            return result;
        }
        if Instant::now() >= deadline {
            return inner.oneshot(req).await;
        }
        tokio::time::sleep(poll).await;
        if let Some(hit) = l2.get(key).await {
            cache.store(key, &hit, Instant::now());
            return Ok(served(hit, Outcome::Coalesced, &observer));
        }
    }
}

async fn remember(cache: &ResponseCache, key: CacheKey, resp: &ChatResponse) {
    if resp.outcome != Outcome::Upstream || cache.fresh(key, Instant::now()).is_some() {
        return;
    }
    cache.store(key, resp, Instant::now());
    if let Some(l2) = &cache.l2 {
        l2.put(key, resp.clone(), cache.ttl).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observer::NoopObserver;
    use crate::testing::{Scripted, Step};

    fn cache(cfg: CacheConfig) -> (Arc<ResponseCache>, CacheLayer) {
        let c = Arc::new(ResponseCache::new(&cfg, None));
        (c.clone(), CacheLayer::new(c, Arc::new(NoopObserver)))
    }

    #[tokio::test(start_paused = true)]
    async fn hits_until_the_ttl_then_keeps_stale() {
        let cfg = CacheConfig {
            ttl: HumanDuration(Duration::from_secs(60)),
            stale_if_error: Some(HumanDuration(Duration::from_secs(600))),
            ..CacheConfig::default()
        };
        let (store, layer) = cache(cfg);
        let up = Scripted::default();
        let svc = layer.layer(up.clone());
        let q = || ChatRequest::user_text("m", "q");
        assert_eq!(
            svc.clone().oneshot(q()).await.unwrap().outcome,
            Outcome::Upstream
        );
        assert_eq!(
            svc.clone().oneshot(q()).await.unwrap().outcome,
            Outcome::CacheHit
        );
        tokio::time::advance(Duration::from_secs(60)).await;
        let key = cache_key(&q());
        assert!(store.fresh(key, Instant::now()).is_none());
        assert!(store.stale(key, Instant::now()).is_some());
        assert_eq!(
            svc.clone().oneshot(q()).await.unwrap().outcome,
            Outcome::Upstream
        );
        assert_eq!(up.call_count(), 2);
        tokio::time::advance(Duration::from_secs(661)).await;
        assert!(store.stale(key, Instant::now()).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn identical_concurrent_misses_make_one_call() {
        let (_, layer) = cache(CacheConfig::default());
        let up = Scripted::with_default([], Step::Ok(Duration::from_millis(100), "a".into()));
        let svc = layer.layer(up.clone());
        let calls: Vec<_> = (0..5)
            .map(|_| tokio::spawn(svc.clone().oneshot(ChatRequest::user_text("m", "same"))))
            .collect();
        let mut outcomes = Vec::new();
        for c in calls {
            outcomes.push(c.await.unwrap().unwrap().outcome);
        }
        assert_eq!(up.call_count(), 1);
        assert_eq!(
            outcomes.iter().filter(|o| **o == Outcome::Upstream).count(),
            1
        );
        assert_eq!(
            outcomes
                .iter()
                .filter(|o| **o == Outcome::Coalesced)
                .count(),
            4
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_leader_leaves_no_stale_call_behind() {
        let (_, layer) = cache(CacheConfig::default());
        let up = Scripted::new([
            Step::Err(
                Duration::from_millis(100),
                ClientError::Server { status: 503 },
            ),
            Step::ok("fresh"),
        ]);
        let svc = layer.layer(up.clone());
        let leader = tokio::spawn(svc.clone().oneshot(ChatRequest::user_text("m", "same")));
        tokio::task::yield_now().await;
        let follower = tokio::spawn(svc.clone().oneshot(ChatRequest::user_text("m", "same")));
        tokio::task::yield_now().await;
        leader.abort();
        assert!(
            follower.await.unwrap().is_err(),
            "the follower gets the shared 503"
        );
        // A new request does not join the finished call: it asks the upstream again.
        let r = svc
            .clone()
            .oneshot(ChatRequest::user_text("m", "same"))
            .await
            .unwrap();
        assert_eq!(r.text, "fresh");
        assert_eq!(up.call_count(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn errors_are_not_cached() {
        let (_, layer) = cache(CacheConfig::default());
        let up = Scripted::new([Step::status(503)]);
        let svc = layer.layer(up.clone());
        assert!(svc
            .clone()
            .oneshot(ChatRequest::user_text("m", "q"))
            .await
            .is_err());
        assert_eq!(
            svc.clone()
                .oneshot(ChatRequest::user_text("m", "q"))
                .await
                .unwrap()
                .outcome,
            Outcome::Upstream
        );
    }
}
