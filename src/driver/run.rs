//! Running a scenario: start the embedded mock (or use a target), build the client stack, send
//! the workload on schedule, drain, and hand back everything recorded.
//!
//! Open model: each arrival is scheduled at `start + offset` and its latency counts from that
//! intended time, so when the stack or the machine falls behind the delay shows in the latency
//! (and in the schedule lag), never silently. Arrivals beyond `max_in_flight` are counted as
//! dropped. When `duration` ends no request starts; those in flight get the drain period, and
//! what is still open then is an error of kind `cut_off`.

use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mock_upstream::faults::engine::KeyUsage;
use mock_upstream::server::stats::StatsSnapshot;
use mock_upstream::server::{MockOptions, MockState, RunningMock};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::{sleep_until, Instant};

use super::arrivals::{rate_at, segments, ArrivalClock};
use super::recorder::{Completion, IntervalRow, Recorder, Totals};
use super::workload::{PromptPool, SessionFactory, SessionPlan};
use crate::client::stack::stream_seed;
use crate::client::transport::{in_process_transport, Transport};
use crate::client::{ChatRequest, ClientStack, SharedObserver, StackError};
use crate::scenario::{LoadModel, Scenario};

/// Where requests go.
#[derive(Debug, Clone)]
pub enum Target {
    /// The embedded mock on a free loopback port (real HTTP).
    Embedded,
    /// The embedded mock's Router called in-process (the simulation).
    InProcess,
    /// An external server.
    External(String),
}

/// Called after each interval with the row just closed and the requests open now.
pub type IntervalCallback = Box<dyn Fn(&IntervalRow, u64) + Send + Sync>;

/// Settings of one run besides the scenario.
pub struct RunOptions {
    /// Where requests go.
    pub target: Target,
    /// Allow an external target that is not on loopback.
    pub allow_remote: bool,
    /// Unix time for `created` fields of the embedded mock.
    pub epoch_secs: u64,
    /// Called after each interval with the row just closed and the requests open now.
    pub on_interval: Option<IntervalCallback>,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("target", &self.target)
            .field("allow_remote", &self.allow_remote)
            .finish_non_exhaustive()
    }
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            target: Target::Embedded,
            allow_remote: false,
            epoch_secs: 0,
            on_interval: None,
        }
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A non-loopback target without `--allow-remote`.
    #[error(
        "target {0} is not on this machine; pass --allow-remote if you really mean to load-test it"
    )]
    RemoteTarget(String),
    /// A target URL that cannot be read.
    #[error("target {0:?} is not an http(s) URL")]
    BadTarget(String),
    /// The embedded mock could not start.
    #[error("starting the embedded mock: {0}")]
    Mock(#[from] std::io::Error),
    /// The upstream config is invalid.
    #[error("upstream: {0}")]
    Upstream(String),
    /// The client stack could not be built.
    #[error("client: {0}")]
    Stack(#[from] StackError),
    /// The prompts file.
    #[error("workload.prompts: {0}")]
    Prompts(String),
    /// A simulation of a scenario whose upstream is an external server.
    #[error(
        "--sim runs against the embedded mock; this scenario's [upstream] names a target ({0})"
    )]
    SimNeedsMock(String),
    /// The run's task panicked (a bug): reported instead of aborting without a report.
    #[error("the run failed: {0}")]
    Panicked(String),
    /// A simulation of a scenario whose limiter or cache keeps state in Redis: virtual time
    /// cannot run another process's clock.
    #[error("--sim runs in one process on virtual time; it cannot share state in Redis (drop --redis, limiter.backend = \"redis\" and [client.cache.redis])")]
    SimNeedsLocal,
}

/// A scripted event, for reports.
#[derive(Debug, Clone, PartialEq)]
pub struct EventWindow {
    /// Its label (`outage 503`).
    pub label: String,
    /// Its kind (`outage`, `latency`, ...).
    pub kind: String,
    /// Start offset, seconds.
    pub at_s: f64,
    /// End offset, seconds, if it ends.
    pub until_s: Option<f64>,
}

/// Everything a run saw.
#[derive(Debug)]
pub struct RunResult {
    /// Totals.
    pub totals: Totals,
    /// One row per interval.
    pub rows: Vec<IntervalRow>,
    /// Time from start until the last request finished or was cut off.
    pub elapsed: Duration,
    /// The configured duration (or where Ctrl-C stopped it).
    pub duration: Duration,
    /// Whether the run was interrupted.
    pub interrupted: bool,
    /// The embedded mock's counters.
    pub mock_stats: Option<StatsSnapshot>,
    /// The embedded mock's per-key usage.
    pub mock_keys: Vec<KeyUsage>,
    /// The scripted events.
    pub events: Vec<EventWindow>,
    /// The seed used.
    pub seed: u64,
    /// Worst schedule lag.
    pub max_lag: Duration,
    /// The interval length.
    pub interval: Duration,
    /// Unix time of the start (0 in simulation), for the hlog's `StartTime`.
    pub epoch_secs: u64,
}

