//! The upstream's view: what arrived at the mock and how it relates to what the mock answered —
//! attempts, retries (by `x-stainless-retry-count` or by the same body from the same key after an
//! error), attempts that came before the `retry-after` given to their key, retries of answers
//! the API marks non-retryable, how evenly retries are spread after the errors they follow,
//! prompt tokens sent again, quota burned and concurrency.
//!
//! Only the upstream sees these: a client's own report cannot tell that its gateway retried a
//! quota error nine times. Counters are kept per interval (of a width the reader sets) and for
//! the run; per-key memory is bounded ([`keys`]), so memory grows with time, not with requests.
//! Fed by the observe layer with one [`Arrival`] per answered request; every time is a
//! `tokio::time::Instant`, so the view runs on a paused clock as well.

pub mod counters;
pub mod delays;
pub mod keys;
pub mod note;
mod snapshot;
mod state;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::time::{Duration, Instant};

pub use snapshot::{Example, ExampleKind, IntervalCounters, ViewSnapshot, ViewTotals};
use state::ViewState;
pub use state::{key_hash, mask, Classified};

/// Interval width until a reader sets its own.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
/// How long after an error the same body from the same key counts as a retry of it.
pub const DEFAULT_RETRY_WINDOW: Duration = Duration::from_secs(60);
/// Intervals kept; arrivals later than the last fold into it.
pub const MAX_INTERVALS: usize = 100_000;

/// One answered request, as the view needs it.
#[derive(Debug, Clone, Copy)]
pub struct Arrival<'a> {
    /// When it arrived.
    pub arrived: Instant,
    /// When its answer's head was sent (or the connection closed).
    pub sent: Instant,
    /// Its bearer token, if any.
    pub key: Option<&'a str>,
    /// Its route template.
    pub route: &'a str,
    /// Its `x-stainless-retry-count`, if sent and a number.
    pub retry_count: Option<u32>,
    /// What the handler noted.
    pub note: note::Note,
    /// The status sent; `None` for a closed connection.
    pub status: Option<u16>,
    /// The `retry-after` sent.
    pub retry_after: Option<Duration>,
    /// The `x-should-retry` sent.
    pub should_retry: Option<bool>,
    /// Attempts in the mock when it arrived, itself included.
    pub concurrency: u32,
    /// Whether the client went away before the answer (`status` is then `None`).
    pub abandoned: bool,
}

/// The view of one mock instance; shared by its handlers.
#[derive(Debug)]
pub struct UpstreamView {
    state: Mutex<ViewState>,
    in_flight: Arc<AtomicU32>,
}

impl UpstreamView {
    /// A view whose intervals start at `epoch`.
    pub fn new(epoch: Instant) -> Self {
        Self {
            state: Mutex::new(ViewState::new(
                epoch,
                DEFAULT_INTERVAL,
                DEFAULT_RETRY_WINDOW,
            )),
            in_flight: Arc::new(AtomicU32::new(0)),
        }
    }

    fn state(&self) -> MutexGuard<'_, ViewState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts an arrival in flight; the guard's drop counts its departure and busy time.
    pub fn arrive(self: &Arc<Self>, at: Instant) -> (u32, Departure) {
        let n = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        (
            n,
            Departure {
                view: self.clone(),
                arrived: at,
            },
        )
    }

    /// Records one answered request.
    pub fn record(&self, a: &Arrival<'_>) {
        self.state().record(a, None);
    }

    /// Records one answered request judged on arrival with [`Self::classify`].
    pub fn record_classified(&self, a: &Arrival<'_>, classified: Option<Classified>) {
        self.state().record(a, classified);
    }

    /// Everything since the epoch, copied out.
    pub fn snapshot(&self) -> ViewSnapshot {
        self.state().snapshot()
    }

    /// Starts over at `epoch`; `interval` replaces the width when given.
    pub fn reset(&self, epoch: Instant, interval: Option<Duration>) {
        let mut s = self.state();
        let width = interval.unwrap_or(s.width());
        *s = ViewState::new(epoch, width, s.window());
    }
}

/// An attempt still in the mock; dropped when its answer is done (a stream's at its end).
#[derive(Debug)]
pub struct Departure {
    view: Arc<UpstreamView>,
    arrived: Instant,
}

impl Drop for Departure {
    fn drop(&mut self) {
        self.view.in_flight.fetch_sub(1, Ordering::Relaxed);
        let now = Instant::now();
        self.view.state().busy(self.arrived, now);
    }
}

#[cfg(test)]
mod tests;
