//! Client-side rate limiting so a small free quota is spent evenly instead of in 429s: a token
//! bucket, GCRA (governor) or an adaptive AIMD bucket; global or per API key; when no permit is
//! there, wait in a bounded queue up to `max_wait` or refuse at once. Optionally a fair share per
//! end user and priority classes (interactive before batch).
//!
//! With `backend = "redis"` the permits come from one GCRA in Redis shared by every node, so a
//! fleet spends one quota; while Redis is unreachable each node falls back to its local share
//! (`rate / nodes`) and counts those decisions.

mod deferral;
mod pacer;
mod queue;
#[cfg(feature = "redis")]
mod remote;
mod view;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gauntlet_wire::duration::HumanDuration;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt};

pub use pacer::{Adaptive, Gcra, Pacer, TokenBucket};
#[cfg(feature = "redis")]
pub use remote::{RemoteQuota, Reservation};
#[cfg(test)]
pub(crate) use view::fake;
pub use view::{InvalidShare, QuotaView, Share};

use super::error::{ClientError, Rejection};
use super::layer_support::Inner;
use super::observer::{Event, SharedObserver};
use super::request::{ChatRequest, ChatResponse, Priority};
use deferral::Deferral;
use gauntlet_wire::rate::Rate;
use queue::{Queue, QueueSettings, Ticket};

/// How permits come back: a bucket refilled at `rate`, GCRA's even spacing, or a rate that follows
/// the upstream's 429s and remaining quota.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// Burst of `burst`, refilled at `rate`.
    #[default]
    TokenBucket,
    /// Even spacing with a burst allowance, through governor; what the Redis backend runs whatever
    /// the algorithm.
    Gcra,
    /// AIMD on a token bucket, following 429s and `x-ratelimit-remaining-*`.
    Adaptive,
}

/// What the limit applies to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// One limit for everything this client sends.
    #[default]
    Global,
    /// One limit per API key (tenant).
    PerKey,
}

/// Where the permits are kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// In this process: each node has its own limit.
    #[default]
    Local,
    /// In Redis: one limit for every node that uses the same `redis_url` and `key`.
    Redis,
}

/// `[client.limiter]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimiterConfig {
    /// `false` admits everything.
    pub enabled: bool,
    /// `token_bucket`, `gcra` or `adaptive`.
    pub algorithm: Algorithm,
    /// Sustained rate (the adaptive limiter's ceiling).
    pub rate: Rate,
    /// Permits available at once.
    pub burst: u32,
    /// Longest wait for a permit; `0s` refuses at once when none is there.
    pub max_wait: HumanDuration,
    /// Most requests waiting.
    pub queue_size: usize,
    /// `global` or `per_key`.
    pub scope: Scope,
    /// Fair share per end user while requests queue.
    pub fair_share: bool,
    /// Interactive requests before batch ones while requests queue.
    pub priorities: bool,
    /// Adaptive: lowest rate (default: rate / 20).
    pub min_rate: Option<Rate>,
    /// Adaptive: fraction of `rate` added per success.
    pub increase: f64,
    /// Adaptive: remaining / limit below which it slows down before any 429.
    pub low_remaining: f64,
    /// `local` or `redis`.
    pub backend: Backend,
    /// The Redis server of the `redis` backend, `redis://host:port[/db]`.
    pub redis_url: Option<String>,
    /// The Redis key of the quota; nodes that share a quota use the same key.
    pub key: String,
    /// Nodes sharing the quota: while Redis is unreachable each node admits `rate / nodes`.
    pub nodes: u32,
    /// Longest wait for Redis's answer before deciding locally.
    pub redis_timeout: HumanDuration,
    /// The share of the quota kept for interactive traffic (`"30%"`): a batch request waits
    /// until more than this is left, by the upstream's `x-ratelimit-remaining-*` and the
    /// limiter's own bucket. Not written: batch requests do not wait for spare quota.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_reserve: Option<Share>,
    /// Longest a batch request waits for spare quota before it is refused (`LimiterFull`, which
    /// the fallback's `queue` step takes over).
    pub batch_max_wait: HumanDuration,
}

