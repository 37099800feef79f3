//! Running a scenario: start the embedded mock (or use a target), build the client stack, send
//! the workload on schedule (on one or several threads), drain, and hand back everything recorded.
//!
//! When `duration` ends no request starts; those in flight get the drain period, and what is
//! still open then is an error of kind `cut_off`.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use mock_upstream::faults::FaultConfig;
use mock_upstream::server::{MockOptions, MockState, Pacing, RunningMock};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{sleep_until, Instant};

use super::closed_model::run_users;
pub use super::error::RunError;
use super::open_model::send_arrivals;
use super::recorder::Recorder;
use super::requests_log::{RequestsLog, RequestsLogError, RequestsLogTarget};
use super::session::RunCtx;
use super::stall::{stall_limit, StallWatch};
use super::template::TemplateSender;
use super::threads::{run_threads, DriverThread, StopSignal, ThreadEnd};
use super::trace_replay::send_trace;
use super::workload::{PromptPool, SessionFactory};
use crate::client::stack::stream_seed;
use crate::client::transport::{http_transport, HttpTransportConfig, Transport};
use crate::client::{ClientConfig, ClientStack, SharedObserver, StackError};
use crate::record::{EventWindow, IntervalRow, RunResult, UpstreamView};
use crate::scenario::trace::check_trace;
use crate::scenario::{Dataset, LoadModel, Scenario};

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

/// Starts a system under test once the upstream is up, given the upstream's URL, and says
/// where the driver sends instead. The upstream stays the embedded mock, so its counters and
/// timeline are the run's as usual; the caller keeps the system's handle to stop it.
pub type StartSystem = Box<
    dyn FnOnce(
            String,
        )
            -> std::pin::Pin<Box<dyn Future<Output = Result<SystemTarget, RunError>> + Send>>
        + Send,
>;

/// Where a run with a system under test sends, and what.
#[derive(Debug, Clone)]
pub struct SystemTarget {
    /// The system's base URL.
    pub url: String,
    /// The bearer key the driver sends it (none: no `authorization` header of the driver's).
    pub api_key: Option<String>,
    /// `[system.request]`: the app's own request instead of the OpenAI API's.
    pub request: Option<crate::scenario::system::RequestTemplate>,
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
    /// Driver threads, each with a current-thread runtime and a connection pool of its own
    /// (see `threads`); 0 runs the workload on the caller's runtime, as a simulation and a client
    /// that keeps state in Redis always do.
    pub threads: usize,
    /// Where to write `requests.jsonl` (`[report] requests_log` or `--requests-log`).
    pub requests_log: Option<RequestsLogTarget>,
    /// Starts the system under test between the driver and the upstream (`[system]`).
    pub system: Option<StartSystem>,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("target", &self.target)
            .field("allow_remote", &self.allow_remote)
            .field("threads", &self.threads)
            .field("requests_log", &self.requests_log)
            .field("system", &self.system.is_some())
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
            threads: 0,
            requests_log: None,
            system: None,
        }
    }
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

/// The scripted events of the timeline, for reports.
fn events_of(faults: &FaultConfig) -> Vec<EventWindow> {
    faults
        .spec()
        .timeline
        .iter()
        .map(|e| EventWindow {
            label: e.label(),
            kind: e.kind().to_string(),
            at_s: e.at.as_secs_f64(),
            until_s: e.until.map(|u| u.as_secs_f64()),
        })
        .collect()
}

/// Where this run's requests really go: a scenario's `[upstream] target` overrides the
/// embedded mock, and a simulation can use neither an external server nor Redis.
fn resolve_target(options: &RunOptions, scenario: &Scenario) -> Result<Target, RunError> {
    match (&options.target, &scenario.upstream.target) {
        (Target::InProcess, Some(url)) => Err(RunError::SimNeedsMock(url.clone())),
        (Target::InProcess, _) if scenario.client.uses_redis() => Err(RunError::SimNeedsLocal),
        (Target::External(url), _) => Ok(Target::External(url.clone())),
        (Target::Embedded, Some(url)) => Ok(Target::External(url.clone())),
        (t, _) => Ok(t.clone()),
    }
}

/// The upstream a run talks to: the embedded mock (kept alive for the run), its state (for
/// its counters and timeline), and the transport to it when it is in-process.
struct Upstream {
    mock: Option<RunningMock>,
    state: Option<MockState>,
    transport: Option<Transport>,
    /// An external mock's view of the run, read from its `/_mock/stats`.
    remote_view: Option<UpstreamView>,
}

