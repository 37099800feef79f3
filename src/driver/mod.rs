//! The driver: runs a scenario's workload through the client stack against the upstream,
//! recording latency without coordinated omission.

pub mod arrivals;
mod closed_model;
mod error;
mod open_model;
pub mod recorder;
pub mod run;
mod session;
mod threads;
pub mod workload;

pub use recorder::{Completion, Recorder};
pub use run::{run, RunOptions, Target};
