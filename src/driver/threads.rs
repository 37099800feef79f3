//! Driver threads: the driver's work dealt over threads, each running a current-thread runtime and a
//! connection pool of its own.
//!
//! In one multi-thread runtime a request's work hops between workers: the session task on one,
//! the pooled connection's task on another, the I/O driver's wake-ups on whichever worker
//! parked on it, and every hop is a wake-up and often a context switch. A driver thread keeps a
//! request's whole life on one thread, as oha does. What the threads share (the stack's limiter,
//! cache, breaker and retry budget, the recorder, the in-flight bound) sits behind locks and
//! atomics that work from any thread. Every thread walks the same seeded schedule and sends its
//! share of it, so what is drawn does not depend on the number of threads.
//!
//! The open model's threads take turns of 20 ms rather than alternate arrivals: dealt one by
//! one, every thread would wake on every tick of its timer for a share of that tick's arrivals and
//! of their responses, and at high rates a wake-up (an `epoll_wait`, a context switch) costs more
//! than the requests it serves. Measured at 10 000/s for 10 s on two cores: 55 000–74 000
//! `epoll_wait`s dealt one by one, 29 000–33 000 in turns of 5 ms, 26 000–29 000 in turns of
//! 20 ms (one thread: 26 000); CPU per request against oha's in alternating rounds, medians: 1.01×
//! in turns of 5 ms, 0.92× in turns of 20 ms. A turn is short enough that a thread falling behind
//! in its turn catches up in the others'.

use std::future::Future;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

use super::error::RunError;
use crate::client::transport::use_pool;

/// How far into a millisecond tick [`DriverThread::timer_deadline`] still leads: later, the thread is
/// likely to park in the next tick, wake early and have to sleep again.
const LATE_IN_TICK: Duration = Duration::from_micros(700);

/// One thread of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DriverThread {
    /// Its number, from 0.
    pub index: usize,
    /// How many threads the run has.
    pub count: usize,
    /// Just after its runtime's timer started counting milliseconds; see
    /// [`timer_deadline`](Self::timer_deadline). `None` on a runtime the driver did not build.
    pub timer_origin: Option<Instant>,
}

impl DriverThread {
    /// The thread of a run on the caller's runtime (the simulation's, or a Redis-backed client).
    pub const ONLY: DriverThread = DriverThread {
        index: 0,
        count: 1,
        timer_origin: None,
    };

    /// The deadline to give tokio's timer, asked at `now`, for a wake-up at `intended` or less
    /// than a millisecond after it if the thread parks within this millisecond.
    ///
    /// tokio's timer counts whole milliseconds from its start. It rounds a deadline up to the
    /// next tick, and when the thread parks it waits the whole number of ticks from the current
    /// one, so it wakes at the tick plus the fraction of a millisecond that had passed when it
    /// parked: the two roundings make a millisecond of schedule lag on average. A deadline that
    /// leads `intended` by that fraction wakes at the same point within its millisecond as the
    /// park, after `intended` and less than a millisecond after it. A thread that parks in a
    /// later millisecond than the one this was asked in may wake early: the caller checks.
    pub fn timer_deadline(&self, intended: Instant, now: Instant) -> Instant {
        let Some(origin) = self.timer_origin else {
            return intended;
        };
        let since = now.saturating_duration_since(origin).as_nanos();
        let fraction = Duration::from_nanos((since % 1_000_000) as u64);
        if fraction > LATE_IN_TICK {
            return intended;
        }
        match intended.checked_sub(fraction) {
            // A deadline within the current millisecond would wait for the next tick anyway;
            // one at or before now fires at once only if its tick has passed.
            Some(earlier) if earlier > now => earlier,
            _ => intended,
        }
    }

    /// How long a thread's turn of the open model's schedule lasts.
    pub const TURN: Duration = Duration::from_millis(20);

