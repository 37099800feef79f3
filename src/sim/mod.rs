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

/// Runs `scenario` on virtual time; `stop` ends it early (Ctrl-C: see [`ctrl_c`]).
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
    };
    runtime.block_on(driver::run(scenario, options, stop))
}

/// Completes on Ctrl-C. A simulation's runtime has no I/O driver, which tokio's signal handling
/// needs, so a helper thread with its own small runtime waits for the signal and passes it on.
/// If that thread cannot start, the future never completes (the run goes to its end).
pub fn ctrl_c() -> impl Future<Output = ()> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name("gauntlet-ctrl-c".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    let _ = tx.send(());
                }
            });
        });
    async move {
        // A dropped sender (no signal handler) must not end the run.
        if spawned.is_err() || rx.await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
