//! The system under test: a gateway or an app, in any language, started between the driver
//! and the embedded mock (`[system]` in the scenario). Gauntlet starts the mock, then the
//! system with the mock's URL filled into its command and environment, waits until it is
//! ready, runs the driver against it, and stops it: SIGTERM to its process group, SIGKILL after
//! `stop_timeout`. Its stdout and stderr are kept in the run directory as `system.log`.
//!
//! Every way a start can fail (the command does not start, exits before it is ready, is not
//! ready in time) is a [`SystemError`], after which no process of it is left; so is dropping
//! a [`RunningSystem`] without [`RunningSystem::stop`] (it kills the group).

mod placeholders;
mod process;
mod ready;
mod run;

use std::path::{Path, PathBuf};
use std::time::Duration;

use gauntlet_wire::duration::format_human;

pub use placeholders::Placeholders;
pub use run::{run_with_system, SystemRun, SystemRunError, Through};

use crate::scenario::system::RequestTemplate;
pub use crate::scenario::SystemSpec;

/// Why a system could not be started or stopped; each message says what to fix. A secret
/// (`api_key`, `api_key_env`'s value) never appears in one.
#[derive(Debug, thiserror::Error)]
pub enum SystemError {
    /// `api_key_env` names a variable that is not set.
    #[error("system.api_key_env: the environment variable {0} is not set")]
    ApiKeyEnv(String),
    /// The upstream's URL has no port to fill `{mock_port}` with.
    #[error("system: the upstream's URL {0:?} has no port for {{mock_port}}")]
    MockUrl(String),
    /// No free port for `{port}`.
    #[error("system: no free loopback port for {{port}}: {0}")]
    Port(#[source] std::io::Error),
    /// `url` (with its placeholders filled) is not a URL.
    #[error("system.url: {0:?} is not a URL")]
    Url(String),
    /// The HTTP client for `ready` could not be built.
    #[error("system.ready: {0}")]
    Probe(String),
    /// The run directory or `system.log` could not be written.
    #[error("system: writing {path}: {source}")]
    Log {
        /// The file or directory.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The command could not be started at all (no such program, not executable, bad `cwd`).
    #[error("system.command: {program:?} could not be started: {source}")]
    Spawn {
        /// The program (`sh` for a string command).
        program: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The command exited before it was ready.
    #[error("system.command exited before it was ready ({status}); the last lines of its output ({log}):\n{tail}", log = log.display())]
    ExitedBeforeReady {
        /// Its exit status (`exit status: 3`, `signal: 9`).
        status: String,
        /// `system.log`.
        log: PathBuf,
        /// Its last lines.
        tail: String,
    },
    /// Not ready within `ready_timeout`; it has been stopped.
    #[error("system: not ready after {timeout} ({what}); raise system.ready_timeout or fix system.ready; it was stopped. The last lines of its output ({log}):\n{tail}", log = log.display())]
    NotReady {
        /// `ready_timeout`, as written.
        timeout: String,
        /// What was waited for.
        what: String,
        /// `system.log`.
        log: PathBuf,
        /// Its last lines.
        tail: String,
    },
    /// SIGINT or SIGTERM arrived while the system was starting; it has been stopped.
    #[error("system: interrupted while waiting for it to become ready; it was stopped")]
    Interrupted,
}

/// How a system ended, for the run's output. Ignoring SIGTERM does not fail the run (its
/// report is whole and its thresholds judge it); it is said on stderr and in `system.log`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopReport {
    /// How its leader process ended (`exit status: 0`, `signal: 15 (SIGTERM)`), if known.
    pub status: Option<String>,
    /// It had exited by itself before Gauntlet stopped it: requests after that failed.
    pub exited_during_run: bool,
    /// It (or a process it started) ignored SIGTERM for `stop_timeout` and was killed.
    pub killed: bool,
    /// `stop_timeout`.
    pub stop_timeout: Duration,
    /// Where its output is.
    pub log: PathBuf,
}

impl StopReport {
    /// Whether the stop deserves a warning: it exited on its own or had to be killed.
    pub fn is_warning(&self) -> bool {
        self.exited_during_run || self.killed
    }
}

impl std::fmt::Display for StopReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self.status.as_deref().unwrap_or("status unknown");
        if self.exited_during_run {
            write!(f, "the system exited during the run ({status})")?;
        } else if self.killed {
            write!(
                f,
                "the system ignored SIGTERM for {} and was killed with SIGKILL",
                format_human(self.stop_timeout)
            )?;
        } else {
            write!(f, "the system stopped on SIGTERM ({status})")?;
        }
        write!(f, "; its output is in {}", self.log.display())
    }
}

