//! The driver: runs a scenario's workload through the client stack against the upstream,
//! recording latency without coordinated omission.

pub(crate) mod arrivals;
mod asks;
mod closed_model;
mod error;
mod open_model;

pub mod recorder;
mod recorder_rows;
mod recorder_tokens;
mod remote_view;
pub(crate) mod requests_log;
pub mod run;
pub mod runtime;
mod session;
mod stall;
mod template;
mod threads;
mod trace_replay;
pub mod workload;

pub use requests_log::RequestsLogTarget;
pub use run::{run, RunOptions, StartSystem, SystemTarget, Target};
