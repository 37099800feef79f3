//! Replaying a trace: each line is a one-turn session sent at its own time, whatever the ones
//! before it are doing (the open model's rule), its latency counted from that intended time.
//!
//! A line's session is sent as the request's session, so the context layer gives lines of one
//! session their history as the original requests had it. What a line leaves out comes from
//! `[workload]`: the model, `max_tokens`, a stream drawn with `stream_share` (from a hash of
//! the seed and the line, so every thread draws the same), the prompt from the prompt pool.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::open_model::wait_for;
use super::session::RunCtx;
use super::threads::{DriverThread, StopSignal, ThreadEnd};
use super::workload::{PromptPool, SessionPlan, TurnPlan};
use crate::scenario::trace::{TraceLine, TraceReader};
use crate::scenario::{Ask, TraceSpec, WorkloadSpec};

/// Sends `thread`'s share of the trace's lines (the threads take turns of the schedule, as in
/// the open model) until the trace or the run's duration ends, or `stop` is raised.
pub(super) async fn send_trace(
    ctx: &Arc<RunCtx>,
    spec: &TraceSpec,
    thread: DriverThread,
    tasks: &mut JoinSet<()>,
    stop: &mut StopSignal,
) -> ThreadEnd {
    let workload = &ctx.scenario.workload;
    let seed = ctx.scenario.seed;
    let duration = ctx.scenario.duration.0;
    let mut end = ThreadEnd::default();
    // The run read the whole file before it started; a file changed since ends the replay.
    let Ok(reader) = TraceReader::open(spec, seed, duration) else {
        return end;
    };
    let activity = Arc::new(Notify::new());
    for line in reader {
        let Ok(line) = line else { break };
        if line.at >= duration {
            break;
        }
        if !thread.owns_arrival_at(line.at) {
            continue;
        }
        let intended = ctx.start + line.at;
        let precise = thread.timer_origin.is_some();
        if !wait_for(intended, thread, precise.then_some(&*activity), stop).await {
            end.interrupted = true;
            break;
        }
        while tasks.try_join_next().is_some() {}
        let lag = Instant::now().saturating_duration_since(intended);
        end.max_lag = end.max_lag.max(lag);
        let plan = plan_of(line, workload, &ctx.pool, seed);
        let Ok(permit) = ctx.in_flight.clone().try_acquire_owned() else {
            ctx.recorder.dropped(intended);
            continue;
        };
        ctx.recorder.started(intended, lag, 0.0);
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

/// The one-turn session a trace line sends.
pub(super) fn plan_of(
    line: TraceLine,
    workload: &WorkloadSpec,
    pool: &PromptPool,
    seed: u64,
) -> SessionPlan {
    let r = line.record;
    // Checked when the trace was read.
    let route = r.route().unwrap_or_default();
    let prompt = match (r.prompt, r.prompt_tokens) {
        (Some(p), _) => p,
        (None, Some(n)) => made_up_prompt(n),
        (None, None) => pool.get(line.line as usize % pool.len().max(1)),
    };
    let stream = r
        .stream
        .unwrap_or_else(|| draw(seed, line.line, line.lap) < workload.stream_share);
    SessionPlan {
        id: line.session,
        turns: vec![TurnPlan {
            prompt,
            think: Duration::ZERO,
            route,
            ask: Ask::Text,
            model: r.model,
            max_tokens: r.max_tokens,
        }],
        api_key: r.tenant,
        user: r.user,
        priority: r.priority.unwrap_or_default(),
        stream,
    }
}

/// A prompt the mock counts as `tokens` tokens (four characters each, less the message's
/// framing is not subtracted: the count is of the text, as `requests.jsonl` writes it).
fn made_up_prompt(tokens: u32) -> String {
    const WORDS: &str = "the quick brown fox jumps over the lazy dog and then it rests ";
    let chars = tokens as usize * gauntlet_wire::tokens::CHARS_PER_TOKEN;
    WORDS.chars().cycle().take(chars).collect()
}

/// A uniform draw in [0, 1) for line `line` of lap `lap`, from the seed alone.
fn draw(seed: u64, line: u64, lap: u32) -> f64 {
    let mut key = seed.to_le_bytes().to_vec();
    key.extend_from_slice(b"trace-stream");
    key.extend_from_slice(&line.to_le_bytes());
    key.extend_from_slice(&lap.to_le_bytes());
    let h = gauntlet_wire::hash::stable_hash(&key).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_made_up_prompt_has_the_tokens_asked_for() {
        for n in [1, 7, 120, 4096] {
            assert_eq!(gauntlet_wire::tokens::approx_tokens(&made_up_prompt(n)), n);
        }
    }
}