fn check_target(url: &str, allow_remote: bool) -> Result<(), RunError> {
    let uri: http::Uri = url.parse().map_err(|_| RunError::BadTarget(url.into()))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(RunError::BadTarget(url.into()));
    }
    let host = uri.host().ok_or_else(|| RunError::BadTarget(url.into()))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if loopback || allow_remote {
        Ok(())
    } else {
        Err(RunError::RemoteTarget(url.into()))
    }
}

/// Runs `scenario` until it ends or `stop` completes (Ctrl-C).
pub async fn run(
    scenario: &Scenario,
    options: RunOptions,
    stop: impl Future<Output = ()>,
) -> Result<RunResult, RunError> {
    let seed = scenario.seed;
    let faults = scenario
        .upstream
        .fault_config(seed)
        .map_err(RunError::Upstream)?;
    let events: Vec<EventWindow> = faults
        .spec()
        .timeline
        .iter()
        .map(|e| EventWindow {
            label: e.label(),
            kind: e.kind().to_string(),
            at_s: e.at.as_secs_f64(),
            until_s: e.until.map(|u| u.as_secs_f64()),
        })
        .collect();
    let options_epoch = options.epoch_secs;
    let mock_options = MockOptions {
        seed: Some(seed),
        admin_token: None,
        epoch_secs: options.epoch_secs,
    };
    let mut client = scenario.client.clone();
    let target = match (&options.target, &scenario.upstream.target) {
        (Target::InProcess, Some(url)) => return Err(RunError::SimNeedsMock(url.clone())),
        (Target::InProcess, _) if client.uses_redis() => return Err(RunError::SimNeedsLocal),
        (Target::External(url), _) => Target::External(url.clone()),
        (Target::Embedded, Some(url)) => Target::External(url.clone()),
        (t, _) => t.clone(),
    };
    let (mock, state, transport): (Option<RunningMock>, Option<MockState>, Option<Transport>) =
        match &target {
            Target::Embedded => {
                let m = RunningMock::start_local(faults, mock_options).await?;
                client.adapter.base_url = m.url.clone();
                let state = m.state.clone();
                (Some(m), Some(state), None)
            }
            Target::InProcess => {
                let state = MockState::new(faults, mock_options);
                let router = mock_upstream::server::router(state.clone());
                client.adapter.base_url = "http://in-process".into();
                (None, Some(state), Some(in_process_transport(router)))
            }
            Target::External(url) => {
                check_target(url, options.allow_remote)?;
                client.adapter.base_url = url.clone();
                if client.adapter.api_key.is_none() {
                    client.adapter.api_key = scenario.upstream.api_keys.first().cloned();
                }
                (None, None, None)
            }
        };

    let pool = match &scenario.workload.prompts.file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| RunError::Prompts(format!("{}: {e}", path.display())))?;
            PromptPool::from_text(&text, scenario.workload.prompts.distinct)
                .map_err(RunError::Prompts)?
        }
        None => PromptPool::built_in(scenario.workload.prompts.distinct),
    };

    let start = Instant::now();
    let recorder = Arc::new(Recorder::new(start, scenario.report.interval.0));
    let observer: SharedObserver = recorder.clone();
    let mut builder = ClientStack::builder(&client)
        .seed(stream_seed(seed, "client"))
        .observer(observer);
    if let Some(t) = transport {
        builder = builder.transport(t);
    }
    let stack = builder.build()?;
    // The mock's timeline starts with the run.
    if let Some(s) = &state {
        s.reset();
    }

    let duration = scenario.duration.0;
    let end = start + duration;
    let drain = scenario.drain();
    let ctx = Arc::new(SessionCtx {
        stack,
        recorder: recorder.clone(),
        end,
        model: scenario.workload.model_name.clone(),
        max_tokens: scenario.workload.max_tokens,
    });

    let ticker = {
        let recorder = recorder.clone();
        let on_interval = options.on_interval;
        tokio::spawn(async move {
            let interval = recorder.interval();
            let mut next = recorder.start() + interval;
            loop {
                sleep_until(next).await;
                recorder.tick(next);
                if let Some(cb) = &on_interval {
                    if let Some(row) = recorder.last_row() {
                        cb(&row, recorder.open());
                    }
                }
                next += interval;
            }
        })
    };

    tokio::pin!(stop);
    let mut tasks = JoinSet::new();
    let mut interrupted = false;
    let mut max_lag = Duration::ZERO;
    let factory = SessionFactory::new(&scenario.workload, pool.clone(), seed, "")
        .map_err(RunError::Prompts)?;

    match scenario.workload.model {
        LoadModel::Open => {
            let segs = segments(&scenario.workload.stages, duration);
            let arrivals = ArrivalClock::new(
                segs.clone(),
                scenario.workload.arrivals,
                ChaCha8Rng::seed_from_u64(stream_seed(seed, "arrivals")),
            );
            let in_flight = Arc::new(Semaphore::new(scenario.workload.max_in_flight));
            let mut factory = factory;
            for offset in arrivals {
                if offset >= duration {
                    break;
                }
                let intended = start + offset;
                tokio::select! {
                    biased;
                    () = sleep_until(intended) => {}
                    () = &mut stop => { interrupted = true; break; }
                }
                // Reap finished sessions so the set holds only live ones: memory stays flat
                // however long the run.
                while tasks.try_join_next().is_some() {}
                let now = Instant::now();
                let lag = now.saturating_duration_since(intended);
                max_lag = max_lag.max(lag);
                // The session is drawn even when dropped, so what follows does not shift.
                let plan = factory.next_session();
                let Ok(permit) = in_flight.clone().try_acquire_owned() else {
                    recorder.dropped(intended);
                    continue;
                };
                recorder.started(intended, lag, rate_at(&segs, offset.as_secs_f64()));
                let ctx = ctx.clone();
                tasks.spawn(async move {
                    ctx.session(plan, Some(intended)).await;
                    drop(permit);
                });
            }
        }
        LoadModel::Closed => {
            interrupted =
                closed_model(scenario, &ctx, &pool, seed, start, &mut tasks, &mut stop).await;
        }
    }

    // Drain: requests in flight get `drain` to finish (none after Ctrl-C).
    if !interrupted {
        let deadline = Instant::now().max(end) + drain;
        loop {
            tokio::select! {
                    biased;
                joined = tasks.join_next() => if joined.is_none() { break },
                () = sleep_until(deadline) => break,
                () = &mut stop => { interrupted = true; break; }
            }
        }
    }
    let finished = Instant::now();
    recorder.close(finished);
    tasks.abort_all();
    ticker.abort();
    let (totals, rows) = recorder.finish(finished);
    let (mock_stats, mock_keys) = match &state {
        Some(s) => (Some(s.stats()), s.key_usage()),
        None => (None, Vec::new()),
    };
    drop(mock);
    Ok(RunResult {
        totals,
        rows,
        elapsed: finished.saturating_duration_since(start),
        duration: if interrupted {
            finished.saturating_duration_since(start).min(duration)
        } else {
            duration
        },
        interrupted,
        mock_stats,
        mock_keys,
        events,
        seed,
        max_lag,
        interval: recorder.interval(),
        epoch_secs: options_epoch,
    })
}

