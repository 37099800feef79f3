//! What every layer shares: the bound on the service it wraps and the future it returns.
//!
//! Every layer's `Service` is always ready (back-pressure is the limiter's job, as a queue with
//! a bound, not `poll_ready`), clones its inner service per call, and returns a boxed future.

use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::time::Instant;
use tower::Service;

use super::error::ClientError;
use super::request::{ChatRequest, ChatResponse};

/// Boxed and `'static`: each call owns a clone of the inner service, so it can be spawned, and
/// layers stack without naming each other's future types.
pub type ChatFuture = BoxFuture<'static, Result<ChatResponse, ClientError>>;

/// What a layer can wrap: a chat service that is cloned for each call and whose future can be
/// spawned; any layer of this crate, or a caller's own client.
pub trait Inner:
    Service<ChatRequest, Response = ChatResponse, Error = ClientError, Future: Send + 'static>
    + Clone
    + Send
    + 'static
{
}

impl<S> Inner for S where
    S: Service<ChatRequest, Response = ChatResponse, Error = ClientError, Future: Send + 'static>
        + Clone
        + Send
        + 'static
{
}

/// The associated types and the always-ready `poll_ready` of a layer's `Service` impl.
macro_rules! always_ready_chat_service {
    () => {
        type Response = $crate::request::ChatResponse;
        type Error = $crate::error::ClientError;
        type Future = $crate::layer_support::ChatFuture;

        fn poll_ready(
            &mut self,
            _cx: &mut ::std::task::Context<'_>,
        ) -> ::std::task::Poll<Result<(), Self::Error>> {
            ::std::task::Poll::Ready(Ok(()))
        }
    };
}

/// `now + d`, or about 30 years from now when that overflows (`Instant + huge` panics): a
/// deadline from a config's `Duration::MAX` means "never", as tokio's own sleeps read it.
pub(crate) fn deadline_after(now: Instant, d: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(86_400 * 365 * 30);
    now.checked_add(d)
        .or_else(|| now.checked_add(FAR))
        .unwrap_or(now)
}

#[cfg(test)]
mod deadline_tests {
    use super::*;

    #[test]
    fn a_huge_duration_is_a_far_deadline_not_a_panic() {
        let now = Instant::now();
        assert_eq!(
            deadline_after(now, Duration::from_secs(2)),
            now + Duration::from_secs(2)
        );
        assert!(deadline_after(now, Duration::MAX) > now + Duration::from_secs(86_400 * 365));
    }
}
