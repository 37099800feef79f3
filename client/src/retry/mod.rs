//! Retry with exponential backoff and jitter, Retry-After, an overall deadline, and a retry
//! budget so a retry storm cannot form. Quota exhaustion, 400 and 401 are never retried (see
//! [`ClientError::is_retryable`]).

mod backoff;
mod budget;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gauntlet_wire::duration::HumanDuration;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt};

pub use backoff::{Backoff, Jitter};
pub use budget::RetryBudget;

use super::adapter::MAX_RETRY_HINT;
use super::error::ClientError;
use super::layer_support::Inner;
use super::observer::{Event, SharedObserver};
use super::request::{ChatRequest, ChatResponse};

/// `[client.retry]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// `false` sends each request once.
    pub enabled: bool,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Backoff before the first retry, before jitter.
    pub base_delay: HumanDuration,
    /// Factor from one backoff to the next; at least 1.
    pub multiplier: f64,
    /// Upper bound of a backoff.
    pub max_delay: HumanDuration,
    /// `none`, `full`, `equal` or `decorrelated`.
    pub jitter: Jitter,
    /// Wait at least what a 429's `retry-after` says.
    pub honor_retry_after: bool,
    /// A `retry-after` longer than this ends the retries instead of waiting.
    pub max_retry_after: HumanDuration,
    /// No retry starts that would end after this time from the first attempt.
    pub deadline: Option<HumanDuration>,
    /// Retries allowed per success over `budget_window`; absent means no budget.
    pub budget_ratio: Option<f64>,
    /// Retries per second always allowed by the budget.
    pub budget_min_per_sec: f64,
    /// How far back the budget counts successes and retries.
    pub budget_window: HumanDuration,
    /// Send a stream that broke after its first token again from the start, when what broke it
    /// is retryable. Off by default: the caller may have shown the tokens, and a restart shows
    /// them twice. Each restart is a `Retry` event of error `stream_broken`, which reports count.
    pub restart_broken_streams: bool,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_attempts: 3,
            base_delay: HumanDuration(Duration::from_millis(200)),
            multiplier: 2.0,
            max_delay: HumanDuration(Duration::from_secs(5)),
            jitter: Jitter::Full,
            honor_retry_after: true,
            max_retry_after: HumanDuration(Duration::from_secs(30)),
            deadline: None,
            budget_ratio: None,
            budget_min_per_sec: 1.0,
            budget_window: HumanDuration(Duration::from_secs(10)),
            restart_broken_streams: false,
        }
    }
}

/// Why a retry config cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvalidRetry {
    /// `max_attempts` is 0.
    #[error("retry.max_attempts must be at least 1")]
    NoAttempts,
    /// `multiplier` below 1 or not finite.
    #[error("retry.multiplier must be 1 or more, not {0}")]
    Multiplier(f64),
    /// `budget_ratio` negative or not finite.
    #[error("retry.budget_ratio must be 0 or more, not {0}")]
    BudgetRatio(f64),
}

impl RetryConfig {
    /// Checks the values a config file may get wrong.
    pub fn validate(&self) -> Result<(), InvalidRetry> {
        if self.max_attempts == 0 {
            return Err(InvalidRetry::NoAttempts);
        }
        if !(self.multiplier.is_finite() && self.multiplier >= 1.0) {
            return Err(InvalidRetry::Multiplier(self.multiplier));
        }
        if let Some(r) = self.budget_ratio {
            if !(r.is_finite() && r >= 0.0) {
                return Err(InvalidRetry::BudgetRatio(r));
            }
        }
        Ok(())
    }

    fn backoff(&self) -> Backoff {
        Backoff {
            base: self.base_delay.0,
            multiplier: self.multiplier,
            cap: self.max_delay.0,
            jitter: self.jitter,
        }
    }
}

/// Adds retries to a service.
#[derive(Debug, Clone)]
pub struct RetryLayer {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: RetryConfig,
    backoff: Backoff,
    rng: Mutex<ChaCha8Rng>,
    budget: Option<Mutex<RetryBudget>>,
    observer: SharedObserver,
}

