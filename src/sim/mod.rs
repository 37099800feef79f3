//! Simulation: a scenario on virtual time. The whole run happens in one process on a
//! current-thread tokio runtime whose clock is paused and jumps to the next timer whenever
//! every task waits; the client stack calls mock-upstream's `Router` in-process (no sockets).
//! An hour of traffic takes seconds, and the same scenario and seed give byte-identical reports:
//! every clock read and sleep in the stack, the mock and the driver goes through `tokio::time`,
//! every random draw comes from the seed, and nothing depends on hash or scheduling randomness.

pub(crate) mod grid;
pub(crate) mod sweep;

use std::future::Future;

use crate::driver::run::RunError;
use crate::driver::{self, RunOptions, Target};
use crate::record::RunResult;
use crate::scenario::Scenario;

/// Runs `scenario` on virtual time; `stop` ends it early (SIGINT or SIGTERM: see
/// [`crate::signals::Interrupt`]).
///
/// The runtime has a clock and no I/O driver: nothing in a simulation touches a socket, and
/// without one a jump of the virtual clock parks on nothing instead of making an `epoll_wait`
/// system call.
pub fn run(scenario: &Scenario, stop: impl Future<Output = ()>) -> Result<RunResult, RunError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .map_err(RunError::Runtime)?;
    let options = RunOptions {
        target: Target::InProcess,
        allow_remote: false,
        // `created` fields count from the Unix epoch: no wall-clock value enters a report.
        epoch_secs: 0,
        on_interval: None,
        threads: 0,
        system: None,
    };
    runtime.block_on(driver::run(scenario, options, stop))
}
