//! The one place that opens Redis connections, for the layers that share state across nodes
//! (the global limiter and the second-level cache).
//!
//! A node must keep answering when Redis is down, so the connection is lazy (building a stack
//! never waits for Redis), every command has a deadline on the tokio clock, and after a failure
//! the link stays "down" for a short pause: callers take their local path at once instead of
//! each paying the deadline, and the first call after the pause probes Redis again.

#[cfg(feature = "redis")]
mod link;

#[cfg(feature = "redis")]
pub use link::{RedisLink, StoreError, DOWN_PAUSE};

/// Why a Redis link could not be set up.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvalidRedis {
    /// Not a `redis://` or `rediss://` URL the client understands.
    #[error("{url}: not a Redis URL ({reason})")]
    BadUrl {
        /// The URL as written.
        url: String,
        /// What the client said.
        reason: String,
    },
    /// Building the link outside a tokio runtime.
    #[error("the Redis backend needs a tokio runtime")]
    NoRuntime,
    /// This build of `gauntlet-client` has no Redis support: a service that shares state across
    /// nodes turns on the crate's `redis` feature (the toolkit does).
    #[error("this build has no Redis support (enable gauntlet-client's `redis` feature)")]
    NotBuiltIn,
}
