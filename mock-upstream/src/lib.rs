//! # mock-upstream
//!
//! An OpenAI-compatible chat-completions server that behaves like a free API under stress:
//! rate limits with the provider's 429 bodies and `x-ratelimit-*` headers, latency
//! distributions and spikes, outages, resets, truncated streams, quota exhaustion and mid-run
//! policy changes, on a scripted timeline, deterministic per seed.
//!
//! The decision logic ([`faults::FaultEngine`]) is a plain type that takes the time as an
//! argument; [`server`] carries its decisions out over HTTP. Every clock read and sleep goes
//! through `tokio::time`, so the whole server also runs in-process on a paused clock.
//!
//! The wire types, durations and token approximation come from `gauntlet-wire`, which the client
//! shares; the mock never depends on the client.

pub mod content;
pub mod embedding;
pub mod faults;
pub mod server;
pub mod text;
pub mod timeline;
pub mod upstream_view;