impl Default for LimiterConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            algorithm: Algorithm::TokenBucket,
            rate: Rate::per_second(10.0),
            burst: 10,
            max_wait: HumanDuration(Duration::from_secs(2)),
            queue_size: 1000,
            scope: Scope::Global,
            fair_share: false,
            priorities: false,
            min_rate: None,
            increase: 0.02,
            low_remaining: 0.1,
            backend: Backend::Local,
            redis_url: None,
            key: "gauntlet:limiter".into(),
            nodes: 1,
            redis_timeout: HumanDuration(Duration::from_millis(250)),
            batch_reserve: None,
            batch_max_wait: HumanDuration(Duration::from_secs(30)),
        }
    }
}

/// Why a limiter config cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvalidLimiter {
    /// A `rate` of 0 would never admit anything.
    #[error("limiter.rate must be more than 0")]
    ZeroRate,
    /// A `burst` of 0 leaves no room for even one permit.
    #[error("limiter.burst must be at least 1")]
    ZeroBurst,
    /// `nodes = 0` leaves no local share to fall back on while Redis is away.
    #[error("limiter.nodes must be at least 1")]
    ZeroNodes,
    /// `backend = "redis"` without a server.
    #[error("limiter.backend = \"redis\" needs limiter.redis_url (or --redis)")]
    NoRedisUrl,
    /// An option that orders or adapts a local queue, with the shared backend.
    #[error("limiter.{0} works on a local queue; with backend = \"redis\" slots are reserved in arrival order, so turn it off")]
    LocalOnly(&'static str),
    /// The Redis link could not be set up.
    #[error("limiter: {0}")]
    Redis(#[from] crate::shared_store::InvalidRedis),
    /// An adaptive fraction that is not a number in 0..=1 (a NaN would silently turn the
    /// adaptation off, a negative `increase` would only ever slow down).
    #[error("limiter.{key} = {value} must be a fraction in 0..=1")]
    NotAFraction {
        /// The key.
        key: &'static str,
        /// Its value.
        value: f64,
    },
    /// `batch_reserve` with a `batch_max_wait` of 0 would refuse every batch request the
    /// moment quota is short, which is not waiting for spare quota.
    #[error("limiter.batch_max_wait must be more than 0s when batch_reserve is set")]
    ZeroBatchWait,
}

impl LimiterConfig {
    /// Checks the values a config file may get wrong.
    pub fn validate(&self) -> Result<(), InvalidLimiter> {
        if self.rate.per_sec() <= 0.0 {
            return Err(InvalidLimiter::ZeroRate);
        }
        if self.burst == 0 {
            return Err(InvalidLimiter::ZeroBurst);
        }
        if self.nodes == 0 {
            return Err(InvalidLimiter::ZeroNodes);
        }
        for (key, value) in [
            ("increase", self.increase),
            ("low_remaining", self.low_remaining),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(InvalidLimiter::NotAFraction { key, value });
            }
        }
        if self.batch_reserve.is_some() && self.batch_max_wait.0.is_zero() {
            return Err(InvalidLimiter::ZeroBatchWait);
        }
        if self.backend == Backend::Redis {
            if self.algorithm == Algorithm::Adaptive {
                return Err(InvalidLimiter::LocalOnly("algorithm = \"adaptive\""));
            }
            if self.fair_share {
                return Err(InvalidLimiter::LocalOnly("fair_share"));
            }
            if self.priorities {
                return Err(InvalidLimiter::LocalOnly("priorities"));
            }
            // Last, so a scenario that leaves the URL to `--redis` is otherwise checked.
            if self.redis_url.is_none() {
                return Err(InvalidLimiter::NoRedisUrl);
            }
        }
        Ok(())
    }

    /// The limit this process enforces alone: the whole limit with the local backend, its share
    /// of it (`rate / nodes`, burst likewise, at least 1) when Redis decides and is unreachable.
    fn local_share(&self) -> (f64, u32) {
        match self.backend {
            Backend::Local => (self.rate.per_sec(), self.burst),
            Backend::Redis => {
                let n = self.nodes.max(1);
                (self.rate.per_sec() / f64::from(n), self.burst.div_ceil(n))
            }
        }
    }

    fn pacer(&self) -> Box<dyn Pacer> {
        let (rate, burst) = self.local_share();
        match self.algorithm {
            Algorithm::TokenBucket => Box::new(TokenBucket::new(rate, burst)),
            Algorithm::Gcra => Box::new(Gcra::new(rate, burst)),
            Algorithm::Adaptive => Box::new(Adaptive::new(
                rate,
                burst,
                self.min_rate.map_or(rate / 20.0, Rate::per_sec),
                self.increase,
                self.low_remaining,
            )),
        }
    }
}

