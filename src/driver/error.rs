//! Why a run could not start or did not finish: its own module, so the run and the driver
//! threads that fail it both import it instead of each other.

use mock_upstream::faults::config::FaultConfigError;

use super::workload::WorkloadSetupError;
use crate::client::StackError;

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
    Upstream(#[from] FaultConfigError),
    /// The client stack could not be built.
    #[error("client: {0}")]
    Stack(#[from] StackError),
    /// The prompts file could not be read.
    #[error("workload.prompts: {path}: {source}")]
    PromptsFile {
        /// `workload.prompts.file`, as written in the scenario.
        path: std::path::PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The prompts or sessions could not be set up.
    #[error("workload.prompts: {0}")]
    Prompts(#[from] WorkloadSetupError),
    /// A simulation of a scenario whose upstream is an external server.
    #[error(
        "--sim runs against the embedded mock; this scenario's [upstream] names a target ({0})"
    )]
    SimNeedsMock(String),
    /// The run's task panicked (a bug): reported instead of aborting without a report.
    #[error("the run failed: {0}")]
    Panicked(String),
    /// A driver thread or its runtime could not start (the system's thread or file limit).
    #[error("starting a driver thread: {0}")]
    Threads(#[source] std::io::Error),
    /// The run's own runtime could not be built (the system's thread or file limit).
    #[error("starting the runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// A simulation whose virtual clock stopped: requests or retries at one instant without end.
    #[error("the simulation made no progress: {limit} requests and upstream calls at {at:.3} s of virtual time without its clock moving (an upstream without latency and users without think time, or retries without delay?); give the upstream a latency, the users a think_time or the retries a base_delay")]
    NoProgress {
        /// Where in the run the clock stopped, seconds.
        at: f64,
        /// How many requests and calls it took to decide.
        limit: u64,
    },
    /// A simulation of a scenario whose limiter or cache keeps state in Redis: virtual time
    /// cannot run another process's clock.
    #[error("--sim runs in one process on virtual time; it cannot share state in Redis (drop --redis, limiter.backend = \"redis\" and [client.cache.redis])")]
    SimNeedsLocal,
    /// The system under test could not be started (`crate::system` says why).
    #[error("{0}")]
    System(#[source] Box<dyn std::error::Error + Send + Sync>),
}
