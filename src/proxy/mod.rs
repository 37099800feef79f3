//! `gauntlet proxy`: an OpenAI-compatible server that sends every request through the client
//! stack built from a config's `[client.*]` tables (a scenario's, byte for byte), in front of
//! the real API or the mock.
//!
//! - [`config`]: the file (`[client.*]` as a scenario parses it, and `[proxy]`).
//! - [`server`]: the stack, the router, serving and draining.
//! - `routes*`: the caller's body in, the stack's answer (or refusal) out as the API says it.
//! - [`reload`]: SIGHUP reads the file again and swaps in a new stack for new requests.
//! - `stream*`: streamed answers passed through frame by frame, and replays of answers that
//!   did not stream from the upstream (cache hits, coalesced answers, fallbacks).
//!
//! What reaches the upstream is the caller's own JSON body with only what the stack changed put
//! in (the model, and the messages when the context layer changed them): fields the stack does
//! not model (`top_p`, `logprobs`, `user`, `metadata`, ...) pass through unchanged.

pub mod access_log;
pub mod config;
pub mod health;
pub mod metrics;
pub mod reload;
mod routes;
mod routes_answer;
mod routes_error;
mod routes_json;
mod routes_mark;
mod routes_models;
mod routes_ops;
mod routes_parse;
pub mod server;
mod stream;
mod stream_replay;

pub use config::ProxyConfig;
pub use server::{RunningProxy, StartError};