/// Adds the limiter; services it builds share the queues.
#[derive(Debug, Clone)]
pub struct LimiterLayer {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: LimiterConfig,
    queues: Mutex<HashMap<String, Arc<Mutex<Queue>>>>,
    observer: SharedObserver,
    #[cfg(feature = "redis")]
    remote: Option<RemoteQuota>,
    /// Requests sleeping on a Redis reservation (bounded by `queue_size`).
    remote_waiting: AtomicUsize,
    /// Batch requests' wait for spare quota, with `batch_reserve`.
    deferral: Option<Deferral>,
}

impl LimiterLayer {
    /// A limiter with full buckets.
    /// With `backend = "redis"` this must run inside a tokio runtime (the connection is
    /// opened lazily on the first request, so building never waits for Redis).
    pub fn new(config: LimiterConfig, observer: SharedObserver) -> Result<Self, InvalidLimiter> {
        config.validate()?;
        #[cfg(not(feature = "redis"))]
        if config.backend == Backend::Redis {
            return Err(crate::shared_store::InvalidRedis::NotBuiltIn.into());
        }
        #[cfg(feature = "redis")]
        let remote = match (&config.backend, &config.redis_url) {
            (Backend::Redis, Some(url)) => Some(RemoteQuota::open(
                url,
                &config.key,
                config.rate.per_sec(),
                config.burst,
                config.redis_timeout.0,
            )?),
            _ => None,
        };
        Ok(Self {
            shared: Arc::new(Shared {
                queues: Mutex::new(HashMap::new()),
                observer,
                #[cfg(feature = "redis")]
                remote,
                remote_waiting: AtomicUsize::new(0),
                deferral: config
                    .batch_reserve
                    .map(|r| Deferral::new(r, config.batch_max_wait.0)),
                config,
            }),
        })
    }

    /// Requests waiting in all queues, for progress displays.
    pub fn queue_depth(&self) -> usize {
        self.shared
            .queues
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(|q| q.lock().unwrap_or_else(|p| p.into_inner()).depth())
            .sum::<usize>()
            + self.shared.remote_waiting.load(Ordering::Relaxed)
    }
}

impl Shared {
    fn queue_key<'r>(&self, req: &'r ChatRequest) -> &'r str {
        match self.config.scope {
            Scope::Global => "",
            Scope::PerKey => req.api_key.as_deref().unwrap_or(""),
        }
    }

    fn queue(&self, req: &ChatRequest) -> Arc<Mutex<Queue>> {
        let key = self.queue_key(req);
        let mut queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(q) = queues.get(key) {
            return q.clone();
        }
        let queue = Arc::new(Mutex::new(Queue::new(
            self.config.pacer(),
            QueueSettings {
                max_wait: self.config.max_wait.0,
                queue_size: self.config.queue_size,
                fair_share: self.config.fair_share,
                priorities: self.config.priorities,
            },
            self.observer.clone(),
        )));
        queues.insert(key.to_string(), queue.clone());
        queue
    }
}

