//! What the mock does wrong, and when: the fault config and the engine that applies it.

pub mod buckets;
pub mod config;
pub mod distribution;
pub mod engine;
pub mod failure;
pub mod load;
pub mod models;
pub(crate) mod values;

pub use config::{FaultConfig, FaultConfigSpec};
pub use engine::{Decision, FaultEngine, Outcome, RequestInfo, Route};
pub use load::{load_file, parse_json, parse_toml, ConfigError};