/// Starts the upstream for `target` and points `client` at it.
async fn start_upstream(
    target: &Target,
    faults: FaultConfig,
    mock_options: MockOptions,
    scenario: &Scenario,
    allow_remote: bool,
    client: &mut ClientConfig,
    stall: Option<&Arc<StallWatch>>,
) -> Result<Upstream, RunError> {
    Ok(match target {
        Target::Embedded => {
            let m = RunningMock::start_local(faults, mock_options).await?;
            client.adapter.base_url = m.url.clone();
            let state = m.state.clone();
            Upstream {
                mock: Some(m),
                state: Some(state),
                transport: None,
                remote_view: None,
            }
        }
        Target::InProcess => {
            let state = MockState::new(faults, mock_options);
            let router = mock_upstream::server::router(state.clone());
            client.adapter.base_url = "http://in-process".into();
            let transport = crate::in_process::in_process_transport(router);
            Upstream {
                mock: None,
                state: Some(state),
                transport: Some(match stall {
                    Some(stall) => watched(transport, stall.clone()),
                    None => transport,
                }),
                remote_view: None,
            }
        }
        Target::External(url) => {
            check_target(url, allow_remote)?;
            client.adapter.base_url = url.clone();
            if client.adapter.api_key.is_none() {
                client.adapter.api_key = scenario.upstream.api_keys.first().cloned();
            }
            Upstream {
                mock: None,
                state: None,
                transport: None,
                remote_view: None,
            }
        }
    })
}

/// `transport` with every call reported to `stall` (retries without delay call it at one
/// instant without end).
fn watched(transport: Transport, stall: Arc<StallWatch>) -> Transport {
    Transport::new(move |req| {
        let (inner, stall) = (transport.clone(), stall.clone());
        async move {
            stall.tick().await;
            tower::ServiceExt::oneshot(inner, req).await
        }
    })
}

/// The prompt pool: the scenario's prompts file or dataset, or the built-in prompts.
fn load_prompts(scenario: &Scenario) -> Result<PromptPool, RunError> {
    let prompts = &scenario.workload.prompts;
    if let Some(path) = &prompts.dataset {
        return Ok(PromptPool::from_dataset(Dataset::load(path)?));
    }
    match &prompts.file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| RunError::PromptsFile {
                path: path.clone(),
                source,
            })?;
            Ok(PromptPool::from_text(&text, prompts.distinct)?)
        }
        None => Ok(PromptPool::built_in(prompts.distinct)),
    }
}

/// Closes an interval at each interval's end, idle ones included, and reports it.
fn spawn_ticker(
    recorder: Arc<Recorder>,
    on_interval: Option<IntervalCallback>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let interval = recorder.interval();
        let mut next = recorder.start() + interval;
        loop {
            sleep_until(next).await;
            recorder.tick(next);
            // The rows' figures are worked out off the runtime's workers, which carry the
            // mock's streams and the driver's reads (see `recorder_rows`).
            let publisher = recorder.clone();
            if tokio::task::spawn_blocking(move || publisher.publish())
                .await
                .is_err()
            {
                recorder.publish();
            }
            if let Some(cb) = &on_interval {
                if let Some(row) = recorder.last_row() {
                    cb(&row, recorder.open());
                }
            }
            next += interval;
        }
    })
}

/// `stop`, or the simulation's clock stopping.
async fn until_stalled(stop: impl Future<Output = ()>, stall: Option<Arc<StallWatch>>) {
    match stall {
        Some(stall) => {
            tokio::select! {
                () = stop => {}
                () = stall.stalled() => {}
            }
        }
        None => stop.await,
    }
}

/// Sends the workload on `threads` driver threads (0: on this runtime) until it ends or `stop`.
async fn drive(
    ctx: Arc<RunCtx>,
    threads: usize,
    stop: impl Future<Output = ()>,
) -> Result<ThreadEnd, RunError> {
    let (raise_stop, signal) = StopSignal::new();
    let work = move |thread: DriverThread| thread_work(ctx.clone(), thread, signal.clone());
    let ended = if threads == 0 {
        until_done(
            async { Ok(vec![work(DriverThread::ONLY).await]) },
            stop,
            &raise_stop,
        )
        .await
    } else {
        until_done(run_threads(threads, work, &raise_stop), stop, &raise_stop).await
    };
    Ok(ThreadEnd::merge(&ended?))
}

/// How the embedded mock ends its waits: precisely on real sockets (a paced first token
/// comes back within a millisecond, `tests/pacing_real.rs`), on tokio's clock in the
/// simulation, whose paused clock a real thread would break.
fn pacing_for(target: &Target) -> Pacing {
    match target {
        Target::InProcess => Pacing::Tokio,
        Target::Embedded | Target::External(_) => Pacing::Precise,
    }
}