/// What every session task needs.
struct SessionCtx {
    stack: ClientStack,
    recorder: Arc<Recorder>,
    end: Instant,
    model: String,
    max_tokens: Option<u32>,
}

impl SessionCtx {
    /// Sends a session's turns one after the other. `first_intended` is the open model's
    /// scheduled time of the first turn (already recorded as started).
    async fn session(&self, plan: SessionPlan, first_intended: Option<Instant>) {
        for (i, turn) in plan.turns.iter().enumerate() {
            let intended = match (i, first_intended) {
                (0, Some(t)) => t,
                _ => {
                    let t = Instant::now() + turn.think;
                    if t >= self.end {
                        return;
                    }
                    // A zero think time must not wait for the timer's next millisecond tick.
                    if !turn.think.is_zero() {
                        sleep_until(t).await;
                    }
                    self.recorder.started(t, Duration::ZERO, 0.0);
                    t
                }
            };
            let mut req = ChatRequest::user_text(self.model.clone(), turn.prompt.clone());
            req.max_tokens = self.max_tokens;
            req.stream = plan.stream;
            req.session = Some(plan.id.clone());
            req.user = plan.user.clone();
            req.priority = plan.priority;
            req.api_key = plan.api_key.clone();
            let trace = req.trace.clone();
            let sent = Instant::now();
            self.recorder.begin();
            let result = self.stack.send(req).await;
            self.recorder.completed(&Completion {
                intended,
                sent,
                done: Instant::now(),
                result: &result,
                attempts: trace.attempts(),
                limiter_wait: trace.limiter_wait(),
                priority: plan.priority,
            });
        }
    }
}

/// The closed model: users in stages, each sending a session, thinking, and sending again.
/// Returns whether it was interrupted.
async fn closed_model(
    scenario: &Scenario,
    ctx: &Arc<SessionCtx>,
    pool: &PromptPool,
    seed: u64,
    start: Instant,
    tasks: &mut JoinSet<()>,
    stop: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
) -> bool {
    let w = &scenario.workload;
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
        if at >= scenario.duration.0 {
            break;
        }
        tokio::select! {
                    biased;
            () = sleep_until(start + at) => {}
            () = &mut *stop => return true,
        }
        target.store(users, Ordering::Relaxed);
        while spawned < users {
            let id = spawned;
            spawned += 1;
            let Ok(mut factory) = SessionFactory::new(w, pool.clone(), seed, &format!("-user{id}"))
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
                    ctx.session(plan, Some(now)).await;
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
        () = sleep_until(start + scenario.duration.0) => false,
        () = &mut *stop => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_targets_need_consent() {
        assert!(check_target("http://127.0.0.1:8089", false).is_ok());
        assert!(check_target("http://[::1]:8089", false).is_ok());
        assert!(check_target("http://localhost:1", false).is_ok());
        assert!(matches!(
            check_target("https://api.example.com", false),
            Err(RunError::RemoteTarget(_))
        ));
        assert!(check_target("https://api.example.com", true).is_ok());
        assert!(matches!(
            check_target("ftp://x", true),
            Err(RunError::BadTarget(_))
        ));
    }
}
