//! Runs each asked question's scenario with the system under test between the driver and the
//! embedded mock, writes the run's report into `OUT/<question>/`, reads it back and judges it.
//! A system that is started gets a fresh process per question, so no state (a breaker, a cache,
//! a spent quota) carries from one question to the next.

use std::path::{Path, PathBuf};

use tokio::time::Instant;

use super::observed::{Observed, ReadError};
use super::question::Question;
use super::rule::judge;
use super::scorecard::{Answer, Scorecard};
use crate::driver::{RunOptions, Target};
use crate::report::{self, ReportError, Summary};
use crate::scenario::{ConfigError, Scenario};
use crate::signals::Interrupt;
use crate::system::{run_with_system, SystemRunError, SystemSpec, Through};

/// The system under test.
#[derive(Debug, Clone)]
pub enum System {
    /// Already running at this URL (`--system-url`): nothing is started, and its state carries
    /// over from question to question.
    Url(String),
    /// Started for each question from a scenario's `[system]`.
    Start(Box<SystemSpec>),
}

impl System {
    /// What the scorecard names as the system.
    pub fn shown(&self) -> String {
        match self {
            System::Url(u) => u.clone(),
            System::Start(spec) => spec.to_string(),
        }
    }

    fn through(&self) -> Through {
        match self {
            System::Url(u) => Through::Url(u.clone()),
            System::Start(spec) => Through::Start((**spec).clone()),
        }
    }
}

/// Why grading stopped before its scorecard (each is exit 2: the system, not its grade, failed).
#[derive(Debug, thiserror::Error)]
pub enum GradeError {
    /// A built-in scenario does not parse: a bug in Gauntlet.
    #[error("{0}")]
    Scenario(#[from] ConfigError),
    /// The system could not be started, never became ready, or the run failed.
    #[error("{question}: {source}")]
    System {
        /// The question whose run it was.
        question: Question,
        /// What went wrong.
        source: SystemRunError,
    },
    /// A run's report could not be written.
    #[error("writing the report: {0}")]
    Report(#[from] ReportError),
    /// A run's report could not be read back.
    #[error("reading the report: {0}")]
    Read(#[from] ReadError),
    /// The runtime could not start.
    #[error("runtime: {0}")]
    Runtime(std::io::Error),
}

/// What to ask and where the reports go.
#[derive(Debug, Clone)]
pub struct GradeOptions {
    /// The scorecard's directory; each question's run goes into a directory of its own in it.
    pub out: PathBuf,
    /// The questions to ask, in [`Question::ALL`]'s order.
    pub questions: Vec<Question>,
    /// Unix time for the mock's `created` fields.
    pub epoch_secs: u64,
}

/// The scorecard, and whether Ctrl-C cut it short (the questions after it were not asked).
#[derive(Debug)]
pub struct Graded {
    /// The verdicts of the questions asked.
    pub scorecard: Scorecard,
    /// Whether a signal stopped it.
    pub interrupted: bool,
}

/// Asks every question of `system`; `on_answer` sees each verdict as it comes.
pub fn grade(
    system: &System,
    options: &GradeOptions,
    mut on_answer: impl FnMut(&Answer),
) -> Result<Graded, GradeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(GradeError::Runtime)?;
    let interrupt = Interrupt::listen();
    let mut answers = Vec::new();
    for &question in &options.questions {
        if interrupt.raised() {
            break;
        }
        let answer =
            runtime.block_on(ask(question, system, options, &options.out, interrupt.clone()))?;
        on_answer(&answer);
        answers.push(answer);
    }
    Ok(Graded {
        scorecard: Scorecard {
            system: system.shown(),
            answers,
        },
        interrupted: interrupt.raised(),
    })
}

/// Runs one question's scenario and judges its report.
async fn ask(
    question: Question,
    system: &System,
    options: &GradeOptions,
    out: &Path,
    interrupt: Interrupt,
) -> Result<Answer, GradeError> {
    let scenario = Scenario::parse(question.scenario_text(), &question.scenario_path())?;
    let dir = out.join(question.id());
    std::fs::create_dir_all(&dir).map_err(|source| ReportError::Io {
        path: dir.clone(),
        source,
    })?;
    let run_options = RunOptions {
        target: Target::Embedded,
        allow_remote: false,
        epoch_secs: options.epoch_secs,
        on_interval: None,
        threads: 1,
    };
    let started = Instant::now();
    let (result, _stopped) = run_with_system(
        &scenario,
        run_options,
        system.through(),
        &dir,
        interrupt.wait(),
    )
    .await
    .map_err(|source| GradeError::System { question, source })?;
    let summary = Summary::build(&scenario, &result, "real");
    report::write_run(&dir, &summary, &report::Recorded::of(&result))?;
    let observed = Observed::read(&dir)?;
    Ok(Answer {
        question,
        verdict: judge(question, &observed),
        run_dir: question.id().to_string(),
        seconds: started.elapsed().as_secs_f64(),
    })
}