/// Runs `scenario` until it ends or `stop` completes (Ctrl-C).
pub async fn run(
    scenario: &Scenario,
    mut options: RunOptions,
    stop: impl Future<Output = ()>,
) -> Result<RunResult, RunError> {
    let seed = scenario.seed;
    let faults = scenario.upstream.fault_config(seed)?;
    let events = events_of(&faults);
    let target = resolve_target(&options, scenario)?;
    let mock_options = MockOptions {
        seed: Some(seed),
        admin_token: None,
        epoch_secs: options.epoch_secs,
        pacing: pacing_for(&target),
    };
    let mut client = scenario.client.clone();
    let threads = threads_for(&target, &client, &options);
    let stall = matches!(target, Target::InProcess)
        .then(|| Arc::new(StallWatch::new(Instant::now(), stall_limit(scenario))));
    let mut upstream = start_upstream(
        &target,
        faults,
        mock_options,
        scenario,
        options.allow_remote,
        &mut client,
        stall.as_ref(),
    )
    .await?;
    let template = match options.system.take() {
        Some(start) => through_system(start, &mut client, threads, options.allow_remote).await?,
        None => None,
    };
    let pool = load_prompts(scenario)?;
    // Read through once, so a bad line fails the run before it starts.
    if let Some(trace) = &scenario.workload.trace {
        check_trace(trace, seed)?;
    }
    // An external target that is a mock shows its view; read where it stands before the run.
    let external = external_url(&target, &client);
    let view_before = read_remote(external.clone()).await;

    let start = Instant::now();
    let requests_log = match &options.requests_log {
        Some(t) => Some(Arc::new(RequestsLog::create(t, start).map_err(
            |source| RequestsLogError {
                path: t.path.clone(),
                source,
            },
        )?)),
        None => None,
    };
    let recorder =
        Arc::new(Recorder::new(start, scenario.report.interval.0).with_slo(scenario.slo.clone()));
    let stack = build_stack(
        &client,
        seed,
        recorder.clone(),
        upstream.transport.take(),
        threads,
    )?;
    // The mock's timeline starts with the run, and its view counts on the run's intervals.
    if let Some(s) = &upstream.state {
        s.set_view_interval(recorder.interval());
        s.reset();
    }
    // Checked once here; every driver thread builds its own factories.
    SessionFactory::new(&scenario.workload, pool.clone(), seed, "")?;

    let duration = scenario.duration.0;
    let ctx = Arc::new(RunCtx {
        stack,
        recorder: recorder.clone(),
        scenario: scenario.clone(),
        pool,
        start,
        end: start + duration,
        in_flight: Arc::new(Semaphore::new(scenario.workload.max_in_flight)),
        stall: stall.clone(),
        requests_log: requests_log.clone(),
        template,
    });
    let ticker = spawn_ticker(recorder.clone(), options.on_interval);
    let ended = drive(ctx, threads, until_stalled(stop, stall.clone())).await;
    let finished = Instant::now();
    recorder.close(finished);
    ticker.abort();
    let end = ended?;
    if let Some(after) = read_remote(external).await {
        let view = UpstreamView::between(view_before.as_ref(), &after, recorder.interval());
        upstream.remote_view = Some(view);
    }
    if let Some(s) = &stall {
        s.check()?;
    }
    if let Some(log) = &requests_log {
        log.finish()?;
    }
    let plan = RunPlan {
        seed,
        events,
        duration,
        epoch_secs: options.epoch_secs,
    };
    Ok(into_result(
        plan, &recorder, upstream, &end, start, finished,
    ))
}

/// The API base of an external target, whose `/_mock/stats` may hold the upstream's view.
fn external_url(target: &Target, client: &ClientConfig) -> Option<String> {
    match target {
        Target::External(_) => Some(client.adapter.base_url.clone()),
        _ => None,
    }
}

/// An external mock's view now, if `url` is one.
async fn read_remote(url: Option<String>) -> Option<mock_upstream::upstream_view::ViewSnapshot> {
    super::remote_view::read(url?).await
}

/// Starts the system under test with the upstream's URL and points `client` at it; the
/// sender of its `[system.request]`, if it has one.
async fn through_system(
    start: StartSystem,
    client: &mut ClientConfig,
    threads: usize,
    allow_remote: bool,
) -> Result<Option<TemplateSender>, RunError> {
    let target = start(client.adapter.base_url.clone()).await?;
    check_target(&target.url, allow_remote)?;
    client.adapter.base_url = target.url.clone();
    client.adapter.api_key = target.api_key.clone();
    let Some(request) = target.request else {
        return Ok(None);
    };
    let transport = http_transport(&HttpTransportConfig {
        http2_only: client.adapter.http2,
        pools: threads.max(1),
        extra_roots: client.extra_roots().map_err(StackError::from)?,
        ..HttpTransportConfig::default()
    })
    .map_err(StackError::from)?;
    Ok(Some(TemplateSender::new(
        request,
        &target.url,
        target.api_key,
        transport,
    )))
}

