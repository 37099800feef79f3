//! The open model: arrivals on a seeded schedule, each a session started at its intended time
//! whatever the ones before it are doing.
//!
//! Each arrival's latency counts from `start + offset`, so when the stack or the machine falls
//! behind the delay shows in the latency (and in the schedule lag), never silently. Arrivals
//! beyond `max_in_flight` are counted as dropped.

use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::{sleep_until, Instant};

use super::arrivals::{rate_at, segments, ArrivalClock};
use super::session::RunCtx;
use super::threads::{DriverThread, StopSignal, ThreadEnd};
use super::workload::SessionFactory;
use crate::client::stack::stream_seed;

/// The highest offered rate at which arrivals wait with [`DriverThread::timer_deadline`]. Waking as
/// soon after each arrival as the timer allows means waking more often than once per tick: at
/// 2 000/s that costs little and takes the schedule lag's p50 from 0.84–1.16 ms to 0.52–0.62 ms;
/// at 10 000/s, where a tick holds ten arrivals that go out together anyway, it cut the lag from
/// about 0.95 to 0.3 ms but tripled the `epoll_wait`s and cost a fifth more CPU per request.
const PRECISE_UP_TO: f64 = 5_000.0;

/// Waits until `intended`; false if `stop` was raised first.
///
/// With `activity`, the timer is set to wake the thread as soon after `intended` as tokio's
/// millisecond ticks allow from the moment the thread parks ([`DriverThread::timer_deadline`]); the
/// thread parks again after every burst of work its requests bring, at a new point within a
/// millisecond, so the timer is set again each time one of its sessions ends. Without it, the
/// timer wakes the thread at the first tick after `intended` plus the park's fraction of a
/// millisecond: a millisecond late on average.
pub(super) async fn wait_for(
    intended: Instant,
    thread: DriverThread,
    activity: Option<&Notify>,
    stop: &mut StopSignal,
) -> bool {
    let Some(activity) = activity else {
        tokio::select! {
            biased;
            () = sleep_until(intended) => return true,
            () = stop.stopped() => return false,
        }
    };
    let timer = sleep_until(thread.timer_deadline(intended, Instant::now()));
    tokio::pin!(timer);
    loop {
        tokio::select! {
            biased;
            () = &mut timer => {
                let now = Instant::now();
                if now >= intended {
                    return true;
                }
                // It parked in a later millisecond than it was set in, and woke early.
                timer.as_mut().reset(intended);
            }
            () = activity.notified() => {
                let now = Instant::now();
                if now >= intended {
                    return true;
                }
                timer.as_mut().reset(thread.timer_deadline(intended, now));
            }
            () = stop.stopped() => return false,
        }
    }
}

/// Sends `thread`'s share of the arrivals (the threads take turns, see [`DriverThread::owns_arrival_at`])
/// until the schedule passes the run's duration or `stop` is raised; the sessions go into
/// `tasks`.
pub(super) async fn send_arrivals(
    ctx: &Arc<RunCtx>,
    thread: DriverThread,
    tasks: &mut JoinSet<()>,
    stop: &mut StopSignal,
) -> ThreadEnd {
    let workload = &ctx.scenario.workload;
    let seed = ctx.scenario.seed;
    let duration = ctx.scenario.duration.0;
    let segs = segments(&workload.stages, duration);
    let arrivals = ArrivalClock::new(
        segs.clone(),
        workload.arrivals,
        ChaCha8Rng::seed_from_u64(stream_seed(seed, "arrivals")),
    );
    // The run checked that the factory can be built.
    let Ok(mut factory) = SessionFactory::new(workload, ctx.pool.clone(), seed, "") else {
        return ThreadEnd::default();
    };
    let mut end = ThreadEnd::default();
    // Raised when a session of this thread ends: the thread is awake, and the schedule's timer
    // is set again from there (see `wait_for`).
    let activity = Arc::new(Notify::new());
    for offset in arrivals {
        if offset >= duration {
            break;
        }
        // Every thread draws every session, so what each arrival sends does not depend on how
        // many threads there are.
        if !thread.owns_arrival_at(offset) {
            factory.skip_session();
            continue;
        }
        let intended = ctx.start + offset;
        let rate = rate_at(&segs, offset.as_secs_f64());
        // Only on a thread's own runtime: elsewhere (the simulation) the timer's origin is unknown.
        let precise = rate <= PRECISE_UP_TO && thread.timer_origin.is_some();
        if !wait_for(intended, thread, precise.then_some(&*activity), stop).await {
            end.interrupted = true;
            break;
        }
        // Reap finished sessions so the set holds only live ones: memory stays flat however
        // long the run.
        while tasks.try_join_next().is_some() {}
        let lag = Instant::now().saturating_duration_since(intended);
        end.max_lag = end.max_lag.max(lag);
        // The session is drawn even when dropped, so what follows does not shift.
        let plan = factory.next_session();
        let Ok(permit) = ctx.in_flight.clone().try_acquire_owned() else {
            ctx.recorder.dropped(intended);
            continue;
        };
        ctx.recorder.started(intended, lag, rate);
        let ctx = ctx.clone();
        let activity = activity.clone();
        tasks.spawn(async move {
            ctx.session(plan, intended).await;
            drop(permit);
            activity.notify_one();
        });
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// However the thread's timer is set and set again, an arrival never goes out before its
    /// intended time.
    #[test]
    fn an_arrival_never_waits_less_than_until_its_time() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let thread = DriverThread {
            timer_origin: Some(Instant::now()),
            ..DriverThread::ONLY
        };
        runtime.block_on(async {
            let (_raise, mut stop) = StopSignal::new();
            let activity = Arc::new(Notify::new());
            // Sessions ending at odd moments, as they do.
            let ticker = {
                let activity = activity.clone();
                tokio::spawn(async move {
                    for i in 0u64.. {
                        tokio::time::sleep(Duration::from_micros(150 + (i * 37) % 400)).await;
                        activity.notify_one();
                    }
                })
            };
            for i in 0..60u64 {
                let intended = Instant::now() + Duration::from_micros(100 + (i * 173) % 2_500);
                assert!(wait_for(intended, thread, Some(&activity), &mut stop).await);
                assert!(Instant::now() >= intended, "woke before the arrival's time");
            }
            ticker.abort();
        });
    }
}
