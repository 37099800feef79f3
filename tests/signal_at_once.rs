//! A SIGTERM sent the moment after `Interrupt::listen` returns is caught and raises the flag,
//! instead of killing the process with no report: `listen` returns only once its handlers are
//! installed. (Before, they were installed later on a helper thread, and a signal sent in
//! between, as a CI test or a supervisor may, ended a draining proxy with no exit code.)
//! Alone in its binary, because it signals its own process.

use std::time::Duration;

use gauntlet::signals::Interrupt;

#[tokio::test]
async fn a_sigterm_right_after_listen_is_caught() {
    for _ in 0..20 {
        let interrupt = Interrupt::listen();
        // At once, from this thread: no `kill` process to spawn first.
        nix::sys::signal::raise(nix::sys::signal::Signal::SIGTERM).expect("raise");
        tokio::time::timeout(Duration::from_secs(10), interrupt.wait())
            .await
            .expect("the signal raised the flag");
    }
}
