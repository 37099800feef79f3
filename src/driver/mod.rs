//! The driver: runs a scenario's workload through the client stack against the upstream,
//! recording latency without coordinated omission.

pub(crate) mod arrivals;
mod asks;
mod closed_model;
mod error;
mod open_model;
pub(crate) mod recorder;
pub mod run;
mod session;
mod stall;
mod template;
mod threads;
pub mod workload;

pub use run::{run, RunOptions, StartSystem, SystemTarget, Target};
