//! A key pool: several API keys (a free one and a paid one, say) for one logical model, each
//! with its own limits and price. Each request goes with a key that has room (the lowest tier
//! first, then by `strategy`); a 429 rests the key (for `retry-after`, else `cooldown`) and the
//! request tries the next key at once; `insufficient_quota` marks the key spent until its day
//! ends. When no key has room the pool answers as the upstream would: `RateLimited` with the
//! time the first key frees up, or `QuotaExhausted` when every key is spent, so the retry layer
//! and the model chain treat it like the upstream's own answer.
//!
//! In the stack it sits inside the retries (a retry may take another key) and outside the
//! breaker and the limiter, so the limiter's `scope = "per_key"` sees the key the pool chose.

mod config;
mod core;
mod window;

use std::sync::{Arc, Mutex};

use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt};

pub use self::config::{InvalidPool, KeyEntry, PoolConfig, Strategy, MAX_KEYS, MAX_LIMIT};
pub use self::core::{Choice, Finish, KeyPool};
use super::error::ClientError;
use super::layer_support::Inner;
use super::observer::{Event, SharedObserver};
use super::request::{ChatRequest, ChatResponse};

/// Adds the pool; built once per stack, so every request shares the counts.
#[derive(Debug, Clone)]
pub struct PoolLayer {
    state: Arc<Mutex<KeyPool>>,
    secrets: Arc<[String]>,
    observer: SharedObserver,
}

impl PoolLayer {
    /// Checks `config` and reads every key's secret now (a missing `key_env` is an error at
    /// build time, not at the first request).
    pub fn new(config: &PoolConfig, observer: SharedObserver) -> Result<Self, InvalidPool> {
        config.validate()?;
        let secrets = config
            .keys
            .iter()
            .map(KeyEntry::secret)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            state: Arc::new(Mutex::new(KeyPool::new(config, Instant::now()))),
            secrets: secrets.into(),
            observer,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, KeyPool> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Requests sent with key number `key` today (its place in the config).
    pub fn sent_today(&self, key: usize) -> u64 {
        self.lock().sent_today(key, Instant::now())
    }
}

impl<S> Layer<S> for PoolLayer {
    type Service = Pool<S>;
    fn layer(&self, inner: S) -> Pool<S> {
        Pool {
            inner,
            layer: self.clone(),
        }
    }
}

/// A service behind [`PoolLayer`]: sends each request with a key from the pool.
#[derive(Debug, Clone)]
pub struct Pool<S> {
    inner: S,
    layer: PoolLayer,
}

/// Gives the key's reservation back if the attempt is dropped (a timeout above), so a lost
/// call does not stay "in flight" for ever.
struct Reservation {
    layer: PoolLayer,
    key: usize,
    done: bool,
}

impl Reservation {
    fn finish(mut self, how: Finish) -> Option<std::time::Duration> {
        self.done = true;
        self.layer.lock().finished(self.key, Instant::now(), how)
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.done {
            self.layer
                .lock()
                .finished(self.key, Instant::now(), Finish::Other);
        }
    }
}

impl<S: Inner> Service<ChatRequest> for Pool<S> {
    always_ready_chat_service!();

    fn call(&mut self, req: ChatRequest) -> Self::Future {
        let inner = self.inner.clone();
        let layer = self.layer.clone();
        Box::pin(async move {
            let mut last = None;
            // Each failed try rests or spends its key, so one pass over the keys is enough.
            for _ in 0..layer.secrets.len() {
                let choice = layer.lock().decide(Instant::now());
                let key = match choice {
                    Choice::Key(k) => k,
                    Choice::Busy { until } => {
                        return Err(last.unwrap_or(ClientError::RateLimited {
                            retry_after: Some(until.saturating_duration_since(Instant::now())),
                        }))
                    }
                    Choice::Spent => return Err(last.unwrap_or(ClientError::QuotaExhausted)),
                };
                match attempt(inner.clone(), &layer, key, req.clone()).await {
                    Ok(resp) => return Ok(resp),
                    Err(e) if switches_key(&e) => last = Some(e),
                    Err(e) => return Err(e),
                }
            }
            Err(last.unwrap_or(ClientError::QuotaExhausted))
        })
    }
}

/// Whether an error is the key's own (its rate or quota), so another key may succeed.
fn switches_key(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::RateLimited { .. } | ClientError::QuotaExhausted
    )
}

/// One try with `key`: sends, then tells the pool (and the observer) how it went.
async fn attempt<S: Inner>(
    inner: S,
    layer: &PoolLayer,
    key: usize,
    mut req: ChatRequest,
) -> Result<ChatResponse, ClientError> {
    let (name, cost_per_1k) = {
        let p = layer.lock();
        (p.name(key), p.cost_per_1k(key))
    };
    let reservation = Reservation {
        layer: layer.clone(),
        key,
        done: false,
    };
    layer
        .observer
        .on_event(&Event::KeyChosen { key: name.clone() });
    req.api_key = Some(layer.secrets[key].clone());
    let result = inner.oneshot(req).await;
    let how = match &result {
        Ok(r) => Finish::Answered {
            tokens: r.usage.as_ref().map_or(0, |u| u64::from(u.total_tokens)),
        },
        Err(ClientError::RateLimited { retry_after }) => Finish::RateLimited {
            retry_after: *retry_after,
        },
        Err(ClientError::QuotaExhausted) => Finish::QuotaExhausted,
        Err(_) => Finish::Other,
    };
    let rest = reservation.finish(how);
    let event = match how {
        Finish::Answered { tokens } => Event::KeyCost {
            key: name,
            tokens,
            cost: tokens as f64 / 1000.0 * cost_per_1k,
            paid: cost_per_1k > 0.0,
        },
        Finish::RateLimited { .. } => Event::KeyCooledDown {
            key: name,
            rest: rest.unwrap_or_default(),
        },
        Finish::QuotaExhausted => Event::KeySpent { key: name },
        Finish::Other => return result,
    };
    layer.observer.on_event(&event);
    result
}
