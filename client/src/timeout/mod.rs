//! Timeouts per attempt and for the whole request, on the tokio clock.
//!
//! The attempt timeout sits inside the retry layer (a slow attempt is abandoned and retried);
//! the total timeout sits outside it (no request takes longer than the caller can wait).

use std::time::Duration;

use gauntlet_wire::duration::HumanDuration;
use serde::{Deserialize, Serialize};
use tower::{Layer, Service, ServiceExt};

use super::error::{ClientError, TimeoutScope};
use super::layer_support::Inner;
use super::request::ChatRequest;

/// `[client.timeout]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimeoutConfig {
    /// `false` turns both off.
    pub enabled: bool,
    /// Bound of one attempt.
    pub attempt: Option<HumanDuration>,
    /// Bound of the whole request, retries and limiter waits included.
    pub total: Option<HumanDuration>,
}

impl Default for TimeoutConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            attempt: Some(HumanDuration(Duration::from_secs(30))),
            total: Some(HumanDuration(Duration::from_secs(60))),
        }
    }
}

/// Bounds the inner service's time; the error names the scope.
#[derive(Debug, Clone, Copy)]
pub struct TimeoutLayer {
    limit: Duration,
    scope: TimeoutScope,
}

impl TimeoutLayer {
    /// A timeout of `limit` reported as `scope`.
    pub fn new(limit: Duration, scope: TimeoutScope) -> Self {
        Self { limit, scope }
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;
    fn layer(&self, inner: S) -> Timeout<S> {
        Timeout {
            inner,
            layer: *self,
        }
    }
}

/// A service behind [`TimeoutLayer`]: drops the inner call at `limit` and fails with
/// `ClientError::Timeout` of its scope, a broken stream's when the stream it dropped had
/// delivered content (a stall after the first token).
#[derive(Debug, Clone)]
pub struct Timeout<S> {
    inner: S,
    layer: TimeoutLayer,
}

impl<S: Inner> Service<ChatRequest> for Timeout<S> {
    always_ready_chat_service!();

    fn call(&mut self, req: ChatRequest) -> Self::Future {
        let trace = req.trace.clone();
        let fut = self.inner.clone().oneshot(req);
        let TimeoutLayer { limit, scope } = self.layer;
        Box::pin(async move {
            match tokio::time::timeout(limit, fut).await {
                Ok(r) => r,
                Err(_) => Err(ClientError::Timeout { scope }.after_tokens(trace.stream_chunks())),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Scripted, Step};
    use tokio::time::Instant;

    #[tokio::test(start_paused = true)]
    async fn fires_exactly_at_the_limit() {
        let up = Scripted::new([Step::Ok(Duration::from_secs(10), "late".into())]);
        let svc = TimeoutLayer::new(Duration::from_secs(2), TimeoutScope::Attempt).layer(up);
        let t0 = Instant::now();
        let err = svc
            .oneshot(ChatRequest::user_text("m", "q"))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            ClientError::Timeout {
                scope: TimeoutScope::Attempt
            }
        );
        assert_eq!(t0.elapsed(), Duration::from_secs(2));
    }
}
