#![doc = include_str!("README.md")]
//!
//! Dependency direction: this module knows nothing of the driver, reports or CLI, so a library
//! user can put it in front of their own service.

#[macro_use]
mod layer_support;
pub mod adapter;
pub mod breaker;
pub mod cache;
pub mod chat_service;
pub mod config;
pub mod context;
pub mod error;
pub mod fallback;
pub mod filter;
pub mod limiter;
pub mod observer;
pub mod rate;
pub mod request;
pub mod retry;
pub mod shared_store;
pub mod stack;
pub mod testing;
pub mod timeout;
pub mod transport;

pub use chat_service::ChatService;
pub use config::ClientConfig;
pub use error::{ClientError, Rejection, TimeoutScope};
pub use layer_support::{ChatFuture, Inner};
pub use observer::{BreakerState, CountingObserver, Event, NoopObserver, Observer, SharedObserver};
pub use request::{ChatRequest, ChatResponse, Outcome, Priority, RateLimitInfo, Trace};
pub use stack::{ClientStack, StackBuilder, StackError};
