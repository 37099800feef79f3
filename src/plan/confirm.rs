//! `--confirm`: the answer run once on real time against the embedded mock over 127.0.0.1, as
//! `gauntlet run` runs it, because a simulation leaves out what only a real run has (socket and
//! scheduling delays, the driver's own CPU).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::driver::run::RunError;
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
    let threads = threads.max(1);
    // The mock's `created` base; nothing else reads the wall clock.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let options = RunOptions {
        target: Target::Embedded,
        allow_remote: false,
        epoch_secs: now,
        on_interval: None,
        threads,
        requests_log: None,
        system: None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .map_err(RunError::Runtime)?;
    let scenario = scenario.clone();
    let stop = interrupt.clone().wait();
    let task = runtime.spawn(async move { driver::run(&scenario, options, stop).await });
    runtime
        .block_on(task)
        .unwrap_or_else(|e| Err(RunError::Panicked(e.to_string())))
}
