//! The signals that end a run early: Ctrl-C (SIGINT) and SIGTERM, which `timeout`, a cancelled
//! CI job and a stopping container send. Either ends a run, a simulation or a sweep the same
//! way: what was done is reported, and the exit code says it was interrupted.
//!
//! A helper thread with a small runtime of its own waits for the signals and raises a `watch`
//! flag, so any runtime can wait for it, the simulation's (which has no I/O driver, and tokio's
//! signal handling needs one) and the sweep's many at once.

use tokio::sync::watch;

/// A flag raised by the first SIGINT or SIGTERM; clones share it.
#[derive(Debug, Clone)]
pub struct Interrupt(watch::Receiver<bool>);

impl Interrupt {
    /// Starts listening. If the helper thread or its handlers cannot start, the flag is never
    /// raised and runs go to their end, as they would without a terminal.
    pub fn listen() -> Self {
        let (tx, rx) = watch::channel(false);
        let _ = std::thread::Builder::new()
            .name("gauntlet-signals".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    if wait_for_signal().await {
                        let _ = tx.send(true);
                        // Keep the sender alive: receivers that wait later still see the flag.
                        std::future::pending::<()>().await;
                    }
                });
            });
        Self(rx)
    }

    /// Whether a signal has arrived.
    pub fn raised(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes when a signal arrives (at once if one has); never if listening failed.
    pub async fn wait(mut self) {
        if self.0.wait_for(|raised| *raised).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Waits for SIGINT or SIGTERM; false when no handler could be installed.
#[cfg(unix)]
async fn wait_for_signal() -> bool {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return false;
    };
    tokio::select! {
        _ = int.recv() => true,
        _ = term.recv() => true,
    }
}

/// Waits for Ctrl-C; false when no handler could be installed.
#[cfg(not(unix))]
async fn wait_for_signal() -> bool {
    tokio::signal::ctrl_c().await.is_ok()
}
