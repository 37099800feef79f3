//! Runs each asked question's scenario with the system under test between the driver and the
//! embedded mock, writes the run's report into `OUT/<question>/`, reads it back and judges it.
//! A system that is started gets a fresh process per question, so no state (a breaker, a cache,
//! a spent quota) carries from one question to the next.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::observed::{Observed, ReadError};
use super::question::Question;
use super::rule::judge;
use super::scorecard::{Answer, Scorecard};
use crate::driver::{RunOptions, Target};
use crate::report::{self, ReportError, Summary};
use crate::scenario::system::CommandSpec;
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
            System::Start(spec) => match &spec.command {
                Some(CommandSpec::Shell(s)) => s.clone(),
                Some(CommandSpec::Argv(v)) => v.join(" "),
                None => spec.url.clone(),
            },
        }
    }

    fn through(&self) -> Through {
        match self {
            System::Url(u) => Through::Url(u.clone(), None),
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
    /// Writing or judging a report panicked: a bug in Gauntlet.
    #[error("a report thread panicked (a bug in Gauntlet; please report it)")]
    Panicked,
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
    /// Questions run at once.
    pub jobs: usize,
}

/// The scorecard, and whether Ctrl-C cut it short (the questions after it were not asked).
#[derive(Debug)]
pub struct Graded {
    /// The verdicts of the questions asked.
    pub scorecard: Scorecard,
    /// Whether a signal stopped it.
    pub interrupted: bool,
}

/// Asks every question of `system`, `options.jobs` at a time; `on_answer` sees each verdict,
/// in question order. Each question has its own mock and (when started) its own system process
/// on its own ports, so questions run side by side share nothing; a run's report is written and
/// judged on a blocking thread while other questions run.
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
    let slots = Arc::new(Semaphore::new(options.jobs.max(1)));
    let tasks: Vec<_> = options
        .questions
        .iter()
        .map(|&question| {
            let (system, options, interrupt) = (system.clone(), options.clone(), interrupt.clone());
            let slots = slots.clone();
            runtime.spawn(async move {
                let _slot = slots.acquire_owned().await.ok();
                if interrupt.raised() {
                    return Ok(None);
                }
                let ran = run_question(question, &system, &options, interrupt).await?;
                tokio::task::spawn_blocking(move || ran.judge())
                    .await
                    .unwrap_or(Err(GradeError::Panicked))
                    .map(Some)
            })
        })
        .collect();
    let mut answers = Vec::new();
    let mut failed = None;
    for task in tasks {
        match runtime.block_on(task).unwrap_or(Err(GradeError::Panicked)) {
            Ok(Some(answer)) => {
                on_answer(&answer);
                answers.push(answer);
            }
            Ok(None) => {}
            Err(e) => failed = failed.or(Some(e)),
        }
    }
    if let Some(e) = failed {
        return Err(e);
    }
    Ok(Graded {
        scorecard: Scorecard {
            system: system.shown(),
            answers,
        },
        interrupted: interrupt.raised(),
    })
}

/// A question's finished run, to be written and judged.
struct Ran {
    question: Question,
    scenario: Scenario,
    run: crate::system::SystemRun,
    dir: PathBuf,
    seconds: f64,
}

impl Ran {
    /// Writes the run's report, reads it back and judges it.
    fn judge(self) -> Result<Answer, GradeError> {
        let summary = Summary::build(&self.scenario, &self.run.result, "real");
        report::write_run(&self.dir, &summary, &report::Recorded::of(&self.run.result))?;
        let observed = Observed::read(&self.dir)?;
        Ok(Answer {
            question: self.question,
            verdict: judge(self.question, &observed),
            run_dir: self.question.id().to_string(),
            seconds: self.seconds,
        })
    }
}

/// Runs one question's scenario through the system.
async fn run_question(
    question: Question,
    system: &System,
    options: &GradeOptions,
    interrupt: Interrupt,
) -> Result<Ran, GradeError> {
    let scenario = Scenario::parse(question.scenario_text(), &question.scenario_path())?;
    let dir = options.out.join(question.id());
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
        ..RunOptions::default()
    };
    let started = Instant::now();
    let run = run_with_system(
        &scenario,
        run_options,
        system.through(),
        &dir,
        interrupt.wait(),
    )
    .await
    .map_err(|source| GradeError::System { question, source })?;
    if let Some(stopped) = run.stopped.as_ref().filter(|s| s.is_warning()) {
        eprintln!("gauntlet grade: {question}: {stopped}");
    }
    Ok(Ran {
        question,
        scenario,
        run,
        dir,
        seconds: started.elapsed().as_secs_f64(),
    })
}
