//! When the mock's timed waits end: on tokio's timer, or finer.
//!
//! Tokio's timer counts in whole milliseconds and rounds every deadline up (and the poller's
//! timeout up once more), so a 20 ms sleep ends 20.1 to 22 ms later — measured 21.3 ms at
//! p50 here, against 20.1 ms for `std::thread::sleep`. A mock whose stream pacing is meant to
//! come back as TTFT and inter-token latency within a millisecond cannot afford that, so a
//! mock that serves real sockets ends its waits [`Pacing::Precise`]ly: tokio's timer until
//! [`COARSE_MARGIN`] before the deadline, then one shared thread that sleeps to the deadline
//! on the OS's high-resolution timer. A paused tokio clock (tests, the simulation) keeps
//! [`Pacing::Tokio`], which is exact on virtual time and which a real thread would break.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

/// How far before a deadline tokio's timer hands over to the precise thread: its rounding is
/// under 2 ms, so the hand-over is never late; a wait shorter than this is the thread's alone.
pub(crate) const COARSE_MARGIN: Duration = Duration::from_millis(3);

/// How far before a deadline a long wait's first sleep ends (see [`Pacing::until`]): inside
/// the finest level of tokio's timer wheel (64 ms).
const NEAR_MARGIN: Duration = Duration::from_millis(20);

/// Which clock ends the mock's timed waits (see the module doc for why there are two).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Pacing {
    /// Tokio's millisecond timer: exact on a paused clock, up to ~2 ms late on a real one.
    #[default]
    Tokio,
    /// Within a fraction of a millisecond on a real clock; never on a paused one.
    Precise,
}

impl Pacing {
    /// Waits until `due` (at once when it is past).
    pub(crate) async fn until(self, due: Instant) {
        match self {
            Pacing::Tokio => tokio::time::sleep_until(due).await,
            Pacing::Precise => {
                // A long wait first sleeps to a little before the hand-over, so the hand-over
                // itself is a short sleep on the finest level of tokio's timer wheel (a deadline
                // past 64 ms is filed in a coarser one). A guard, not a measured fix: in the
                // pacing test it did not change the time-to-first-token tails.
                if let Some(near) = due.checked_sub(NEAR_MARGIN) {
                    tokio::time::sleep_until(near).await;
                }
                if let Some(handover) = due.checked_sub(COARSE_MARGIN) {
                    tokio::time::sleep_until(handover).await;
                }
                if let Some(w) = waker().filter(|_| Instant::now() < due) {
                    let (tx, rx) = oneshot::channel();
                    w.add(due.into_std(), tx);
                    let _ = rx.await;
                }
            }
        }
    }

    /// Waits `d` from now.
    pub(crate) async fn sleep(self, d: Duration) {
        self.until(Instant::now() + d).await;
    }
}

/// One waiter of the precise thread: ordered by deadline, then by arrival (a `Sender` has no
/// order of its own).
struct Entry {
    due: std::time::Instant,
    id: u64,
    tx: oneshot::Sender<()>,
}

impl Entry {
    fn key(&self) -> (std::time::Instant, u64) {
        (self.due, self.id)
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

/// The deadlines the precise thread waits for, soonest first.
#[derive(Default)]
struct Waker {
    queue: Mutex<(BinaryHeap<Reverse<Entry>>, u64)>,
    changed: Condvar,
}

/// The one precise thread of the process, started on first use (none when the OS refuses a
/// thread: the waits then end at their coarse hand-over, a few ms early at most). Its
/// entries live at most [`COARSE_MARGIN`] each, so a client that goes away leaves nothing
/// behind for long.
fn waker() -> Option<&'static Waker> {
    static WAKER: OnceLock<Option<&'static Waker>> = OnceLock::new();
    *WAKER.get_or_init(|| {
        let w: &'static Waker = Box::leak(Box::default());
        std::thread::Builder::new()
            .name("mock-pacing".into())
            .spawn(move || w.run())
            .ok()
            .map(|_| w)
    })
}

impl Waker {
    fn add(&self, due: std::time::Instant, tx: oneshot::Sender<()>) {
        let mut queue = lock(&self.queue);
        let id = queue.1;
        queue.1 = id.wrapping_add(1);
        queue.0.push(Reverse(Entry { due, id, tx }));
        self.changed.notify_one();
    }

    /// Sends to every waiter whose deadline passed, then sleeps to the next deadline (or
    /// until one is added).
    fn run(&self) {
        let mut queue = lock(&self.queue);
        loop {
            let now = std::time::Instant::now();
            while queue.0.peek().is_some_and(|Reverse(e)| e.due <= now) {
                if let Some(Reverse(e)) = queue.0.pop() {
                    let _ = e.tx.send(());
                }
            }
            let next = queue.0.peek().map(|Reverse(e)| e.due);
            queue = match next {
                Some(at) => {
                    let wait = at.saturating_duration_since(now);
                    self.changed
                        .wait_timeout(queue, wait)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
                None => self.changed.wait(queue).unwrap_or_else(|p| p.into_inner()),
            };
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn tokio_pacing_is_exact_on_a_paused_clock() {
        let start = Instant::now();
        Pacing::Tokio.sleep(Duration::from_millis(200)).await;
        assert_eq!(start.elapsed(), Duration::from_millis(200));
    }

    // Real time: how late a wait ends depends on the machine's load, so this checks the
    // order (never early, every waiter woken) and leaves the figures to the LLM-figures test.
    #[tokio::test]
    async fn precise_waits_end_after_their_deadlines_and_all_end() {
        let start = Instant::now();
        let waits: Vec<_> = (1..=20u64)
            .map(|i| {
                let due = start + Duration::from_micros(i * 700);
                tokio::spawn(async move {
                    Pacing::Precise.until(due).await;
                    Instant::now() >= due
                })
            })
            .collect();
        for w in waits {
            assert!(w.await.unwrap(), "a precise wait ended before its deadline");
        }
        // A past deadline returns at once.
        Pacing::Precise.until(start).await;
    }
}
