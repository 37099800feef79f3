//! `[workload]`: who sends what, when.

use std::path::PathBuf;

use gauntlet_wire::duration::HumanDuration;
use mock_upstream::faults::distribution::{DistError, DistSpec, Distribution};
use serde::{Deserialize, Serialize};

use gauntlet_wire::rate::Rate;

use super::mix::{MixError, MixSpec};
use super::trace::{TraceSpec, TraceSpecError};

/// Open (arrival rate) or closed (a number of users).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadModel {
    /// Requests arrive at a rate whatever the system does, as real users do; latency counts from
    /// each request's intended start.
    #[default]
    Open,
    /// N users each send, wait for the answer, think, and send again.
    Closed,
}

/// How arrivals are spaced in the open model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arrivals {
    /// Exponential gaps (a non-homogeneous Poisson process for ramps).
    #[default]
    Poisson,
    /// Evenly spaced at the stage's rate (a ramp's gaps shrink or grow with it); no randomness.
    Constant,
}

/// One stage: `{ for = "30s", rate = "5/s" }`, `{ for = "1m", ramp_to = "50/s" }` (from the
/// previous stage's rate, or from `rate` when both are given), or `{ for = "1m", users = 20 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// The stage's length, written `for`.
    #[serde(rename = "for")]
    pub duration: HumanDuration,
    /// Open model: the rate (at the start, with `ramp_to`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Rate>,
    /// Open model: the rate at the end, reached linearly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp_to: Option<Rate>,
    /// Closed model: users during the stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<u32>,
}

/// A duration: fixed (`"1s"`) or drawn (`{ distribution = "uniform", min = "1s", max = "3s" }`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DurationSpec {
    /// Always this long.
    Fixed(HumanDuration),
    /// Drawn from a distribution.
    Drawn(DistSpec<HumanDuration>),
}

impl DurationSpec {
    /// The distribution (seconds).
    pub(crate) fn distribution(&self) -> Result<Distribution, DistError> {
        match self {
            DurationSpec::Fixed(d) => Ok(Distribution::Fixed(d.0.as_secs_f64())),
            DurationSpec::Drawn(spec) => spec.build(),
        }
    }
}

/// `prompts = { distinct = 200, zipf_exponent = 1.1 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PromptSpec {
    /// Size of the prompt pool.
    pub distinct: u32,
    /// Zipf exponent of repetition (0 = uniform; 1.1 = a few prompts are very common).
    pub zipf_exponent: f64,
    /// A file of prompts, one per line, instead of the built-in corpus.
    pub file: Option<PathBuf>,
    /// A ShareGPT-style JSON file of conversations: each session is one conversation, its
    /// human turns sent in order (see [`super::dataset`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<PathBuf>,
}

impl Default for PromptSpec {
    fn default() -> Self {
        Self {
            distinct: 100,
            zipf_exponent: 1.0,
            file: None,
            dataset: None,
        }
    }
}

/// `turns = { min = 1, max = 3 }`: turns per session, uniform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TurnSpec {
    /// Fewest turns of a session; at least 1.
    pub min: u32,
    /// Most turns of a session (inclusive); at least `min`.
    pub max: u32,
}

impl Default for TurnSpec {
    fn default() -> Self {
        Self { min: 1, max: 1 }
    }
}

/// A tenant: an API key with its share of the traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    /// The key it sends.
    pub key: String,
    /// Weight against the other tenants' shares (they need not add up to 1); more than 0.
    pub share: f64,
}

/// `end_users = { count = 50, zipf_exponent = 1.2 }`: a few heavy users and many light ones.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndUsers {
    /// Distinct end users (`u1` to `u<count>`), sent as the request's `user`.
    pub count: u32,
    /// Skew of their shares.
    pub zipf_exponent: f64,
}

/// `[workload]` as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// `open` or `closed`.
    #[serde(default)]
    pub model: LoadModel,
    /// Open model: `poisson` or `constant`.
    #[serde(default)]
    pub arrivals: Arrivals,
    /// The stages, in order; the last one holds until `duration` ends.
    #[serde(default)]
    pub stages: Vec<Stage>,
    /// Closed model without stages: the number of users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<u32>,
    /// Closed model, and between turns of a session: time to think.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub think_time: Option<DurationSpec>,
    /// The prompt mix.
    #[serde(default)]
    pub prompts: PromptSpec,
    /// Turns per session.
    #[serde(default)]
    pub turns: TurnSpec,
    /// Model name sent.
    #[serde(default = "default_model_name")]
    pub model_name: String,
    /// `max_tokens` of every request; absent, the request does not set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Share of requests that ask for a stream.
    #[serde(default)]
    pub stream_share: f64,
    /// API keys with their shares; none sends the adapter's key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenants: Vec<Tenant>,
    /// End users with skewed shares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_users: Option<EndUsers>,
    /// Share of requests in the batch priority class.
    #[serde(default)]
    pub batch_share: f64,
    /// Most requests in flight; beyond it arrivals are counted as dropped.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// `[workload.mix]`: the routes requests go to and what they ask for; absent, all chat.
    #[serde(default, skip_serializing_if = "MixSpec::is_empty")]
    pub mix: MixSpec,
    /// Time given to requests in flight when `duration` ends (default: the client's total timeout,
    /// or 30 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain: Option<HumanDuration>,
    /// Requests replayed from a JSON-lines trace instead of the stages' arrivals (open model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<TraceSpec>,
}

