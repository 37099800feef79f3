//! The driver: runs a scenario's workload through the client stack against the upstream,
//! recording latency without coordinated omission.

pub mod arrivals;
mod closed_model;
mod lanes;
mod open_model;
pub mod recorder;
pub mod run;
mod session;
pub mod workload;

pub use recorder::{Completion, IntervalRow, Recorder, Totals};
pub use run::{run, RunOptions, RunResult, Target};
