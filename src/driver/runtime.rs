//! The runtime a real run goes on, shared by `gauntlet run` and `plan --confirm`.

use std::future::Future;

use super::run::RunError;

/// A multi-thread runtime of `threads` workers (at least one) that keeps the embedded mock, the
/// interval ticker and Ctrl-C; each driver thread sends on a runtime of its own.
pub fn real_runtime(threads: usize) -> Result<tokio::runtime::Runtime, RunError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .map_err(RunError::Runtime)
}

/// Runs `run` on a worker of `runtime`, not on the calling thread: when a run uses this runtime
/// itself (a Redis-backed client), its schedule loop would otherwise be one thread more, woken
/// by the timer for every arrival and waking a worker for every request it starts. A panic of
/// the run comes back as [`RunError::Panicked`].
pub fn on_worker<T, E>(
    runtime: &tokio::runtime::Runtime,
    run: impl Future<Output = Result<T, E>> + Send + 'static,
) -> Result<T, E>
where
    T: Send + 'static,
    E: From<RunError> + Send + 'static,
{
    runtime
        .block_on(runtime.spawn(run))
        .unwrap_or_else(|e| Err(RunError::Panicked(e.to_string()).into()))
}