/// A started system: its resolved URL and key, and its process group until [`stop`](Self::stop).
#[derive(Debug)]
pub struct RunningSystem {
    url: String,
    api_key: Option<String>,
    request: Option<RequestTemplate>,
    group: process::Group,
    stop_timeout: Duration,
    log: PathBuf,
}

/// The bearer key `spec` gives, read from the environment for `api_key_env`.
pub fn api_key_of(spec: &SystemSpec) -> Result<Option<String>, SystemError> {
    match (&spec.api_key, &spec.api_key_env) {
        (Some(k), _) => Ok(Some(k.clone())),
        (None, Some(var)) => std::env::var(var)
            .map(Some)
            .map_err(|_| SystemError::ApiKeyEnv(var.clone())),
        (None, None) => Ok(None),
    }
}

impl RunningSystem {
    /// Starts `spec`'s command (which it must have) with the upstream at `mock_url`, its
    /// output to `run_dir/system.log`, and waits until it is ready. On any error nothing of it
    /// is left running. Cancelling the returned future kills it, too.
    pub async fn start(
        spec: &SystemSpec,
        mock_url: &str,
        run_dir: &Path,
    ) -> Result<RunningSystem, SystemError> {
        let api_key = api_key_of(spec)?;
        let values = Placeholders::pick(mock_url)?;
        let url = values.fill(&spec.url);
        let ready = ready::Ready::new(spec.ready.as_ref(), &url)?;
        std::fs::create_dir_all(run_dir).map_err(|source| SystemError::Log {
            path: run_dir.to_path_buf(),
            source,
        })?;
        let log = process::log_path(run_dir);
        // A fresh log for this start (a re-run into the same directory).
        std::fs::write(&log, b"").map_err(|source| SystemError::Log {
            path: log.clone(),
            source,
        })?;
        let command = spec.command.as_ref().map(|c| fill_command(c, &values));
        let Some(command) = command else {
            return Err(SystemError::Probe(
                "no system.command to start (give --system-url for a system already running)"
                    .into(),
            ));
        };
        let env: Vec<(String, String)> = spec
            .env
            .iter()
            .map(|(k, v)| (k.clone(), values.fill(v)))
            .collect();
        let cwd = spec
            .cwd
            .as_ref()
            .map(|c| PathBuf::from(values.fill(&c.to_string_lossy())));
        let mut group = process::spawn(&command, &env, cwd.as_deref(), &log)?;
        let stop_timeout = spec.stop_timeout.0;
        if let Err(e) = ready.wait(&mut group, &log, spec.ready_timeout.0).await {
            group.stop(stop_timeout).await;
            return Err(e);
        }
        Ok(RunningSystem {
            url,
            api_key,
            request: spec.request.clone(),
            group,
            stop_timeout,
            log,
        })
    }

    /// Where the driver sends (`url` with its placeholders filled).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The bearer key the driver sends it.
    pub fn api_key(&self) -> Option<&str> {
        self.api_key.as_deref()
    }

    /// `[system.request]`, if the driver sends the app's own request.
    pub fn request(&self) -> Option<&RequestTemplate> {
        self.request.as_ref()
    }

    /// Stops it: SIGTERM to its group, SIGKILL after `stop_timeout`; says how it went in
    /// `system.log` too.
    pub async fn stop(mut self) -> StopReport {
        let exited_during_run = self.group.exited().is_some();
        let stopped = self.group.stop(self.stop_timeout).await;
        let report = StopReport {
            status: stopped.status.map(|s| describe_status(&s)),
            exited_during_run,
            killed: stopped.killed,
            stop_timeout: self.stop_timeout,
            log: self.log.clone(),
        };
        append_line(&self.log, &format!("[gauntlet] {report}"));
        report
    }
}

/// `command` with its placeholders filled.
fn fill_command(
    command: &crate::scenario::system::CommandSpec,
    values: &Placeholders,
) -> crate::scenario::system::CommandSpec {
    use crate::scenario::system::CommandSpec;
    match command {
        CommandSpec::Shell(s) => CommandSpec::Shell(values.fill(s)),
        CommandSpec::Argv(v) => CommandSpec::Argv(v.iter().map(|a| values.fill(a)).collect()),
    }
}

/// An exit status with the signal's name when a signal ended it.
fn describe_status(status: &std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status.signal() {
        Some(n) => match nix::sys::signal::Signal::try_from(n) {
            Ok(sig) => format!("signal {n} ({})", sig.as_str()),
            Err(_) => format!("signal {n}"),
        },
        None => status.to_string(),
    }
}

/// Appends one line to the log, best effort: the log is for reading, not for deciding.
fn append_line(log: &Path, line: &str) {
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(log) {
        let _ = writeln!(f, "{line}");
    }
}
