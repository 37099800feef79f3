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
    /// Starts listening, and returns once the handlers are installed: a signal sent the moment
    /// after (a test's, or a supervisor's right after the process says it is ready) is caught,
    /// never left to the default action that kills the process without a report. If the helper
    /// thread or its handlers cannot start, the flag is never raised and runs go to their end,
    /// as they would without a terminal.
    pub fn listen() -> Self {
        let (tx, rx) = watch::channel(false);
        let (installed_tx, installed) = std::sync::mpsc::channel::<()>();
        let spawned = std::thread::Builder::new()
            .name("gauntlet-signals".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    let Some(signals) = Signals::install() else {
                        return;
                    };
                    drop(installed_tx);
                    signals.first().await;
                    let _ = tx.send(true);
                    // Keep the sender alive: receivers that wait later still see the flag.
                    std::future::pending::<()>().await;
                });
            });
        if spawned.is_ok() {
            // Returns when the thread drops its sender: installed, or given up.
            let _ = installed.recv();
        }
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

/// The installed handlers; signals that arrive after installation are kept until waited for.
#[cfg(unix)]
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    /// Installs the SIGINT and SIGTERM handlers; `None` when either cannot be.
    fn install() -> Option<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Some(Self {
            int: signal(SignalKind::interrupt()).ok()?,
            term: signal(SignalKind::terminate()).ok()?,
        })
    }

    /// Completes at the first of either signal.
    async fn first(mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}

/// Ctrl-C where there are no Unix signals; its handler is installed when first polled.
#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    /// Nothing to install ahead.
    fn install() -> Option<Self> {
        Some(Self)
    }

    /// Completes at Ctrl-C; never if its handler could not be installed.
    async fn first(self) {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
