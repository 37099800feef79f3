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
                    // Some key frees up later: the retry layer may wait for it.
                    Choice::Busy { until } => {
                        return Err(ClientError::RateLimited {
                            retry_after: Some(until.saturating_duration_since(Instant::now())),
                        })
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::observer::CountingObserver;

    /// An upstream where `sk-a` is out of quota and `sk-b` says 429 (retry after 2 s) until
    /// `b_ok` is set.
    fn upstream(
        b_ok: Arc<std::sync::atomic::AtomicBool>,
    ) -> impl Inner<Future = crate::ChatFuture> {
        tower::service_fn(move |req: ChatRequest| {
            let b_ok = b_ok.load(std::sync::atomic::Ordering::SeqCst);
            Box::pin(async move {
                match req.api_key.as_deref() {
                    Some("sk-a") => Err(ClientError::QuotaExhausted),
                    Some("sk-b") if !b_ok => Err(ClientError::RateLimited {
                        retry_after: Some(Duration::from_secs(2)),
                    }),
                    _ => Ok(ChatResponse::local("ok", crate::Outcome::Upstream)),
                }
            }) as crate::ChatFuture
        })
    }

    #[tokio::test(start_paused = true)]
    async fn fails_over_then_answers_busy_until_the_cooled_key_is_back() {
        let config: PoolConfig = toml::from_str(
            "[[keys]]\nname = \"a\"\nkey = \"sk-a\"\n[[keys]]\nname = \"b\"\nkey = \"sk-b\"",
        )
        .unwrap();
        let obs = Arc::new(CountingObserver::default());
        let layer = PoolLayer::new(&config, obs.clone()).unwrap();
        let b_ok = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let svc = layer.layer(upstream(b_ok.clone()));
        let ask = || ChatRequest::user_text("m", "hi");
        // a is spent, b cools for its retry-after: the request ends rate-limited, not spent.
        let e = svc.clone().oneshot(ask()).await.unwrap_err();
        assert!(matches!(e, ClientError::RateLimited { .. }), "{e:?}");
        // Now nothing is sent: the pool says when b frees up.
        let e = svc.clone().oneshot(ask()).await.unwrap_err();
        assert_eq!(
            e,
            ClientError::RateLimited {
                retry_after: Some(Duration::from_secs(2))
            }
        );
        b_ok.store(true, std::sync::atomic::Ordering::SeqCst);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(svc.clone().oneshot(ask()).await.unwrap().text, "ok");
        let names: Vec<_> = obs
            .events()
            .into_iter()
            .filter_map(|e| match e {
                Event::KeyChosen { key } => Some(key.to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(names, ["a", "b", "b"]);
        assert_eq!(layer.sent_today(0), 1);
        assert_eq!(layer.sent_today(1), 2);
    }
}
