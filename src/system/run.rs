//! A whole run with a system under test: the driver starts the embedded mock, this starts
//! the system with the mock's URL (or takes `--system-url`), the driver sends to it, and the
//! system is stopped whatever happened — the run ending, failing, or being interrupted.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::{api_key_of, RunningSystem, StopReport, SystemError};
use crate::driver::run::RunError;
use crate::driver::{self, RunOptions, SystemTarget};
use crate::record::RunResult;
use crate::scenario::{Scenario, SystemSpec};

/// What the driver sends to.
#[derive(Debug, Clone)]
pub enum Through {
    /// Start `[system]`'s command and send to its `url`.
    Start(SystemSpec),
    /// A system already running at this URL (`--system-url`), with `[system]`'s key and
    /// request template if the scenario has one; nothing is started.
    Url(String, Option<SystemSpec>),
}

/// A run's result and how its system stopped (`None` when nothing was started).
#[derive(Debug)]
pub struct SystemRun {
    /// What the run recorded.
    pub result: RunResult,
    /// How the started system ended.
    pub stopped: Option<StopReport>,
}

/// Why a run with a system did not finish.
#[derive(Debug, thiserror::Error)]
pub enum SystemRunError {
    /// The system could not be started (nothing of it is left running).
    #[error("{0}")]
    System(SystemError),
    /// The run failed (the system, if started, has been stopped).
    #[error("{0}")]
    Run(RunError),
}

/// The slot the start hook leaves the started system in, for the stop at the end.
type Slot = Arc<Mutex<Option<RunningSystem>>>;

/// Runs `scenario` through the system `through` names, with its output in `run_dir`; `stop`
/// (Ctrl-C) ends the run early, or the start if it comes first. The system is stopped
/// before this returns, on every path.
pub async fn run_with_system(
    scenario: &Scenario,
    mut options: RunOptions,
    through: Through,
    run_dir: &Path,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<SystemRun, SystemRunError> {
    let (raise, raised) = watch::channel(false);
    let waiter = tokio::spawn(async move {
        stop.await;
        let _ = raise.send(true);
    });
    let slot: Slot = Arc::default();
    options.system = Some(start_hook(
        through,
        run_dir.to_path_buf(),
        slot.clone(),
        raised.clone(),
    ));
    let mut on_run = raised;
    let ended = driver::run(scenario, options, async move {
        let _ = on_run.wait_for(|r| *r).await;
    })
    .await;
    waiter.abort();
    let started = slot.lock().map(|mut s| s.take()).unwrap_or(None);
    let stopped = match started {
        Some(system) => Some(system.stop().await),
        None => None,
    };
    match ended {
        Ok(result) => Ok(SystemRun { result, stopped }),
        Err(RunError::System(e)) => Err(match e.downcast::<SystemError>() {
            Ok(e) => SystemRunError::System(*e),
            Err(e) => SystemRunError::Run(RunError::System(e)),
        }),
        Err(e) => Err(SystemRunError::Run(e)),
    }
}

/// The hook the driver calls once the upstream is up.
fn start_hook(
    through: Through,
    run_dir: PathBuf,
    slot: Slot,
    mut raised: watch::Receiver<bool>,
) -> driver::StartSystem {
    let boxed = |e: SystemError| RunError::System(Box::new(e));
    Box::new(move |mock_url: String| {
        Box::pin(async move {
            match through {
                Through::Url(url, spec) => Ok(SystemTarget {
                    url,
                    api_key: match &spec {
                        Some(s) => api_key_of(s).map_err(boxed)?,
                        None => None,
                    },
                    request: spec.and_then(|s| s.request),
                }),
                Through::Start(spec) => {
                    let system = tokio::select! {
                        started = RunningSystem::start(&spec, &mock_url, &run_dir) => started,
                        _ = raised.wait_for(|r| *r) => Err(SystemError::Interrupted),
                    }
                    .map_err(boxed)?;
                    let target = SystemTarget {
                        url: system.url().to_string(),
                        api_key: system.api_key().map(str::to_string),
                        request: system.request().cloned(),
                    };
                    if let Ok(mut s) = slot.lock() {
                        *s = Some(system);
                    }
                    Ok(target)
                }
            }
        })
    })
}
