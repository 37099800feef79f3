//! Circuit breaker: closed / open / half-open. Opens on a failure ratio over a time window once
//! enough calls were seen; while open, calls fail fast (and the fallback answers), so a failing
//! free API is not hammered; after `open_for`, a few probes decide whether to close again.

mod core;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gauntlet_wire::duration::HumanDuration;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt};

pub use self::core::{Admit, BreakerCore, BreakerSettings};
use super::error::{ClientError, Rejection};
use super::layer_support::Inner;
use super::observer::{BreakerState, Event, SharedObserver};
use super::request::ChatRequest;

/// `[client.breaker]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    /// `false` lets every call through.
    pub enabled: bool,
    /// Failures / calls that open it.
    pub failure_ratio: f64,
    /// The window the ratio is measured over.
    pub window: HumanDuration,
    /// Calls needed in the window before it can open.
    pub min_calls: u32,
    /// Time open before probing.
    pub open_for: HumanDuration,
    /// Probes in half-open; all must succeed to close.
    pub half_open_probes: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            failure_ratio: 0.5,
            window: HumanDuration(Duration::from_secs(10)),
            min_calls: 20,
            open_for: HumanDuration(Duration::from_secs(5)),
            half_open_probes: 3,
        }
    }
}

/// Why a breaker config cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvalidBreaker {
    /// Ratio outside (0, 1].
    #[error("breaker.failure_ratio must be in (0, 1], not {0}")]
    Ratio(f64),
    /// A `window` of 0 would never hold a call to count.
    #[error("breaker.window must be longer than 0")]
    Window,
}

impl BreakerConfig {
    /// Checks the values a config file may get wrong.
    pub fn validate(&self) -> Result<(), InvalidBreaker> {
        if !(self.failure_ratio > 0.0 && self.failure_ratio <= 1.0) {
            return Err(InvalidBreaker::Ratio(self.failure_ratio));
        }
        if self.window.0.is_zero() {
            return Err(InvalidBreaker::Window);
        }
        Ok(())
    }
}

/// Adds a circuit breaker; all services it builds share one state.
#[derive(Debug, Clone)]
pub struct BreakerLayer {
    core: Arc<Mutex<BreakerCore>>,
    observer: SharedObserver,
}

impl BreakerLayer {
    /// A breaker that starts closed, or the reason [`BreakerConfig::validate`] refused the config.
    pub fn new(config: &BreakerConfig, observer: SharedObserver) -> Result<Self, InvalidBreaker> {
        config.validate()?;
        Ok(Self {
            core: Arc::new(Mutex::new(BreakerCore::new(BreakerSettings {
                failure_ratio: config.failure_ratio,
                window: config.window.0,
                min_calls: config.min_calls,
                open_for: config.open_for.0,
                half_open_probes: config.half_open_probes,
            }))),
            observer,
        })
    }

    /// The state now, for progress displays.
    pub fn state(&self) -> BreakerState {
        self.core
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .state(Instant::now())
    }
}

impl<S> Layer<S> for BreakerLayer {
    type Service = Breaker<S>;
    fn layer(&self, inner: S) -> Breaker<S> {
        Breaker {
            inner,
            layer: self.clone(),
        }
    }
}

/// A service behind [`BreakerLayer`]: fails fast with `Rejection::BreakerOpen` while open, lets
/// probes through while half-open.
#[derive(Debug, Clone)]
pub struct Breaker<S> {
    inner: S,
    layer: BreakerLayer,
}

impl<S: Inner> Service<ChatRequest> for Breaker<S> {
    always_ready_chat_service!();

    fn call(&mut self, req: ChatRequest) -> Self::Future {
        let layer = self.layer.clone();
        let inner = self.inner.clone();
        Box::pin(async move {
            let admit = layer.with_core(|core, now| core.admit(now));
            if admit == Admit::Reject {
                return Err(ClientError::Rejected(Rejection::BreakerOpen));
            }
            // If this call is dropped unfinished (a total timeout, a caller gone), the guard
            // records it as a failure: a half-open probe must never be left open forever.
            let mut guard = CallRecord {
                layer: &layer,
                admit,
                recorded: false,
            };
            let result = inner.oneshot(req).await;
            guard.record(matches!(&result, Err(e) if e.is_upstream_failure()));
            result
        })
    }
}

/// Records an admitted call's result exactly once; on drop, as a failure.
struct CallRecord<'a> {
    layer: &'a BreakerLayer,
    admit: Admit,
    recorded: bool,
}

impl CallRecord<'_> {
    fn record(&mut self, failed: bool) {
        if !self.recorded {
            self.recorded = true;
            let admit = self.admit;
            self.layer
                .with_core(|core, now| core.record(now, admit, failed));
        }
    }
}

impl Drop for CallRecord<'_> {
    fn drop(&mut self) {
        self.record(true);
    }
}

impl BreakerLayer {
    /// Runs `f` on the state machine and reports any transition it caused.
    fn with_core<T>(&self, f: impl FnOnce(&mut BreakerCore, Instant) -> T) -> T {
        let (out, transitions) = {
            let mut core = self.core.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let first = core.take_transition(now);
            let out = f(&mut core, now);
            (out, [first, core.take_transition(now)])
        };
        for (from, to) in transitions.into_iter().flatten() {
            self.observer.on_event(&Event::Breaker { from, to });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observer::CountingObserver;
    use crate::testing::{Scripted, Step};

    #[tokio::test(start_paused = true)]
    async fn open_breaker_fails_fast_then_recovers() {
        let obs = Arc::new(CountingObserver::default());
        let cfg = BreakerConfig {
            min_calls: 4,
            half_open_probes: 1,
            ..BreakerConfig::default()
        };
        let layer = BreakerLayer::new(&cfg, obs.clone()).unwrap();
        let up = Scripted::new([
            Step::status(503),
            Step::status(503),
            Step::status(503),
            Step::status(503),
        ]);
        let svc = layer.layer(up.clone());
        for _ in 0..4 {
            let _ = svc.clone().oneshot(ChatRequest::user_text("m", "q")).await;
        }
        assert_eq!(layer.state(), BreakerState::Open);
        let err = svc
            .clone()
            .oneshot(ChatRequest::user_text("m", "q"))
            .await
            .unwrap_err();
        assert_eq!(err, ClientError::Rejected(Rejection::BreakerOpen));
        assert_eq!(up.call_count(), 4, "no upstream call while open");
        tokio::time::advance(Duration::from_secs(5)).await;
        svc.clone()
            .oneshot(ChatRequest::user_text("m", "q"))
            .await
            .unwrap();
        assert_eq!(layer.state(), BreakerState::Closed);
        let transitions: Vec<_> = obs
            .events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Breaker { to, .. } => Some(to),
                _ => None,
            })
            .collect();
        assert_eq!(
            transitions,
            [
                BreakerState::Open,
                BreakerState::HalfOpen,
                BreakerState::Closed
            ]
        );
    }
}
