//! How requests reach the upstream: over HTTP with a connection pool, or through any function or
//! tower service that answers an `http::Request` (the toolkit's simulation plugs the mock's
//! `Router` in here, with no socket).
//!
//! Both are the same erased service type, so the adapter above does not know which one it has.

mod http1_pool;
mod http_client;
mod roots;
mod table;

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http_body_util::combinators::UnsyncBoxBody;

pub use http_client::{http_transport, use_pool, HttpTransportConfig};
pub use roots::{ExtraRoots, RootsError, MAX_EXTRA_ROOTS, MAX_PEM_BYTES};
pub use table::TransportTable;

/// Errors bodies and transports box into.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A response body as the adapter reads it, frame by frame.
pub type TransportBody = UnsyncBoxBody<Bytes, BoxError>;

/// What a transport call resolves to.
pub type TransportResult = Result<http::Response<TransportBody>, TransportError>;

/// The transport service: a full request in, a streaming response out.
///
/// One function behind an `Arc`: cloning it (the adapter does, for every attempt) is a
/// reference count, where tower's `BoxCloneSyncService` allocated a fresh box per clone.
#[derive(Clone)]
pub struct Transport(
    Arc<dyn Fn(http::Request<Bytes>) -> BoxFuture<'static, TransportResult> + Send + Sync>,
);

impl Transport {
    /// A transport from a function that starts a call; the future it returns must own what
    /// it needs.
    pub fn new<F, Fut>(call: F) -> Self
    where
        F: Fn(http::Request<Bytes>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = TransportResult> + Send + 'static,
    {
        Self(Arc::new(move |req| Box::pin(call(req))))
    }

    /// A transport from any always-usable tower service (an HTTP client of your own, a test
    /// double): each call goes to a clone of it, once it is ready.
    pub fn from_service<S>(service: S) -> Self
    where
        S: tower::Service<
                http::Request<Bytes>,
                Response = http::Response<TransportBody>,
                Error = TransportError,
            > + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        use tower::ServiceExt;
        Self::new(move |req| service.clone().oneshot(req))
    }
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Transport")
    }
}

impl tower::Service<http::Request<Bytes>> for Transport {
    type Response = http::Response<TransportBody>;
    type Error = TransportError;
    type Future = BoxFuture<'static, TransportResult>;

    /// Always ready: a transport queues inside its call (the connection pool does).
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), TransportError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Bytes>) -> Self::Future {
        (self.0)(req)
    }
}

/// An error and its sources on one line: hyper's own message ("error trying to connect") says
/// little without the cause beneath it ("Connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Why no response arrived.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// No connection could be made.
    #[error("connect: {0}")]
    Connect(String),
    /// The TLS handshake failed (an untrusted, expired or misnamed certificate): the message
    /// begins `TLS: ` and names rustls' reason and the origin. A configuration error, which
    /// another attempt would meet again.
    #[error("{0}")]
    Tls(String),
    /// The connection closed before a response head.
    #[error("reset: {0}")]
    Reset(String),
    /// The request could not be built or sent.
    #[error("{0}")]
    Other(String),
    /// The upstream answered bytes that are not an HTTP response (a garbage status line or
    /// header); the adapter reports it as a malformed answer.
    #[error("unparsable response: {0}")]
    Malformed(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full};
    use tower::ServiceExt;

    #[tokio::test]
    async fn any_tower_service_can_be_the_transport() {
        let echo = tower::service_fn(|req: http::Request<Bytes>| async move {
            let body = Full::new(req.into_body())
                .map_err(|never| match never {})
                .boxed_unsync();
            Ok::<_, TransportError>(http::Response::new(body))
        });
        let transport = Transport::from_service(echo);
        let copy = transport.clone();
        for t in [transport, copy] {
            let resp = t
                .oneshot(http::Request::new(Bytes::from_static(b"ping")))
                .await
                .unwrap();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body, "ping");
        }
    }
}