impl RetryLayer {
    /// A retry layer; `seed` feeds the jitter RNG (derive it from the scenario seed).
    pub fn new(
        config: RetryConfig,
        seed: u64,
        observer: SharedObserver,
    ) -> Result<Self, InvalidRetry> {
        config.validate()?;
        let budget = config.budget_ratio.map(|ratio| {
            Mutex::new(RetryBudget::new(
                ratio,
                config.budget_min_per_sec,
                config.budget_window.0,
            ))
        });
        Ok(Self {
            shared: Arc::new(Shared {
                backoff: config.backoff(),
                config,
                rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
                budget,
                observer,
            }),
        })
    }
}

impl<S> Layer<S> for RetryLayer {
    type Service = Retry<S>;
    fn layer(&self, inner: S) -> Retry<S> {
        Retry {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// A service behind [`RetryLayer`]: sends the request again after a backoff on a retryable error,
/// while attempts, deadline and budget allow.
#[derive(Debug, Clone)]
pub struct Retry<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S: Inner> Service<ChatRequest> for Retry<S> {
    always_ready_chat_service!();

    fn call(&mut self, req: ChatRequest) -> Self::Future {
        let inner = self.inner.clone();
        let shared = self.shared.clone();
        Box::pin(run(inner, shared, req))
    }
}

async fn run<S>(
    inner: S,
    shared: Arc<Shared>,
    req: ChatRequest,
) -> Result<ChatResponse, ClientError>
where
    S: Inner,
{
    let cfg = &shared.config;
    let started = Instant::now();
    let mut attempt = 1u32;
    let mut previous = Duration::ZERO;
    loop {
        let result = inner.clone().oneshot(req.clone()).await;
        let error = match result {
            Ok(resp) => {
                if let Some(b) = &shared.budget {
                    b.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .deposit(Instant::now());
                }
                return Ok(resp);
            }
            Err(e) => e,
        };
        let again = error.is_retryable() || (cfg.restart_broken_streams && error.is_restartable());
        if !cfg.enabled || !again || attempt >= cfg.max_attempts {
            return Err(error);
        }
        let mut delay = {
            let mut rng = shared.rng.lock().unwrap_or_else(|p| p.into_inner());
            shared.backoff.delay(attempt, previous, &mut *rng)
        };
        if cfg.honor_retry_after {
            if let Some(hint) = error.retry_after() {
                if hint_ends_retries(hint, cfg.max_retry_after.0) {
                    return Err(error);
                }
                delay = delay.max(hint);
            }
        }
        let now = Instant::now();
        if let Some(deadline) = cfg.deadline {
            if past_deadline(now.saturating_duration_since(started), delay, deadline.0) {
                return Err(error);
            }
        }
        if let Some(b) = &shared.budget {
            if !b.lock().unwrap_or_else(|p| p.into_inner()).withdraw(now) {
                shared.observer.on_event(&Event::RetryBudgetExhausted);
                return Err(error);
            }
        }
        shared.observer.on_event(&Event::Retry {
            attempt,
            delay,
            error: error.kind(),
        });
        req.trace.add_retry_wait(delay);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        previous = delay;
        attempt += 1;
    }
}

/// A hint longer than `max_retry_after` ends the retries, and so does one at the adapter's clamp
/// ([`MAX_RETRY_HINT`]) whatever `max_retry_after` says: a clamped `retry-after: 1e300` means
/// "not soon", never "wait a day".
fn hint_ends_retries(hint: Duration, max_retry_after: Duration) -> bool {
    hint > max_retry_after || hint >= MAX_RETRY_HINT
}

/// Whether a retry after `delay` would start past `deadline`; an overflowing sum is past it.
fn past_deadline(elapsed: Duration, delay: Duration, deadline: Duration) -> bool {
    elapsed.checked_add(delay).is_none_or(|at| at > deadline)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observer::{CountingObserver, NoopObserver};
    use crate::testing::{Scripted, Step};

    fn config(jitter: Jitter) -> RetryConfig {
        RetryConfig {
            jitter,
            ..RetryConfig::default()
        }
    }

    fn layer(cfg: RetryConfig) -> RetryLayer {
        RetryLayer::new(cfg, 1, Arc::new(NoopObserver)).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn retries_at_the_configured_delays() {
        let up = Scripted::new([Step::status(503), Step::status(503), Step::ok("hi")]);
        let svc = layer(config(Jitter::None)).layer(up.clone());
        let t0 = Instant::now();
        let resp = svc.oneshot(ChatRequest::user_text("m", "q")).await.unwrap();
        assert_eq!(resp.text, "hi");
        let at: Vec<Duration> = up.calls().iter().map(|t| *t - t0).collect();
        assert_eq!(
            at,
            [
                Duration::ZERO,
                Duration::from_millis(200),
                Duration::from_millis(600)
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn honours_retry_after_and_gives_up_on_long_ones() {
        let limited = |secs| ClientError::RateLimited {
            retry_after: Some(Duration::from_secs(secs)),
        };
        let up = Scripted::new([Step::err(limited(2)), Step::ok("hi")]);
        let t0 = Instant::now();
        layer(config(Jitter::None))
            .layer(up.clone())
            .oneshot(ChatRequest::user_text("m", "q"))
            .await
            .unwrap();
        assert_eq!(up.calls()[1] - t0, Duration::from_secs(2));

        let up = Scripted::new([Step::err(limited(300))]);
        let err = layer(config(Jitter::None))
            .layer(up.clone())
            .oneshot(ChatRequest::user_text("m", "q"))
            .await
            .unwrap_err();
        assert_eq!(err, limited(300));
        assert_eq!(up.call_count(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn never_retries_quota_or_client_errors() {
        for e in [
            ClientError::QuotaExhausted,
            ClientError::Client {
                status: 401,
                message: String::new(),
            },
            ClientError::Client {
                status: 400,
                message: String::new(),
            },
        ] {
            let up = Scripted::new([Step::err(e.clone())]);
            let got = layer(config(Jitter::Full))
                .layer(up.clone())
                .oneshot(ChatRequest::user_text("m", "q"))
                .await
                .unwrap_err();
            assert_eq!(got, e);
            assert_eq!(up.call_count(), 1);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn deadline_stops_retries_that_would_end_late() {
        let cfg = RetryConfig {
            max_attempts: 10,
            deadline: Some(HumanDuration(Duration::from_millis(1000))),
            ..config(Jitter::None)
        };
        let up = Scripted::with_default([], Step::status(500));
        layer(cfg)
            .layer(up.clone())
            .oneshot(ChatRequest::user_text("m", "q"))
            .await
            .unwrap_err();
        // 0, 200 ms, 600 ms; the next would be at 1400 ms, past the deadline.
        assert_eq!(up.call_count(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn budget_caps_retries_during_an_outage() {
        let observer = Arc::new(CountingObserver::default());
        let cfg = RetryConfig {
            max_attempts: 5,
            base_delay: HumanDuration(Duration::from_millis(10)),
            budget_ratio: Some(0.1),
            budget_min_per_sec: 0.5,
            budget_window: HumanDuration(Duration::from_secs(10)),
            ..config(Jitter::None)
        };
        let up = Scripted::with_default([], Step::status(503));
        let svc = RetryLayer::new(cfg, 1, observer.clone())
            .unwrap()
            .layer(up.clone());
        for _ in 0..20 {
            let _ = svc.clone().oneshot(ChatRequest::user_text("m", "q")).await;
        }
        // 20 first attempts, and only the floor's 0.5/s x 10 s = 5 retries.
        assert_eq!(up.call_count(), 25);
        assert_eq!(CountingObserver::get(&observer.retries), 5);
        assert!(CountingObserver::get(&observer.budget_exhausted) >= 15);
    }

    #[test]
    fn invalid_configs_are_named() {
        let cfg = RetryConfig {
            max_attempts: 0,
            ..RetryConfig::default()
        };
        assert_eq!(cfg.validate(), Err(InvalidRetry::NoAttempts));
        let cfg = RetryConfig {
            multiplier: 0.5,
            ..RetryConfig::default()
        };
        assert!(cfg
            .validate()
            .unwrap_err()
            .to_string()
            .contains("multiplier"));
    }
}
