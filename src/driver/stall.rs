//! A simulation that makes no progress in virtual time: zero latency and zero think time, or
//! retries without delay, keep the runtime busy at one instant, so the paused clock never
//! moves, the run never ends and nothing else gets to run. The simulation's requests and
//! upstream calls report here; too many at one instant stop the run with a clear error.
//!
//! Counting, not a wall-clock watchdog: the decision is the same on every machine and every
//! run of the seed. Each report also spends the task's cooperative budget, so a loop of futures
//! that are always ready still yields and the run's stop (Ctrl-C) is heard.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::error::RunError;
use crate::scenario::{LoadModel, Scenario};

/// The fewest requests and upstream calls at one instant taken as no progress.
const FLOOR: u64 = 10_000;
/// The most: reached within seconds however large the scenario.
const CEILING: u64 = 10_000_000;

/// Requests and upstream calls at one instant of virtual time taken as no progress for
/// `scenario`: four times the most a run can legitimately put at one instant (every request
/// that can be in flight finishing together, each session's turns and each request's attempts
/// following at once), within [`FLOOR`]..=[`CEILING`].
pub(crate) fn stall_limit(scenario: &Scenario) -> u64 {
    let w = &scenario.workload;
    let concurrency = match w.model {
        LoadModel::Open => w.max_in_flight as u64,
        LoadModel::Closed => w
            .users
            .into_iter()
            .chain(w.stages.iter().filter_map(|s| s.users))
            .max()
            .map_or(1, u64::from),
    };
    let attempts = scenario
        .client
        .retry
        .as_ref()
        .filter(|r| r.enabled)
        .map_or(1, |r| u64::from(r.max_attempts));
    let per_instant = concurrency
        .saturating_mul(u64::from(w.turns.max))
        .saturating_mul(attempts.saturating_add(1));
    per_instant.saturating_mul(4).clamp(FLOOR, CEILING)
}

/// Watches one simulation for a clock that does not move.
#[derive(Debug)]
pub(crate) struct StallWatch {
    start: Instant,
    limit: u64,
    /// The instant of the last report and how many reports it had.
    at: Mutex<(Instant, u64)>,
    stalled: AtomicBool,
    raised: Notify,
}

impl StallWatch {
    /// A watch for a run that started at `start`, stalled after `limit` reports at one instant.
    pub(crate) fn new(start: Instant, limit: u64) -> Self {
        Self {
            start,
            limit,
            at: Mutex::new((start, 0)),
            stalled: AtomicBool::new(false),
            raised: Notify::new(),
        }
    }

    /// A request or an upstream call happened now; yields if the task's budget is spent.
    pub(crate) async fn tick(&self) {
        let now = Instant::now();
        let count = {
            let mut at = self.at.lock().unwrap_or_else(|p| p.into_inner());
            if at.0 == now {
                at.1 += 1;
            } else {
                *at = (now, 1);
            }
            at.1
        };
        if count == self.limit {
            self.stalled.store(true, Ordering::Relaxed);
            self.raised.notify_one();
        }
        tokio::task::consume_budget().await;
    }

    /// Where in the run the clock stopped, when it did.
    pub(crate) fn stalled_at(&self) -> Option<Duration> {
        self.stalled.load(Ordering::Relaxed).then(|| {
            let at = self.at.lock().unwrap_or_else(|p| p.into_inner()).0;
            at.saturating_duration_since(self.start)
        })
    }

    /// The run's verdict: an error when its clock stopped.
    pub(crate) fn check(&self) -> Result<(), RunError> {
        match self.stalled_at() {
            Some(at) => Err(RunError::NoProgress {
                at: at.as_secs_f64(),
                limit: self.limit,
            }),
            None => Ok(()),
        }
    }

    /// Completes when the run is taken as stalled.
    pub(crate) async fn stalled(&self) {
        if !self.stalled.load(Ordering::Relaxed) {
            self.raised.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn only_a_clock_that_does_not_move_is_a_stall() {
        let watch = StallWatch::new(Instant::now(), 1000);
        for _ in 0..10 {
            watch.tick().await;
            tokio::time::advance(Duration::from_micros(1)).await;
        }
        assert_eq!(watch.stalled_at(), None);
        for _ in 0..1000 {
            watch.tick().await;
        }
        assert_eq!(watch.stalled_at(), Some(Duration::from_micros(10)));
        watch.stalled().await;
    }
}
