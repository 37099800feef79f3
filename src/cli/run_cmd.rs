//! `gauntlet run`.

use std::path::{Path, PathBuf};

use super::progress::Progress;
use super::{RunArgs, EXIT_USAGE};
use crate::driver::run::RunError;
use crate::driver::runtime::real_runtime;
use crate::driver::{self, RunOptions, Target};
use crate::record::RunResult;
use crate::report::summary::Fleet;
use crate::report::{self, ReportError, Summary};
use crate::scenario::{ConfigError, FleetError, NodeSlot, Scenario};
use crate::signals::Interrupt;
use crate::system::{self, StopReport, SystemError, SystemRunError, Through};

/// `YYYYMMDDTHHMMSSZ` of Unix seconds (civil-from-days, no time-zone database needed).
pub(crate) fn utc_stamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Applies `--node-id`, `--nodes` and `--redis`; `None` when the run is not part of a fleet.
fn fleet_slot(args: &RunArgs, scenario: &mut Scenario) -> Result<Option<NodeSlot>, FleetError> {
    if args.nodes.is_none() && args.redis.is_none() {
        return Ok(None);
    }
    let slot = NodeSlot::new(args.node_id.unwrap_or(0), args.nodes.unwrap_or(1))?;
    if slot.nodes > 1 {
        scenario.check_fleet_target(args.target.as_deref())?;
    }
    scenario.for_node(slot, args.redis.as_deref());
    Ok(Some(slot))
}

