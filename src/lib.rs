//! # Gauntlet
//!
//! Puts an LLM client stack through the gauntlet before production: a fault-injecting,
//! OpenAI-compatible mock upstream ([`mock_upstream`]), the resilience layers a production
//! integration needs, a load driver with honest latency measurement, and virtual-time simulation.
//!
//! This crate is being built issue by issue; today it re-exports the mock so library users have
//! one dependency to add.

pub use gauntlet_client as client;
pub use gauntlet_wire as wire;
pub use mock_upstream;

pub mod cli;
pub mod driver;
pub mod in_process;
pub mod record;
pub mod report;
pub mod scenario;
pub mod sim;
