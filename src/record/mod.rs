//! What a run records, in the shape every reader reads: interval rows, the run's totals, the
//! scripted events, the run result and the one list of outcomes, and the one way a histogram is
//! made.
//!
//! The driver writes these; reports, the simulation's sweeps and the CLI read them. Neither side
//! imports the other: both import this module.

mod histogram;
mod interval;
mod outcome;
mod pool;
mod run;
mod tokens;
mod totals;
mod upstream_view;

pub use histogram::{new_histogram, record, MAX_US};
pub use interval::IntervalRow;
pub use outcome::{Outcome, OutcomeCounts};
pub use pool::PoolTotals;
pub use run::{EventWindow, RunResult};
pub use tokens::{
    record_gap, record_rate, SloCount, SloTotals, TokenInterval, TokenLog, TokenRow, TokenState,
    TokenTotals, MAX_GAPS,
};
pub use totals::Totals;
pub use upstream_view::{UpstreamView, ViewInterval};
