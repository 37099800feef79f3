//! # gauntlet-wire
//!
//! What Gauntlet's mock upstream, its client stack and its toolkit must agree on, and nothing
//! else: the OpenAI wire types ([`openai`]), Anthropic's Messages API types ([`anthropic`]), the
//! units people write in config files ([`duration`], [`rate`]), the one token approximation
//! ([`tokens`]) and the hash that is the same in every process ([`hash`]).
//!
//! It depends on serde and serde_json alone (serde_json for the free-form JSON of tool schemas
//! and tool inputs), so the mock and a service that adds only the client share one definition
//! of every shape without pulling in each other's dependencies.

pub mod anthropic;
pub mod duration;
pub mod hash;
pub mod openai;
pub mod rate;
pub mod tokens;