fn default_model_name() -> String {
    "gpt-4o-mini".into()
}

fn default_max_in_flight() -> usize {
    10_000
}

/// What serde cannot check in `[workload]`; each message names the key and what it needs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WorkloadError {
    /// An open workload without stages.
    #[error("workload.stages: an open workload needs at least one stage with a rate")]
    OpenWithoutStages,
    /// A stage of an open workload names users.
    #[error("workload.stages[{0}]: `users` is for the closed model; use `rate`")]
    UsersInOpen(usize),
    /// The first stage has neither a rate nor a ramp.
    #[error("workload.stages[0]: needs `rate` or `ramp_to`")]
    FirstStageWithoutRate,
    /// A closed workload without users.
    #[error("workload: a closed workload needs `users` or stages with `users`")]
    ClosedWithoutUsers,
    /// A stage of a closed workload names a rate.
    #[error("workload.stages[{0}]: `rate` is for the open model; use `users`")]
    RateInClosed(usize),
    /// A stage of a closed workload without users.
    #[error("workload.stages[{0}]: needs `users`")]
    StageWithoutUsers(usize),
    /// Turns out of order or zero.
    #[error("workload.turns: needs 1 <= min <= max")]
    Turns,
    /// No distinct prompts.
    #[error("workload.prompts.distinct: needs at least 1")]
    NoPrompts,
    /// A share outside 0..=1.
    #[error("workload: stream_share and batch_share are fractions in 0..=1")]
    Shares,
    /// A tenant's share that is not a positive finite number.
    #[error("workload.tenants: every share must be a number more than 0 and at most {}", LIMITS.share)]
    TenantShare,
    /// The think-time distribution does not build.
    #[error("workload.think_time: {0}")]
    ThinkTime(DistError),
    /// The in-flight bound is zero or more than the driver can hold.
    #[error("workload.max_in_flight: needs 1..={}", LIMITS.max_in_flight)]
    MaxInFlight,
    /// More users than the driver runs.
    #[error("workload.users: at most {} users (each is a task and a session)", LIMITS.users)]
    TooManyUsers,
    /// More turns than a session holds.
    #[error("workload.turns: at most {} turns a session", LIMITS.turns)]
    TooManyTurns,
    /// A prompt pool or end-user population beyond the bound.
    #[error("workload.{0}: at most {max} distinct", max = LIMITS.distinct)]
    TooManyDistinct(&'static str),
    /// A Zipf exponent that is not a finite number in its range.
    #[error("workload.{0}: the Zipf exponent must be a number in 0..={max}", max = LIMITS.zipf_exponent)]
    ZipfExponent(&'static str),
    /// A rate beyond what an open model can schedule.
    #[error("workload.stages[{0}]: a rate of at most {max}/s", max = LIMITS.rate_per_s)]
    RateTooHigh(usize),
    /// `[workload.mix]` does not make a mix.
    #[error(transparent)]
    Mix(MixError),
    /// A trace with stages or the closed model: the trace is the schedule.
    #[error("workload.trace: a trace replaces the open model's stages; remove `stages` (and `model = \"closed\"`)")]
    TraceWithStages,
    /// The trace's speed or sample is out of bounds.
    #[error(transparent)]
    Trace(TraceSpecError),
    /// Both a prompts file and a dataset.
    #[error("workload.prompts: give `file` or `dataset`, not both")]
    PromptSources,
}

/// The bounds `[workload]` is checked against, so that whatever validates also runs in
/// bounded memory and time (documented in `scenarios/README.md`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `max_in_flight`.
    pub max_in_flight: usize,
    /// `users` and a stage's `users`.
    pub users: u32,
    /// `turns.max`.
    pub turns: u32,
    /// `prompts.distinct` and `end_users.count`.
    pub distinct: u32,
    /// `prompts.zipf_exponent` and `end_users.zipf_exponent`.
    pub zipf_exponent: f64,
    /// A stage's `rate` and `ramp_to`, per second.
    pub rate_per_s: f64,
    /// A tenant's `share`.
    pub share: f64,
}

/// The one set of bounds.
pub const LIMITS: Limits = Limits {
    max_in_flight: 1_000_000,
    users: 100_000,
    turns: 1_000,
    distinct: 10_000_000,
    zipf_exponent: 10.0,
    rate_per_s: 1_000_000.0,
    share: 1e9,
};