impl<S> Layer<S> for LimiterLayer {
    type Service = Limiter<S>;
    fn layer(&self, inner: S) -> Limiter<S> {
        Limiter {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// A service behind [`LimiterLayer`]: each call takes a permit, waits in its queue for one, or is
/// refused with `Rejection::LimiterFull`.
#[derive(Debug, Clone)]
pub struct Limiter<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S: Inner> Service<ChatRequest> for Limiter<S> {
    always_ready_chat_service!();

    fn call(&mut self, req: ChatRequest) -> Self::Future {
        let inner = self.inner.clone();
        let shared = self.shared.clone();
        Box::pin(async move {
            defer(&shared, &req).await?;
            #[cfg(feature = "redis")]
            if let Some(remote) = &shared.remote {
                match admit_remote(&shared, remote, &req).await {
                    Some(Ok(())) => {
                        let result = inner.oneshot(req).await;
                        shared.saw(&result);
                        return result;
                    }
                    Some(Err(e)) => return Err(e),
                    // Redis is unreachable: this node's share of the limit decides.
                    None => shared.observer.on_event(&Event::LimiterFallback),
                }
            }
            let queue = shared.queue(&req);
            let started = Instant::now();
            let class = match req.priority {
                Priority::Interactive => 0,
                Priority::Batch => 1,
            };
            let (ticket, start_dispatcher) = queue.lock().unwrap_or_else(|p| p.into_inner()).enter(
                started,
                class,
                req.user.as_deref(),
            );
            if start_dispatcher {
                tokio::spawn(queue::dispatch(queue.clone()));
            }
            match ticket {
                Ticket::Now => {}
                Ticket::Full => {
                    shared.observer.on_event(&Event::LimiterRejected);
                    return Err(ClientError::Rejected(Rejection::LimiterFull));
                }
                Ticket::Wait(place, rx) => {
                    let granted = tokio::time::timeout(shared.config.max_wait.0, rx).await;
                    if !matches!(granted, Ok(Ok(()))) {
                        queue
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .leave(&place);
                        shared.observer.on_event(&Event::LimiterRejected);
                        return Err(ClientError::Rejected(Rejection::LimiterFull));
                    }
                    let wait = started.elapsed();
                    req.trace.add_limiter_wait(wait);
                    shared.observer.on_event(&Event::LimiterWait { wait });
                }
            }
            let result = inner.oneshot(req).await;
            if shared.config.algorithm == Algorithm::Adaptive {
                feed_back(&shared, &queue, &result);
            }
            shared.saw(&result);
            result
        })
    }
}

/// Holds a batch request until the quota has spare room (with `batch_reserve`); marks its
/// trace when the wait ran out, so a later pass (the fallback's queue, a retry) goes straight on.
async fn defer(shared: &Shared, req: &ChatRequest) -> Result<(), ClientError> {
    let Some(d) = &shared.deferral else {
        return Ok(());
    };
    if req.priority != Priority::Batch || req.trace.deferral_expired() {
        return Ok(());
    }
    let own = || {
        (shared.config.backend == Backend::Local).then(|| {
            let q = shared.queue(req);
            let q = q.lock().unwrap_or_else(|p| p.into_inner());
            q.pacer.level(Instant::now())
        })?
    };
    let waited = d.wait(own, &shared.observer).await;
    if waited.is_err() {
        req.trace.expire_deferral();
    }
    waited
}

impl Shared {
    /// Keeps the upstream's quota figures of an answer for the deferral's view.
    fn saw(&self, result: &Result<ChatResponse, ClientError>) {
        if let (Some(d), Ok(resp)) = (&self.deferral, result) {
            if let Some(info) = resp.rate_limit {
                d.view.update(&info);
            }
        }
    }
}

/// Asks Redis for a slot and waits for it; `None` when Redis did not answer.
#[cfg(feature = "redis")]
async fn admit_remote(
    shared: &Shared,
    remote: &RemoteQuota,
    req: &ChatRequest,
) -> Option<Result<(), ClientError>> {
    let refuse = || {
        shared.observer.on_event(&Event::LimiterRejected);
        Some(Err(ClientError::Rejected(Rejection::LimiterFull)))
    };
    if shared.remote_waiting.load(Ordering::Relaxed) >= shared.config.queue_size {
        return refuse();
    }
    let started = Instant::now();
    match remote
        .reserve(shared.queue_key(req), shared.config.max_wait.0)
        .await
    {
        Err(_) => None,
        Ok(Reservation::Refused) => refuse(),
        Ok(Reservation::Go(wait)) => {
            if !wait.is_zero() {
                shared.remote_waiting.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(wait).await;
                shared.remote_waiting.fetch_sub(1, Ordering::Relaxed);
            }
            // The round trip to Redis is part of the limiter's cost too.
            let waited = started.elapsed();
            if waited >= Duration::from_millis(1) {
                req.trace.add_limiter_wait(waited);
                shared
                    .observer
                    .on_event(&Event::LimiterWait { wait: waited });
            }
            Some(Ok(()))
        }
    }
}

/// Tells an adaptive pacer how the upstream answered.
fn feed_back(shared: &Shared, queue: &Mutex<Queue>, result: &Result<ChatResponse, ClientError>) {
    let now = Instant::now();
    let mut q = queue.lock().unwrap_or_else(|p| p.into_inner());
    let before = q.pacer.rate();
    match result {
        Err(ClientError::RateLimited { .. }) => q.pacer.on_throttled(now),
        Ok(resp) => {
            let ratio = resp.rate_limit.and_then(|r| {
                let (rem, lim) = (r.remaining_requests?, r.limit_requests?);
                (lim > 0).then(|| rem as f64 / lim as f64)
            });
            q.pacer.on_success(now, ratio);
        }
        Err(_) => {}
    }
    let after = q.pacer.rate();
    drop(q);
    if (after - before).abs() > before * 0.05 {
        shared
            .observer
            .on_event(&Event::LimiterRate { rate: after });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adaptive_fractions_must_be_fractions() {
        for (key, value) in [
            ("increase", f64::NAN),
            ("increase", -1.0),
            ("low_remaining", f64::INFINITY),
            ("low_remaining", 1.5),
        ] {
            let mut c = LimiterConfig::default();
            match key {
                "increase" => c.increase = value,
                _ => c.low_remaining = value,
            }
            let err = c.validate().unwrap_err();
            assert!(
                matches!(err, InvalidLimiter::NotAFraction { key: k, .. } if k == key),
                "{err}"
            );
        }
        assert!(LimiterConfig::default().validate().is_ok());
    }
    use crate::observer::NoopObserver;
    use crate::testing::Scripted;

    fn layer(cfg: LimiterConfig) -> LimiterLayer {
        LimiterLayer::new(cfg, Arc::new(NoopObserver)).unwrap()
    }

    fn cfg(rate: f64, burst: u32, max_wait_ms: u64) -> LimiterConfig {
        LimiterConfig {
            rate: Rate::per_second(rate),
            burst,
            max_wait: HumanDuration(Duration::from_millis(max_wait_ms)),
            ..LimiterConfig::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn queued_requests_go_at_the_rate() {
        let up = Scripted::default();
        let svc = layer(cfg(10.0, 2, 2000)).layer(up.clone());
        let t0 = Instant::now();
        let calls: Vec<_> = (0..5)
            .map(|_| tokio::spawn(svc.clone().oneshot(ChatRequest::user_text("m", "q"))))
            .collect();
        for c in calls {
            c.await.unwrap().unwrap();
        }
        let at: Vec<u64> = up
            .calls()
            .iter()
            .map(|t| (*t - t0).as_millis() as u64)
            .collect();
        assert_eq!(at, [0, 0, 100, 200, 300]);
    }

    #[tokio::test(start_paused = true)]
    async fn refuses_when_the_wait_would_be_too_long() {
        let up = Scripted::default();
        let svc = layer(cfg(1.0, 1, 0)).layer(up.clone());
        svc.clone()
            .oneshot(ChatRequest::user_text("m", "q"))
            .await
            .unwrap();
        let err = svc
            .clone()
            .oneshot(ChatRequest::user_text("m", "q"))
            .await
            .unwrap_err();
        assert_eq!(err, ClientError::Rejected(Rejection::LimiterFull));
        assert_eq!(up.call_count(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn fair_share_and_priorities_order_the_queue() {
        let up = Scripted::default();
        let config = LimiterConfig {
            fair_share: true,
            priorities: true,
            ..cfg(10.0, 1, 10_000)
        };
        let svc = layer(config).layer(up.clone());
        let order = Arc::new(Mutex::new(Vec::new()));
        let send = |user: &str, prio: Priority, label: &'static str| {
            let mut req = ChatRequest::user_text("m", "q");
            req.user = Some(user.into());
            req.priority = prio;
            let svc = svc.clone();
            let order = order.clone();
            tokio::spawn(async move {
                svc.oneshot(req).await.unwrap();
                order.lock().unwrap().push(label);
            })
        };
        // The first takes the only permit; the heavy user's backlog queues.
        let mut handles = vec![send("heavy", Priority::Interactive, "h0")];
        tokio::task::yield_now().await;
        for label in ["h1", "h2", "h3"] {
            handles.push(send("heavy", Priority::Interactive, label));
            tokio::task::yield_now().await;
        }
        handles.push(send("batch", Priority::Batch, "b1"));
        tokio::task::yield_now().await;
        handles.push(send("light", Priority::Interactive, "l1"));
        for h in handles {
            h.await.unwrap();
        }
        // The light user's one request overtakes the heavy backlog; batch goes last.
        assert_eq!(*order.lock().unwrap(), ["h0", "h1", "l1", "h2", "h3", "b1"]);
    }

    #[tokio::test(start_paused = true)]
    async fn adaptive_slows_down_on_429() {
        use crate::testing::Step;
        let config = LimiterConfig {
            algorithm: Algorithm::Adaptive,
            ..cfg(10.0, 1, 10_000)
        };
        let limiter = layer(config);
        let up = Scripted::new([Step::err(ClientError::RateLimited { retry_after: None })]);
        let svc = limiter.layer(up.clone());
        let _ = svc.clone().oneshot(ChatRequest::user_text("m", "q")).await;
        let t1 = Instant::now();
        svc.clone()
            .oneshot(ChatRequest::user_text("m", "q"))
            .await
            .unwrap();
        // At 5/s after the 429, the next permit comes 200 ms later.
        assert_eq!(up.calls()[1] - t1, Duration::from_millis(200));
    }

    #[test]
    fn the_redis_backend_refuses_what_needs_a_local_queue() {
        let redis = LimiterConfig {
            backend: Backend::Redis,
            redis_url: Some("redis://127.0.0.1:6379".into()),
            ..LimiterConfig::default()
        };
        assert_eq!(redis.validate(), Ok(()));
        let fair = LimiterConfig {
            fair_share: true,
            redis_url: None,
            ..redis.clone()
        };
        assert_eq!(
            fair.validate(),
            Err(InvalidLimiter::LocalOnly("fair_share"))
        );
        let no_url = LimiterConfig {
            redis_url: None,
            ..redis.clone()
        };
        assert_eq!(no_url.validate(), Err(InvalidLimiter::NoRedisUrl));
        // While Redis is away, each of 4 nodes admits a quarter (burst rounded up).
        let share = LimiterConfig {
            nodes: 4,
            rate: Rate::per_second(10.0),
            burst: 3,
            ..redis
        };
        assert_eq!(share.local_share(), (2.5, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn interactive_requests_pass_deferred_batch_ones() {
        use crate::limiter::fake::upstream;
        let config = LimiterConfig {
            batch_reserve: Some(Share::new(0.3).unwrap()),
            batch_max_wait: HumanDuration(Duration::from_secs(60)),
            ..cfg(100.0, 100, 1000)
        };
        let obs = Arc::new(crate::observer::CountingObserver::default());
        let limiter = LimiterLayer::new(config, obs.clone()).unwrap();
        // 10 % of the token quota left, refilling over 60 s (30 % after 13.3 s).
        let (up, seen) = upstream(crate::request::Outcome::Upstream, [100, 100, 900]);
        let svc = limiter.layer(up);
        svc.clone()
            .oneshot(ChatRequest::user_text("m", "first"))
            .await
            .unwrap();
        let t0 = Instant::now();
        let mut batch = ChatRequest::user_text("m", "batch");
        batch.priority = Priority::Batch;
        let deferred = tokio::spawn(svc.clone().oneshot(batch));
        tokio::task::yield_now().await;
        svc.clone()
            .oneshot(ChatRequest::user_text("m", "interactive"))
            .await
            .unwrap();
        assert_eq!(t0.elapsed(), Duration::ZERO);
        deferred.await.unwrap().unwrap();
        assert!(t0.elapsed() > Duration::from_secs(13), "{:?}", t0.elapsed());
        let order: Vec<String> = seen
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.messages[0].text().to_string())
            .collect();
        assert_eq!(order, ["first", "interactive", "batch"]);
        assert_eq!(crate::observer::CountingObserver::get(&obs.deferred), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn an_expired_deferral_is_refused_once_then_goes_straight() {
        use crate::limiter::fake::upstream;
        let config = LimiterConfig {
            batch_reserve: Some(Share::new(0.5).unwrap()),
            batch_max_wait: HumanDuration(Duration::from_secs(2)),
            ..LimiterConfig::default()
        };
        let limiter = LimiterLayer::new(config, Arc::new(NoopObserver)).unwrap();
        let (up, seen) = upstream(crate::request::Outcome::Upstream, [0]);
        let svc = limiter.layer(up);
        svc.clone()
            .oneshot(ChatRequest::user_text("m", "q"))
            .await
            .unwrap();
        let mut batch = ChatRequest::user_text("m", "batch");
        batch.priority = Priority::Batch;
        let t0 = Instant::now();
        let err = svc.clone().oneshot(batch.clone()).await.unwrap_err();
        assert_eq!(err, ClientError::Rejected(Rejection::LimiterFull));
        assert_eq!(t0.elapsed(), Duration::from_secs(2));
        // The fallback's queue step sends the same request (same trace) again: no second wait.
        svc.clone().oneshot(batch).await.unwrap();
        assert_eq!(t0.elapsed(), Duration::from_secs(2));
        assert_eq!(seen.lock().unwrap().len(), 2);
    }

    #[test]
    fn deferral_keys_are_checked() {
        let c = LimiterConfig {
            batch_reserve: Some(Share::new(0.3).unwrap()),
            batch_max_wait: HumanDuration(Duration::ZERO),
            ..LimiterConfig::default()
        };
        assert_eq!(c.validate(), Err(InvalidLimiter::ZeroBatchWait));
        let e = toml::from_str::<LimiterConfig>("batch_reserve = \"130%\"").unwrap_err();
        assert!(e.to_string().contains("not a share"), "{e}");
        let c: LimiterConfig =
            toml::from_str("batch_reserve = \"30%\"\nbatch_max_wait = \"10s\"").unwrap();
        assert_eq!(c.batch_reserve.map(Share::fraction), Some(0.3));
        assert_eq!(c.validate(), Ok(()));
    }
}
