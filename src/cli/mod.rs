//! The `gauntlet` command line, in two stages (as ripgrep does): clap parses arguments into
//! plain structs with no side effects, then `run_*` builds the heavy objects. It lives in the
//! library so tests call it directly; `main.rs` only maps the result to an exit code.

mod compare_cmd;
mod grade_cmd;
mod merge_cmd;
mod plan_cmd;
mod progress;
mod proxy_cmd;
mod report_cmd;
mod run_cmd;
mod sweep_cmd;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// Exit code: everything passed.
pub(crate) const EXIT_OK: u8 = 0;
/// Exit code: a threshold failed.
pub(crate) const EXIT_THRESHOLDS: u8 = 1;
/// Exit code: bad usage or configuration.
pub(crate) const EXIT_USAGE: u8 = 2;
/// Exit code: SIGINT or SIGTERM ended the run early (the shells' 128 + SIGINT): its report is
/// complete for what ran, but a CI job must not read it as a pass.
pub(crate) const EXIT_INTERRUPTED: u8 = 130;

/// Gauntlet: validate an LLM client stack against a free API's rate limits, latency and outages.
#[derive(Debug, Parser)]
#[command(name = "gauntlet", version, about)]
pub(crate) struct Opts {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a scenario against the embedded mock (or --target) and write its report.
    Run(RunArgs),
    /// Run a grid of settings in simulation and rank them (sweep.csv, sweep.md, pareto.svg).
    Sweep(SweepArgs),
    /// Find the highest value of one key that still meets an SLO, by a search in simulation.
    Plan(PlanArgs),
    /// Rebuild every file of a run directory from its recorded data, without running again.
    Report {
        /// The run directory.
        dir: PathBuf,
    },
    /// Compare two runs' summaries; exit 1 when a metric regressed beyond --fail-on-regression.
    Compare(CompareArgs),
    /// Merge the run directories of a fleet's nodes into one report (histograms added exactly).
    Merge {
        /// The nodes' run directories.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Where the merged report goes.
        #[arg(long)]
        out: PathBuf,
    },
    /// Serve an OpenAI-compatible endpoint that sends every request through the `[client]` stack.
    Proxy(ProxyArgs),
    /// Grade a system under test (a gateway, an app): a scorecard of resilience questions.
    Grade(grade_cmd::GradeArgs),
    /// Check scenario files without running them.
    Validate {
        /// Scenario files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// `gauntlet run` arguments.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RunArgs {
    /// The scenario file.
    pub scenario: PathBuf,
    /// Report directory (default: reports/<scenario>-<UTC timestamp>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Override the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override the scenario's duration (`30s`, `5m`).
    #[arg(long, value_parser = parse_duration_arg)]
    pub duration: Option<Duration>,
    /// Send to this OpenAI-compatible server instead of the embedded mock.
    #[arg(long)]
    pub target: Option<String>,
    /// Allow a --target that is not on this machine.
    #[arg(long)]
    pub allow_remote: bool,
    /// Send to the system under test already running here (overrides `[system]`: no command
    /// is started); the embedded mock stays its upstream.
    #[arg(long, conflicts_with_all = ["target", "sim"])]
    pub system_url: Option<String>,
    /// No progress output.
    #[arg(long)]
    pub quiet: bool,
    /// Run on virtual time, in-process, reproducibly (an hour of traffic in seconds).
    #[arg(long, conflicts_with = "target")]
    pub sim: bool,
    /// Driver threads (default: every core), each with a runtime and connection pool of its own;
    /// the open model's threads take 20 ms turns of the schedule. One thread spends a little
    /// less CPU per request at rates one core can carry; more carry higher rates.
    #[arg(long)]
    pub threads: Option<usize>,
    /// This process's node in a fleet run (0..--nodes); it drives 1/--nodes of the workload.
    #[arg(long, requires = "nodes")]
    pub node_id: Option<u32>,
    /// Nodes in the fleet; each runs the same scenario with its own --node-id.
    #[arg(long)]
    pub nodes: Option<u32>,
    /// Redis shared by the fleet: one rate limit (limiter backend "redis") and one cache (L2).
    #[arg(long, conflicts_with = "sim")]
    pub redis: Option<String>,
    /// Write every request to <out>/requests.jsonl, replayable as `[workload] trace`; prompts as
    /// token counts, or their text with `--requests-log=with-prompts` (overrides `[report]`).
    #[arg(long, value_name = "MODE", num_args = 0..=1, require_equals = true, default_missing_value = "on", conflicts_with = "sim")]
    pub requests_log: Option<crate::scenario::RequestsLogMode>,
}

/// `gauntlet proxy` arguments.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ProxyArgs {
    /// The config file (`[client.*]` and `[proxy]`; a scenario file is accepted).
    pub config: PathBuf,
    /// Listen here instead of `[proxy] listen`.
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// Allow a listen address that is not loopback.
    #[arg(long)]
    pub allow_remote: bool,
    /// Send upstream here instead of `[proxy] upstream` (a system under test pointed at a
    /// mock: `--upstream {mock_url}`); it wins over the file at every SIGHUP reload too.
    #[arg(long)]
    pub upstream: Option<String>,
}