/// Driver threads for the run: a Redis connection's task runs on the runtime that opened it
/// and would die with a driver thread's runtime, and the simulation is one runtime on virtual
/// time, so both run on the caller's (0).
fn threads_for(target: &Target, client: &ClientConfig, options: &RunOptions) -> usize {
    if matches!(target, Target::InProcess) || client.uses_redis() {
        0
    } else {
        options.threads
    }
}

/// What a run was set to do, for its result.
struct RunPlan {
    seed: u64,
    events: Vec<EventWindow>,
    duration: Duration,
    epoch_secs: u64,
}

/// Everything the run recorded and the mock counted, once it has ended at `finished`.
fn into_result(
    plan: RunPlan,
    recorder: &Recorder,
    mut upstream: Upstream,
    end: &ThreadEnd,
    start: Instant,
    finished: Instant,
) -> RunResult {
    let (totals, mut rows) = recorder.finish(finished);
    let (mock_stats, mock_keys) = match &upstream.state {
        Some(s) => (Some(s.stats()), s.key_usage()),
        None => (None, Vec::new()),
    };
    let upstream_view = match &upstream.state {
        Some(s) => Some(UpstreamView::of_snapshot(
            &s.upstream_view(),
            recorder.interval(),
        )),
        None => upstream.remote_view.take(),
    };
    if let Some(view) = &upstream_view {
        view.fill_rows(&mut rows);
    }
    drop(upstream.mock);
    let elapsed = finished.saturating_duration_since(start);
    RunResult {
        totals,
        rows,
        elapsed,
        // Ctrl-C's run lasted as long as it ran; a finished run as long as it was meant to.
        duration: if end.interrupted {
            elapsed.min(plan.duration)
        } else {
            plan.duration
        },
        interrupted: end.interrupted,
        mock_stats,
        mock_keys,
        upstream_view,
        events: plan.events,
        seed: plan.seed,
        max_lag: end.max_lag,
        interval: recorder.interval(),
        epoch_secs: plan.epoch_secs,
    }
}

/// The scenario's stack, reporting to `recorder`, over `transport` (the in-process mock) or a
/// pooled HTTP transport with a pool per driver thread.
fn build_stack(
    client: &ClientConfig,
    seed: u64,
    recorder: Arc<Recorder>,
    transport: Option<Transport>,
    threads: usize,
) -> Result<ClientStack, RunError> {
    let observer: SharedObserver = recorder;
    let transport = match transport {
        Some(t) => t,
        None => http_transport(&HttpTransportConfig {
            http2_only: client.adapter.http2,
            pools: threads.max(1),
            extra_roots: client.extra_roots().map_err(StackError::from)?,
            ..HttpTransportConfig::default()
        })
        .map_err(StackError::from)?,
    };
    Ok(ClientStack::builder(client)
        .seed(stream_seed(seed, "client"))
        .observer(observer)
        .transport(transport)
        .build()?)
}

/// Awaits `work`, raising the threads' stop signal when `stop` (Ctrl-C) completes first.
async fn until_done<T>(
    work: impl Future<Output = T>,
    stop: impl Future<Output = ()>,
    raise_stop: &watch::Sender<bool>,
) -> T {
    tokio::pin!(work, stop);
    let mut stopped = false;
    loop {
        tokio::select! {
            biased;
            done = &mut work => return done,
            () = &mut stop, if !stopped => {
                stopped = true;
                let _ = raise_stop.send(true);
            }
        }
    }
}

/// One thread's part of the run: its share of the workload, then the drain: requests in flight
/// get the drain period to finish (none after Ctrl-C); what is still open then is cut off by
/// the recorder when the run closes.
async fn thread_work(ctx: Arc<RunCtx>, thread: DriverThread, mut stop: StopSignal) -> ThreadEnd {
    let mut tasks = JoinSet::new();
    let trace = ctx.scenario.workload.trace.clone();
    let mut end = match (&trace, ctx.scenario.workload.model) {
        (Some(spec), _) => send_trace(&ctx, spec, thread, &mut tasks, &mut stop).await,
        (None, LoadModel::Open) => send_arrivals(&ctx, thread, &mut tasks, &mut stop).await,
        (None, LoadModel::Closed) => ThreadEnd {
            interrupted: run_users(&ctx, thread, &mut tasks, &mut stop).await,
            max_lag: Duration::ZERO,
        },
    };
    if !end.interrupted {
        let deadline = Instant::now().max(ctx.end) + ctx.scenario.drain();
        loop {
            tokio::select! {
                biased;
                joined = tasks.join_next() => if joined.is_none() { break },
                () = sleep_until(deadline) => break,
                () = stop.stopped() => { end.interrupted = true; break; }
            }
        }
    }
    // What is still running now is cut off: no completion of it may count after the drain.
    tasks.abort_all();
    end
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
