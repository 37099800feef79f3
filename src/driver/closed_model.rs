//! The closed model: a number of users (in stages), each sending a session, thinking, and
//! sending the next; a user's next request waits for its last.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::{sleep_until, Instant};

use super::session::RunCtx;
use super::threads::{DriverThread, StopSignal};
use super::workload::SessionFactory;

/// Runs `thread`'s users (user `n` is thread `n % threads`'s) through the stages until the run's
/// duration; the users go into `tasks`. Returns whether `stop` ended it.
pub(super) async fn run_users(
    ctx: &Arc<RunCtx>,
    thread: DriverThread,
    tasks: &mut JoinSet<()>,
    stop: &mut StopSignal,
) -> bool {
    let w = &ctx.scenario.workload;
    let duration = ctx.scenario.duration.0;
    let mut plan: Vec<(Duration, u32)> = Vec::new();
    let mut t = Duration::ZERO;
    if w.stages.is_empty() {
        plan.push((Duration::ZERO, w.users.unwrap_or(1)));
    }
    for s in &w.stages {
        plan.push((t, s.users.unwrap_or(0)));
        t += s.duration.0;
    }
    let target = Arc::new(AtomicU32::new(0));
    let mut spawned = 0u32;
    for (at, users) in plan {
        if at >= duration {
            break;
        }
        tokio::select! {
            biased;
            () = sleep_until(ctx.start + at) => {}
            () = stop.stopped() => return true,
        }
        target.store(users, Ordering::Relaxed);
        while spawned < users {
            let id = spawned;
            spawned += 1;
            if !thread.owns(u64::from(id)) {
                continue;
            }
            let salt = format!("-user{id}");
            let Ok(mut factory) =
                SessionFactory::new(w, ctx.pool.clone(), ctx.scenario.seed, &salt)
            else {
                continue;
            };
            let ctx = ctx.clone();
            let target = target.clone();
            tasks.spawn(async move {
                while id < target.load(Ordering::Relaxed) && Instant::now() < ctx.end {
                    let plan = factory.next_session();
                    let now = Instant::now();
                    ctx.recorder.started(now, Duration::ZERO, 0.0);
                    ctx.session(plan, now).await;
                    let think = factory.think();
                    if Instant::now() + think >= ctx.end {
                        break;
                    }
                    if !think.is_zero() {
                        tokio::time::sleep(think).await;
                    }
                }
            });
        }
        // Users above the new count stop after their session; a later stage may start them again.
        spawned = spawned.min(users);
    }
    tokio::select! {
        biased;
        () = sleep_until(ctx.end) => false,
        () = stop.stopped() => true,
    }
}