/// Why `gauntlet run` stopped before writing a report (each is a usage or config error, exit 2).
#[derive(Debug, thiserror::Error)]
enum RunCmdError {
    /// The scenario file: its message names the file, line and column.
    #[error("{0}")]
    Scenario(#[from] ConfigError),
    /// `--node-id`, `--nodes` or `--redis`.
    #[error("gauntlet: {0}")]
    Fleet(#[from] FleetError),
    /// The run could not start or failed.
    #[error("gauntlet: {0}")]
    Run(#[from] RunError),
    /// The report could not be written.
    #[error("gauntlet: writing the report: {0}")]
    Report(#[from] ReportError),
    /// The system under test could not be started, or the run through it failed.
    #[error("gauntlet: {0}")]
    System(#[from] SystemRunError),
    /// `[system]` with a flag it cannot go with.
    #[error("gauntlet: {0}")]
    SystemUsage(&'static str),
}

/// Runs the scenario and writes its report; returns the exit code.
pub(crate) fn run(args: RunArgs) -> u8 {
    match run_and_report(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            match e {
                RunCmdError::System(SystemRunError::System(SystemError::Interrupted)) => {
                    super::EXIT_INTERRUPTED
                }
                _ => EXIT_USAGE,
            }
        }
    }
}

fn run_and_report(args: &RunArgs) -> Result<u8, RunCmdError> {
    let mut scenario = Scenario::load(&args.scenario)?;
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    if let Some(d) = args.duration {
        scenario.duration = d.into();
    }
    // A node's own draws use a stream derived from this; the report names the fleet's seed.
    let fleet_seed = scenario.seed;
    let slot = fleet_slot(args, &mut scenario)?;
    // The only wall-clock reads: the report directory's name and the mock's `created` base.
    let now = crate::wall_clock::epoch_secs();
    let out: PathBuf = args.out.clone().unwrap_or_else(|| {
        let node = slot.map_or(String::new(), |s| format!("-node{}", s.id));
        PathBuf::from("reports").join(format!("{}-{}{node}", scenario.name, utc_stamp(now)))
    });
    let through = through_of(args, &scenario)?;
    let (result, mode, stopped) = if args.sim {
        let result = crate::sim::run(&scenario, Interrupt::listen().wait())?;
        (result, "sim", None)
    } else {
        let (result, stopped) = run_real(args, &scenario, now, through, &out)?;
        (result, "real", stopped)
    };
    let mut summary = Summary::build(&scenario, &result, mode);
    if slot.is_some() {
        summary.seed = fleet_seed;
    }
    summary.fleet = slot.map(|s| Fleet {
        nodes: s.nodes,
        node_id: Some(s.id),
        merged_from: Vec::new(),
    });
    report::write_run(&out, &summary, &report::Recorded::of(&result))?;
    let code = super::report_written(&summary, &out, result.interrupted);
    if let Some(stopped) = stopped {
        say_how_it_stopped(&stopped);
    }
    Ok(code)
}

/// What the driver sends through: `--system-url`, `[system]`'s command or URL, or nothing.
fn through_of(args: &RunArgs, scenario: &Scenario) -> Result<Option<Through>, RunCmdError> {
    let spec = scenario.system.clone();
    if spec.is_some() && args.target.is_some() {
        return Err(RunCmdError::SystemUsage(
            "--target replaces the upstream the driver sends to; this scenario sends to its [system] (use --system-url to name a running system, [upstream] target for an external upstream)",
        ));
    }
    if spec.is_some() && args.sim {
        return Err(RunCmdError::SystemUsage(
            "--sim runs on virtual time in this process; it cannot run the scenario's [system]",
        ));
    }
    Ok(match (&args.system_url, spec) {
        (Some(url), spec) => Some(Through::Url(url.clone(), spec)),
        (None, Some(spec)) if spec.command.is_some() => Some(Through::Start(spec)),
        (None, Some(spec)) => Some(Through::Url(spec.url.clone(), Some(spec))),
        (None, None) => None,
    })
}

/// One line on how the system ended: a warning when it exited on its own or was killed,
/// which does not change the exit code (the report judges the run).
fn say_how_it_stopped(stopped: &StopReport) {
    if stopped.is_warning() {
        eprintln!("gauntlet: warning: {stopped}");
    } else {
        println!("system    {stopped}");
    }
}

/// A real run on a multi-thread runtime of `--threads` workers, with progress on stderr and
/// SIGINT or SIGTERM ending it early.
fn run_real(
    args: &RunArgs,
    scenario: &Scenario,
    now: u64,
    through: Option<Through>,
    out: &Path,
) -> Result<(RunResult, Option<StopReport>), RunCmdError> {
    let interrupt = Interrupt::listen();
    let progress = Progress::for_stderr(args.quiet, scenario.duration.0);
    let interval = scenario.report.interval.0;
    let shown = progress.clone();
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    let options = RunOptions {
        target: args
            .target
            .clone()
            .map_or(Target::Embedded, Target::External),
        allow_remote: args.allow_remote,
        epoch_secs: now,
        on_interval: Some(Box::new(move |row, open| {
            shown.interval(row, interval, open)
        })),
        // Each driver thread sends its share of the workload on a runtime of its own; this
        // runtime keeps the embedded mock, the interval ticker and Ctrl-C.
        threads,
        requests_log: crate::driver::requests_log::target_for(
            args.requests_log.unwrap_or(scenario.report.requests_log),
            out,
        ),
        system: None,
    };
    let runtime = real_runtime(threads)?;
    let on_worker = scenario.clone();
    let run_dir = out.to_path_buf();
    let result = driver::runtime::on_worker(&runtime, async move {
        match through {
            Some(through) => {
                system::run_with_system(&on_worker, options, through, &run_dir, interrupt.wait())
                    .await
                    .map(|r| (r.result, r.stopped))
                    .map_err(RunCmdError::from)
            }
            None => driver::run(&on_worker, options, interrupt.wait())
                .await
                .map(|r| (r, None))
                .map_err(RunCmdError::from),
        }
    });
    progress.finish();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_stamps() {
        assert_eq!(utc_stamp(0), "19700101T000000Z");
        assert_eq!(utc_stamp(1_795_771_451), "20261127T092411Z");
        assert_eq!(utc_stamp(951_782_400), "20000229T000000Z");
    }
}