/// `gauntlet compare` arguments.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct CompareArgs {
    /// The base run's directory.
    pub base: PathBuf,
    /// The candidate run's directory.
    pub candidate: PathBuf,
    /// Exit 1 when p50/p95/p99/p999, error rate, fallback rate or upstream calls get worse by more
    /// than this (`10%`).
    #[arg(long)]
    pub fail_on_regression: Option<String>,
}

/// `gauntlet sweep` arguments.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct SweepArgs {
    /// The scenario file.
    pub scenario: PathBuf,
    /// A key and its values: `client.retry.max_attempts=1,3,5` (any scenario key; repeat for a grid).
    #[arg(long = "set", required = true)]
    pub set: Vec<String>,
    /// What "best" means: `min latency.p99 where error_rate < 1%`.
    #[arg(long)]
    pub objective: Option<String>,
    /// Simulations run at once (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Output directory (default: reports/<scenario>-sweep-<UTC timestamp>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// `gauntlet plan` arguments.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = PLAN_HELP)]
pub(crate) struct PlanArgs {
    /// The scenario file.
    pub scenario: PathBuf,
    /// The key to vary and its range: `workload.users=10..400`, `workload.stages[0].rate=1/s..40/s`
    /// (any numeric scenario key; `[i]` or `.i` indexes an array; a unit such as `/s` is kept).
    #[arg(long)]
    pub vary: String,
    /// The SLO every probed value is judged by, in the metrics and conditions of `[thresholds]`:
    /// `"error_rate < 1% and latency.p99 < 5s"`.
    #[arg(long)]
    pub until: String,
    /// Stop when the bracket is this narrow, in the key's unit (integer keys: at least 1).
    #[arg(long, conflicts_with = "steps")]
    pub step: Option<f64>,
    /// Choose the step so that the search takes about this many simulations (default 12).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Override a key in every probe: `client.cache.ttl=10m` (repeatable).
    #[arg(long = "set")]
    pub set: Vec<String>,
    /// A variant answered beside the base: `NAME:KEY=VALUE[,KEY=VALUE...]` (repeatable).
    #[arg(long)]
    pub compare: Vec<String>,
    /// Run the scenario once on real time at the answer (the embedded mock over 127.0.0.1)
    /// and record whether it met the SLO.
    #[arg(long)]
    pub confirm: bool,
    /// Output directory (default: reports/<scenario>-plan-<UTC timestamp>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Simulations at once, and probes per round of the search (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// `gauntlet plan --help`'s closing text.
const PLAN_HELP: &str = "\
How it searches: LO and HI run first. LO failing means no value meets the SLO; HI passing means the
answer is \"at least HI\". Then each round simulates --jobs values spread evenly inside the bracket
(each a whole run of the scenario on virtual time) until the highest pass and the lowest fail are
within --step. The SLO is assumed to get worse as the value grows; a pass seen above a fail is
reported as non-monotone.

Files in --out: plan.json (key, answer, next_failing, the conditions it failed, every step),
plan.csv (one row per step: variant, step, value, pass, each --until metric, p99, error rate,
goodput, quota used, upstream calls, each outcome's share), plan.md, plan.svg and plan.png (the knee chart),
and with --compare compare.md / compare.csv (the strategies table: each variant's answer and, at
it, quota used, error rate, p99, goodput and the outcomes seen). --confirm writes the real run's
full report to OUT/confirm/.

Compare variants on the command line, each a name and the overrides that make it:
  --compare cached:client.cache.ttl=10m --compare bigger-burst:client.limiter.burst=20,client.limiter.rate=12/s
A value cannot hold a comma; put such settings in a copy of the scenario instead.

Exit codes: 0 an answer was found (also \"at least HI\"); 1 no value in the range meets the SLO,
or --confirm's real run failed it; 2 bad arguments or scenario; 130 interrupted (the files hold the
steps that finished).

Example:
  gauntlet plan scenarios/steady-under-limit.toml --vary 'workload.stages[0].rate=1/s..30/s' \\
      --until 'error_rate < 1% and latency.p99 < 5s'";

fn parse_duration_arg(s: &str) -> Result<Duration, gauntlet_wire::duration::DurationError> {
    gauntlet_wire::duration::parse_duration(s)
}

/// Parses `args` and runs; returns the process exit code.
pub fn run<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let opts = match Opts::try_parse_from(args) {
        Ok(o) => o,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
        }
    };
    match opts.command {
        Command::Validate { files } => validate(&files),
        Command::Run(args) => run_cmd::run(args),
        Command::Proxy(args) => proxy_cmd::run(args),
        Command::Grade(args) => grade_cmd::run(args),
        Command::Sweep(args) => sweep_cmd::run(args),
        Command::Plan(args) => plan_cmd::run(args),
        Command::Compare(args) => compare_cmd::run(args),
        Command::Report { dir } => report_cmd::run(&dir),
        Command::Merge { dirs, out } => merge_cmd::run(&dirs, &out),
    }
}

