//! `gauntlet proxy`: the client stack served as an OpenAI-compatible endpoint.

pub mod access_log;
pub mod health;
pub mod metrics;
