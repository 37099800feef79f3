//! How requests reach the upstream: over HTTP with a connection pool, or in-process by calling
//! mock-upstream's `Router` as a tower `Service` (no socket; the simulation runs on it).
//!
//! Both are the same boxed service type, so the adapter above does not know which one it has.

mod http_client;
mod in_process;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use tower::util::BoxCloneSyncService;

pub use http_client::{http_transport, HttpTransportConfig};
pub use in_process::in_process_transport;

/// Errors bodies and transports box into.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A response body as the adapter reads it, frame by frame.
pub type TransportBody = UnsyncBoxBody<Bytes, BoxError>;

/// The transport service: a full request in, a streaming response out.
pub type Transport =
    BoxCloneSyncService<http::Request<Bytes>, http::Response<TransportBody>, TransportError>;

/// Why no response arrived.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// No connection could be made.
    #[error("connect: {0}")]
    Connect(String),
    /// The connection closed before a response head.
    #[error("reset: {0}")]
    Reset(String),
    /// The request could not be built or sent.
    #[error("{0}")]
    Other(String),
}