/// Prints the summary table and where the report is, and maps the thresholds to the exit code.
fn report_written(
    summary: &crate::report::Summary,
    out: &std::path::Path,
    interrupted: bool,
) -> u8 {
    let _ = crate::report::table::write_table(summary, std::io::stdout().lock());
    println!("report    {}", out.display());
    if summary.upstream.panics > 0 {
        eprintln!(
            "gauntlet: the embedded mock panicked on {} requests (answered 500): a bug in Gauntlet, \
             please report it with this scenario",
            summary.upstream.panics
        );
    }
    if interrupted {
        eprintln!("gauntlet: interrupted; the report covers what ran until then");
        EXIT_INTERRUPTED
    } else if summary.passed() && summary.upstream.panics == 0 {
        EXIT_OK
    } else {
        EXIT_THRESHOLDS
    }
}

fn validate(files: &[PathBuf]) -> u8 {
    let mut code = EXIT_OK;
    for f in files {
        match crate::scenario::Scenario::load(f) {
            Ok(s) => println!("{}: ok ({})", f.display(), s.name),
            Err(e) => {
                eprintln!("{e}");
                code = EXIT_USAGE;
            }
        }
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_that_saw_a_panic_does_not_exit_0() {
        let mut s: crate::report::Summary =
            serde_json::from_str(include_str!("../../reports/example/summary.json")).unwrap();
        let dir = std::env::temp_dir();
        assert!(s.passed());
        assert_eq!(report_written(&s, &dir, false), EXIT_OK);
        s.upstream.panics = 1;
        assert_eq!(report_written(&s, &dir, false), EXIT_THRESHOLDS);
        assert_eq!(report_written(&s, &dir, true), EXIT_INTERRUPTED);
    }

    #[test]
    fn flags_parse_and_bad_ones_are_usage_errors() {
        assert_eq!(run(["gauntlet", "--version"]), EXIT_OK);
        assert_eq!(run(["gauntlet", "--bogus"]), EXIT_USAGE);
        let o = Opts::try_parse_from([
            "gauntlet",
            "run",
            "s.toml",
            "--seed",
            "7",
            "--duration",
            "5s",
            "--quiet",
        ])
        .unwrap();
        match o.command {
            Command::Run(a) => {
                assert_eq!(a.seed, Some(7));
                assert_eq!(a.duration, Some(Duration::from_secs(5)));
                assert!(a.quiet);
            }
            _ => panic!("expected run"),
        }
        assert!(Opts::try_parse_from(["gauntlet", "run", "s.toml", "--duration", "soon"]).is_err());
        assert_eq!(
            run(["gauntlet", "validate", "/nonexistent.toml"]),
            EXIT_USAGE
        );
    }
}