impl WorkloadError {
    /// The table the key of [`key`](Self::key) is in: `workload`, or `workload.mix`.
    pub fn table(&self) -> &'static str {
        match self {
            Self::Mix(_) => "workload.mix",
            _ => "workload",
        }
    }

    /// The key the error is about, to point at its line in the file (`stages`, `turns`, ...).
    pub fn key(&self) -> &str {
        match self {
            Self::OpenWithoutStages
            | Self::UsersInOpen(_)
            | Self::FirstStageWithoutRate
            | Self::RateInClosed(_)
            | Self::StageWithoutUsers(_)
            | Self::RateTooHigh(_) => "stages",
            Self::ClosedWithoutUsers | Self::TooManyUsers => "users",
            Self::Turns | Self::TooManyTurns => "turns",
            Self::NoPrompts => "prompts",
            Self::Shares => "stream_share",
            Self::TenantShare => "tenants",
            Self::ThinkTime(_) => "think_time",
            Self::MaxInFlight => "max_in_flight",
            Self::TooManyDistinct(k) | Self::ZipfExponent(k) => k,
            Self::Mix(e) => e.key(),
            Self::TraceWithStages | Self::Trace(_) => "trace",
            Self::PromptSources => "prompts",
        }
    }
}

impl WorkloadSpec {
    /// Checks what serde cannot: the stages fit the model, shares are sane.
    pub(crate) fn validate(&self) -> Result<(), WorkloadError> {
        if self.prompts.file.is_some() && self.prompts.dataset.is_some() {
            return Err(WorkloadError::PromptSources);
        }
        if let Some(t) = &self.trace {
            if !self.stages.is_empty() || self.model == LoadModel::Closed {
                return Err(WorkloadError::TraceWithStages);
            }
            t.validate().map_err(WorkloadError::Trace)?;
            return self.validate_requests();
        }
        match self.model {
            LoadModel::Open => {
                if self.stages.is_empty() {
                    return Err(WorkloadError::OpenWithoutStages);
                }
                for (i, s) in self.stages.iter().enumerate() {
                    if s.users.is_some() {
                        return Err(WorkloadError::UsersInOpen(i));
                    }
                    if i == 0 && s.rate.is_none() && s.ramp_to.is_none() {
                        return Err(WorkloadError::FirstStageWithoutRate);
                    }
                }
            }
            LoadModel::Closed => {
                if self.stages.is_empty() && self.users.is_none() {
                    return Err(WorkloadError::ClosedWithoutUsers);
                }
                for (i, s) in self.stages.iter().enumerate() {
                    if s.rate.is_some() || s.ramp_to.is_some() {
                        return Err(WorkloadError::RateInClosed(i));
                    }
                    if s.users.is_none() {
                        return Err(WorkloadError::StageWithoutUsers(i));
                    }
                }
            }
        }
        self.validate_requests()
    }

    /// What each request sends, checked whatever schedules it.
    fn validate_requests(&self) -> Result<(), WorkloadError> {
        self.check_bounds()?;
        if self.turns.min == 0 || self.turns.min > self.turns.max {
            return Err(WorkloadError::Turns);
        }
        if self.prompts.distinct == 0 {
            return Err(WorkloadError::NoPrompts);
        }
        if !(0.0..=1.0).contains(&self.stream_share) || !(0.0..=1.0).contains(&self.batch_share) {
            return Err(WorkloadError::Shares);
        }
        if self
            .tenants
            .iter()
            .any(|t| !(t.share > 0.0 && t.share <= LIMITS.share))
        {
            return Err(WorkloadError::TenantShare);
        }
        if let Some(t) = &self.think_time {
            t.distribution().map_err(WorkloadError::ThinkTime)?;
        }
        if self.max_in_flight == 0 {
            return Err(WorkloadError::MaxInFlight);
        }
        self.mix.resolve().map_err(WorkloadError::Mix)?;
        Ok(())
    }

    /// The sizes and numbers that must stay within [`LIMITS`].
    fn check_bounds(&self) -> Result<(), WorkloadError> {
        let users = self
            .users
            .into_iter()
            .chain(self.stages.iter().filter_map(|s| s.users));
        if users.into_iter().any(|u| u > LIMITS.users) {
            return Err(WorkloadError::TooManyUsers);
        }
        for (i, s) in self.stages.iter().enumerate() {
            if [s.rate, s.ramp_to]
                .into_iter()
                .flatten()
                .any(|r| r.per_sec() > LIMITS.rate_per_s)
            {
                return Err(WorkloadError::RateTooHigh(i));
            }
        }
        if self.turns.max > LIMITS.turns {
            return Err(WorkloadError::TooManyTurns);
        }
        let zipf_ok = |s: f64| (0.0..=LIMITS.zipf_exponent).contains(&s);
        if self.prompts.distinct > LIMITS.distinct {
            return Err(WorkloadError::TooManyDistinct("prompts"));
        }
        if !zipf_ok(self.prompts.zipf_exponent) {
            return Err(WorkloadError::ZipfExponent("prompts"));
        }
        if let Some(e) = &self.end_users {
            if e.count > LIMITS.distinct {
                return Err(WorkloadError::TooManyDistinct("end_users"));
            }
            if !zipf_ok(e.zipf_exponent) {
                return Err(WorkloadError::ZipfExponent("end_users"));
            }
        }
        if self.max_in_flight == 0 || self.max_in_flight > LIMITS.max_in_flight {
            return Err(WorkloadError::MaxInFlight);
        }
        Ok(())
    }
}
