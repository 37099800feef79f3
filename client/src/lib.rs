#![doc = include_str!("../README.md")]
//!
//! Dependency direction: this crate depends on `gauntlet-wire` alone among Gauntlet's crates and
//! knows nothing of the mock, the driver, reports or CLI, so a service can put it in front of its
//! own upstream without the toolkit.

/// The wire types, durations and rates the stack's config and requests are written in.
pub use gauntlet_wire as wire;

#[macro_use]
mod layer_support;
pub mod adapter;
pub mod answer_cap;
pub mod breaker;
pub mod cache;
pub mod chat_service;
pub mod config;
pub mod context;
pub mod error;
pub mod fallback;
pub mod filter;
pub mod limiter;
pub mod models;
pub mod observer;
pub mod passthrough;
pub mod pool;
pub mod request;
pub mod retry;
pub mod shared_store;
pub mod stack;
pub mod testing;
pub mod timeout;
pub mod transport;

pub use chat_service::ChatService;
pub use config::ClientConfig;
pub use error::{ClientError, Rejection, StreamErrorEvent, TimeoutScope};
pub use layer_support::{ChatFuture, Inner};
pub use observer::{BreakerState, CountingObserver, Event, NoopObserver, Observer, SharedObserver};
pub use request::{
    ChatRequest, ChatResponse, Outcome, Priority, RateLimitInfo, Route, TokenObserver, Trace,
};
pub use stack::{ClientStack, StackBuilder, StackError};
