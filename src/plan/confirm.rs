//! `--confirm`: the answer run once on real time against the embedded mock over 127.0.0.1, as
//! `gauntlet run` runs it, because a simulation leaves out what only a real run has (socket and
//! scheduling delays, the driver's own CPU).

use crate::driver::run::RunError;
use crate::driver::runtime::{on_worker, real_runtime};
use crate::driver::{self, RunOptions, Target};
use crate::record::RunResult;
use crate::scenario::Scenario;
use crate::signals::Interrupt;

/// Runs `scenario` on real time with the embedded mock, on `threads` driver threads.
pub fn run_real(
    scenario: &Scenario,
    threads: usize,
    interrupt: &Interrupt,
) -> Result<RunResult, RunError> {
    let options = RunOptions {
        target: Target::Embedded,
        allow_remote: false,
        epoch_secs: crate::wall_clock::epoch_secs(),
        on_interval: None,
        threads: threads.max(1),
        requests_log: None,
        system: None,
    };
    let runtime = real_runtime(threads)?;
    let scenario = scenario.clone();
    let stop = interrupt.clone().wait();
    on_worker(&runtime, async move {
        driver::run(&scenario, options, stop).await
    })
}
