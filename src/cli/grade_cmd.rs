//! `gauntlet grade [SCENARIO-WITH-SYSTEM | --system-url URL] [--out DIR] [--only Q...]`: asks
//! the scorecard's questions of a system under test and writes the scorecard.

use std::path::PathBuf;

use super::run_cmd::utc_stamp;
use super::{EXIT_INTERRUPTED, EXIT_OK, EXIT_THRESHOLDS, EXIT_USAGE};
use crate::grade::files::write_scorecard;
use crate::grade::runner::{grade, GradeError, GradeOptions, System};
use crate::grade::scorecard::{mark, write_table};
use crate::grade::Question;
use crate::report::ReportError;
use crate::scenario::{ConfigError, Scenario};

/// `gauntlet grade` arguments.
#[derive(Debug, Clone, clap::Args)]
#[command(group = clap::ArgGroup::new("system").required(true).args(["scenario", "system_url"]))]
pub(crate) struct GradeArgs {
    /// A scenario file whose `[system]` says how to start the system (only that table is
    /// used; the questions bring their own workload and upstream).
    pub scenario: Option<PathBuf>,
    /// Grade a system already listening here instead (nothing is started; its state carries
    /// over from question to question).
    #[arg(long, conflicts_with = "scenario")]
    pub system_url: Option<String>,
    /// The scorecard's directory (default: reports/grade-<UTC timestamp>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Ask only these questions (default: all).
    #[arg(long, num_args = 1.., value_delimiter = ',')]
    pub only: Vec<Question>,
    /// Questions run at once, each with its own mock and system process (the rules judge
    /// counts and seconds, not milliseconds, so a busy machine does not change a verdict).
    #[arg(long, default_value_t = 3)]
    pub jobs: usize,
}

/// Why `gauntlet grade` could not grade (exit 2).
#[derive(Debug, thiserror::Error)]
enum GradeCmdError {
    /// The scenario file does not parse.
    #[error("{0}")]
    Scenario(#[from] ConfigError),
    /// It has no `[system]`.
    #[error("gauntlet grade: {0} has no [system] table: say how to start the system (`command`, `url`), or give --system-url")]
    NoSystem(String),
    /// The out directory could not be made.
    #[error("gauntlet grade: {0}")]
    Report(#[from] ReportError),
    /// A question's run could not start or finish.
    #[error("gauntlet grade: {0}")]
    Grade(#[from] GradeError),
}

/// Grades and writes the scorecard; the exit code.
pub(crate) fn run(args: GradeArgs) -> u8 {
    match grade_and_write(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            EXIT_USAGE
        }
    }
}

fn system_of(args: &GradeArgs) -> Result<System, GradeCmdError> {
    if let Some(url) = &args.system_url {
        return Ok(System::Url(url.clone()));
    }
    let path = args.scenario.clone().unwrap_or_default();
    let scenario = Scenario::load(&path)?;
    match scenario.system {
        // `Scenario::load` has made a relative `cwd` relative to the file.
        Some(spec) => Ok(System::Start(Box::new(spec))),
        None => Err(GradeCmdError::NoSystem(path.display().to_string())),
    }
}

fn grade_and_write(args: &GradeArgs) -> Result<u8, GradeCmdError> {
    let system = system_of(args)?;
    let now = crate::wall_clock::epoch_secs();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("reports").join(format!("grade-{}", utc_stamp(now))));
    std::fs::create_dir_all(&out).map_err(|source| ReportError::Io {
        path: out.clone(),
        source,
    })?;
    let questions = if args.only.is_empty() {
        Question::ALL.to_vec()
    } else {
        Question::ALL
            .into_iter()
            .filter(|q| args.only.contains(q))
            .collect()
    };
    let options = GradeOptions {
        out: out.clone(),
        questions,
        epoch_secs: now,
        jobs: args.jobs,
    };
    let graded = grade(&system, &options, |a| {
        eprintln!(
            "gauntlet grade: {} {} ({:.1} s)",
            a.question.id(),
            mark(a.verdict.pass),
            a.seconds
        );
    })?;
    write_scorecard(&out, &graded.scorecard)?;
    let _ = write_table(&graded.scorecard, std::io::stdout().lock());
    println!("scorecard {}", out.join("scorecard.html").display());
    Ok(if graded.interrupted {
        eprintln!("gauntlet grade: interrupted; the scorecard has the questions asked until then");
        EXIT_INTERRUPTED
    } else if graded.scorecard.passed() {
        EXIT_OK
    } else {
        EXIT_THRESHOLDS
    })
}
