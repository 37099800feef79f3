//! The open model: arrivals on a seeded schedule, each a session started at its intended time
//! whatever the ones before it are doing.
//!
//! Each arrival's latency counts from `start + offset`, so when the stack or the machine falls
//! behind the delay shows in the latency (and in the schedule lag), never silently. Arrivals
//! beyond `max_in_flight` are counted as dropped.

use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::task::JoinSet;
use tokio::time::{sleep_until, Instant};

use super::arrivals::{rate_at, segments, ArrivalClock};
use super::lanes::{Lane, LaneEnd, StopSignal};
use super::session::RunCtx;
use super::workload::SessionFactory;
use crate::client::stack::stream_seed;

/// Sends `lane`'s share of the arrivals (the lanes take turns, see [`Lane::owns_arrival_at`])
/// until the schedule passes the run's duration or `stop` is raised; the sessions go into
/// `tasks`.
pub(super) async fn send_arrivals(
    ctx: &Arc<RunCtx>,
    lane: Lane,
    tasks: &mut JoinSet<()>,
    stop: &mut StopSignal,
) -> LaneEnd {
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
        return LaneEnd::default();
    };
    let mut end = LaneEnd::default();
    for offset in arrivals {
        if offset >= duration {
            break;
        }
        // Every lane draws every session, so what each arrival sends does not depend on how
        // many lanes there are.
        if !lane.owns_arrival_at(offset) {
            factory.skip_session();
            continue;
        }
        let intended = ctx.start + offset;
        tokio::select! {
            biased;
            () = sleep_until(intended) => {}
            () = stop.stopped() => { end.interrupted = true; break; }
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
        ctx.recorder
            .started(intended, lag, rate_at(&segs, offset.as_secs_f64()));
        let ctx = ctx.clone();
        tasks.spawn(async move {
            ctx.session(plan, intended).await;
            drop(permit);
        });
    }
    end
}