    /// Whether item `i` of a sequence dealt round the threads (a closed-model user) is this
    /// thread's.
    pub fn owns(&self, i: u64) -> bool {
        i % self.count as u64 == self.index as u64
    }

    /// Whether the open-model arrival at `offset` into the run is this thread's: the threads take
    /// turns of [`TURN`](Self::TURN).
    pub fn owns_arrival_at(&self, offset: Duration) -> bool {
        self.owns((offset.as_nanos() / Self::TURN.as_nanos()) as u64)
    }
}

/// Ctrl-C as every thread sees it, whichever runtime it runs on.
#[derive(Debug, Clone)]
pub(super) struct StopSignal(watch::Receiver<bool>);

impl StopSignal {
    /// A signal and the sender that raises it.
    pub fn new() -> (watch::Sender<bool>, Self) {
        let (tx, rx) = watch::channel(false);
        (tx, Self(rx))
    }

    /// Completes once the run is to stop. A dropped sender means nobody can stop it any more,
    /// not that it stopped.
    pub async fn stopped(&mut self) {
        if self.0.wait_for(|s| *s).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// How a thread's part of the run ended.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ThreadEnd {
    /// Ctrl-C ended it.
    pub interrupted: bool,
    /// Its worst schedule lag.
    pub max_lag: Duration,
}

impl ThreadEnd {
    /// The run's end from its threads' ends.
    pub fn merge(ends: &[ThreadEnd]) -> ThreadEnd {
        ThreadEnd {
            interrupted: ends.iter().any(|e| e.interrupted),
            max_lag: ends.iter().map(|e| e.max_lag).max().unwrap_or_default(),
        }
    }
}

/// Runs `work` once per thread, each on a thread of its own with a current-thread runtime that
/// uses connection pool `index` of the transport, and hands back the threads' ends. `stop` is
/// raised when a thread cannot start or panics, so the others end at once instead of running
/// the scenario to its end for a run that has failed.
///
/// A thread keeps its runtime until every thread has finished: a task the threads share (the
/// limiter's dispatcher) runs on whichever runtime started it, and must outlive the others'
/// requests.
pub(super) async fn run_threads<W, F>(
    count: usize,
    work: W,
    stop: &watch::Sender<bool>,
) -> Result<Vec<ThreadEnd>, RunError>
where
    W: Fn(DriverThread) -> F + Clone + Send + 'static,
    F: Future<Output = ThreadEnd>,
{
    let (release, released) = watch::channel(false);
    let mut pending = FuturesUnordered::new();
    let mut failure = None;
    for index in 0..count {
        let (tx, rx) = oneshot::channel();
        let work = work.clone();
        let mut released = released.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("gauntlet-driver-{index}"))
            .spawn(move || {
                use_pool(index);
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let thread = DriverThread {
                    index,
                    count,
                    timer_origin: Some(Instant::now()),
                };
                runtime.block_on(async move {
                    let end = work(thread).await;
                    let _ = tx.send(Ok(end));
                    let _ = released.wait_for(|r| *r).await;
                });
            });
        match spawned {
            Ok(_) => pending.push(rx),
            Err(e) => {
                failure = Some(RunError::Threads(e));
                break;
            }
        }
    }
    if failure.is_some() {
        let _ = stop.send(true);
    }
    // In the order they finish: a thread that fails late must not wait behind one that runs on.
    let mut ends = Vec::with_capacity(count);
    while let Some(ended) = pending.next().await {
        match ended {
            Ok(Ok(end)) => ends.push(end),
            Ok(Err(e)) => {
                let _ = stop.send(true);
                failure.get_or_insert(RunError::Threads(e));
            }
            Err(_) => {
                let _ = stop.send(true);
                failure.get_or_insert(RunError::Panicked("a driver thread panicked".into()));
            }
        }
    }
    let _ = release.send(true);
    match failure {
        Some(e) => Err(e),
        None => Ok(ends),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_deal_items_round_robin() {
        let threads: Vec<DriverThread> = (0..3)
            .map(|index| DriverThread {
                index,
                count: 3,
                timer_origin: None,
            })
            .collect();
        for i in 0..30u64 {
            let owners: Vec<usize> = threads
                .iter()
                .filter(|l| l.owns(i))
                .map(|l| l.index)
                .collect();
            assert_eq!(owners, vec![(i % 3) as usize]);
        }
        assert!((0..10).all(|i| DriverThread::ONLY.owns(i)));
        // Arrivals: turns of 20 ms, round the threads.
        let at = |ms: u64| -> Vec<usize> {
            threads
                .iter()
                .filter(|l| l.owns_arrival_at(Duration::from_micros(ms * 1000 + 300)))
                .map(|l| l.index)
                .collect()
        };
        assert_eq!(at(0), vec![0]);
        assert_eq!(at(19), vec![0]);
        assert_eq!(at(20), vec![1]);
        assert_eq!(at(59), vec![2]);
        assert_eq!(at(60), vec![0]);
        assert!(DriverThread::ONLY.owns_arrival_at(Duration::from_secs(3600)));
    }

    #[test]
    fn the_timer_deadline_leads_by_the_fraction_of_a_millisecond_since_the_timer_started() {
        let origin = Instant::now();
        let thread = DriverThread {
            timer_origin: Some(origin),
            ..DriverThread::ONLY
        };
        let ms = Duration::from_millis;
        let us = Duration::from_micros;
        // 3.4 ms into the timer: 0.4 ms ahead of the intended time.
        let now = origin + ms(3) + us(400);
        assert_eq!(
            thread.timer_deadline(now + ms(2), now),
            now + ms(2) - us(400)
        );
        // Unchanged when the lead would put it at or before now, and on a runtime the driver
        // did not build.
        assert_eq!(thread.timer_deadline(now + us(100), now), now + us(100));
        assert_eq!(thread.timer_deadline(now - us(100), now), now - us(100));
        assert_eq!(
            DriverThread::ONLY.timer_deadline(now + ms(2), now),
            now + ms(2)
        );
    }

    #[tokio::test]
    async fn every_lane_runs_on_its_own_thread_and_ends() {
        let (stop, _signal) = StopSignal::new();
        let ends = run_threads(
            3,
            |thread: DriverThread| async move {
                // A timer and a spawned task on the thread's own runtime.
                let t = tokio::spawn(async move { thread.index });
                tokio::time::sleep(Duration::from_millis(1)).await;
                let index = t.await.unwrap();
                assert!(std::thread::current()
                    .name()
                    .is_some_and(|n| n == format!("gauntlet-driver-{index}")));
                ThreadEnd {
                    interrupted: false,
                    max_lag: Duration::from_millis(index as u64),
                }
            },
            &stop,
        )
        .await
        .unwrap();
        assert_eq!(ends.len(), 3);
        assert_eq!(ThreadEnd::merge(&ends).max_lag, Duration::from_millis(2));
        assert!(!*stop.borrow());
    }

    #[tokio::test]
    async fn a_lane_that_panics_stops_the_others() {
        let (stop, signal) = StopSignal::new();
        let result = run_threads(
            2,
            move |thread: DriverThread| {
                let mut signal = signal.clone();
                async move {
                    if thread.index == 1 {
                        panic!("thread 1 fails");
                    }
                    // DriverThread 0 would run for an hour; the failure stops it.
                    tokio::select! {
                        biased;
                        () = signal.stopped() => ThreadEnd { interrupted: true, ..ThreadEnd::default() },
                        () = tokio::time::sleep(Duration::from_secs(3600)) => ThreadEnd::default(),
                    }
                }
            },
            &stop,
        )
        .await;
        assert!(matches!(result, Err(RunError::Panicked(_))), "{result:?}");
        assert!(*stop.borrow());
    }
}
