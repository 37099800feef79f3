//! The fault configuration: what the mock does to requests, as read from TOML or JSON.
//!
//! Every type validates while it is deserialised, so a bad value is reported at its own line
//! and column (see [`super::load`]) rather than discovered halfway through a run. Validated types
//! keep the spec they were read from, so `GET /_mock/faults` writes back what the user wrote.

use std::collections::HashSet;

use serde::{Deserialize, Deserializer, Serialize};

use super::distribution::{DistError, DistSpec, Distribution};
use super::models::{check_models, default_models, ModelEntry, ModelsError};
use crate::timeline::TimelineEvent;
// Defined in `values` so that `timeline` can use them without importing this module;
// re-exported here, where they have always been found.
use super::values::{de_in_range, in_range, MAX_LATENCY, MAX_QUEUE_SLOWDOWN};
pub use super::values::{Limits, Probability, RangeError, SERVER_ERROR_STATUSES};
// The failures live in `failure`, which the timeline's bursts use too; re-exported here, where
// they have always been found.
pub use super::failure::{
    Failure, FailureError, FailureKind, FailureMode, FailureModeSpec, FailureSpec, Failures,
    DEFAULT_HANG,
};
use gauntlet_wire::duration::HumanDuration;

/// Everything the mock injects; `Default` is a well-behaved, unlimited, instant server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    try_from = "FaultConfigSpec",
    into = "FaultConfigSpec"
)]
pub struct FaultConfig {
    spec: FaultConfigSpec,
}

/// The fault file's top level as written; [`FaultConfig`] is its validated form.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultConfigSpec {
    /// Seed for every random draw; `--seed` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Limits of every key, and the defaults of keys listed in `keys`.
    #[serde(default)]
    pub limits: Limits,
    /// Known API keys with their own limits. When any is listed, other keys get 401
    /// unless `accept_unknown_keys` is set.
    #[serde(
        default,
        deserialize_with = "de_keys",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub keys: Vec<KeyConfig>,
    /// With `keys` listed, still accept other keys (they get `[limits]`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub accept_unknown_keys: bool,
    /// Processing latency before the response; none means instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencyConfig>,
    /// Pacing of streamed answers.
    #[serde(default)]
    pub stream: StreamConfig,
    /// A cap on requests in flight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<ConcurrencyConfig>,
    /// Random failures, each with its probability (they add up to at most 1).
    #[serde(default, skip_serializing_if = "Failures::is_empty")]
    pub failures: Failures,
    /// Scripted events at offsets from the start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<TimelineEvent>,
    /// Length of generated replies.
    #[serde(default)]
    pub reply: ReplyConfig,
    /// The models served, each a name or a table with its own limits and latency (see
    /// [`super::models`]). When listed, they are the only ones: a request naming another gets
    /// 404 `model_not_found`. When absent, any model is served and `GET /v1/models` shows
    /// [`default_models`](super::models::default_models).
    #[serde(
        default,
        deserialize_with = "super::models::de_models",
        skip_serializing_if = "Option::is_none"
    )]
    pub models: Option<Vec<ModelEntry>>,
    /// Request bodies over this size get 413; [`MIN_BODY_BYTES`]`..=`[`MAX_BODY_BYTES`].
    #[serde(
        default = "default_max_body_bytes",
        deserialize_with = "de_max_body_bytes"
    )]
    pub max_body_bytes: usize,
    /// How often the model calls a tool when the request leaves it the choice.
    #[serde(default, skip_serializing_if = "ToolsConfig::is_default")]
    pub tools: ToolsConfig,
}

/// `[tools]`: the model's tool use under `tool_choice: "auto"`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolsConfig {
    /// The share of `auto` answers that call a tool, drawn per request from the seed and the
    /// prompt (so the same request decides the same way); 0.5 by default.
    #[serde(default = "default_auto_call_share")]
    pub auto_call_share: Probability,
}

fn default_auto_call_share() -> Probability {
    Probability(0.5)
}

impl Default for ToolsConfig {
    fn default() -> Self {
        Self {
            auto_call_share: default_auto_call_share(),
        }
    }
}

impl ToolsConfig {
    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

// The checks below also run in `FaultConfig::try_from` (for specs built in code); running them
// where each field is read lets serde report the field's own line and column, which a check
// on the whole file cannot (its error has no position).

fn de_keys<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<KeyConfig>, D::Error> {
    let keys = Vec::<KeyConfig>::deserialize(d)?;
    check_unique_keys(&keys).map_err(serde::de::Error::custom)?;
    Ok(keys)
}

fn de_max_body_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let n = usize::deserialize(d)?;
    check_body_limit(n).map_err(serde::de::Error::custom)?;
    Ok(n)
}

fn check_unique_keys(keys: &[KeyConfig]) -> Result<(), FaultConfigError> {
    let mut seen = HashSet::new();
    match keys.iter().find(|k| !seen.insert(k.key.as_str())) {
        Some(k) => Err(FaultConfigError::DuplicateKey { key: k.key.clone() }),
        None => Ok(()),
    }
}

fn check_body_limit(max_body_bytes: usize) -> Result<(), FaultConfigError> {
    if max_body_bytes < MIN_BODY_BYTES {
        Err(FaultConfigError::BodyLimitTooSmall { max_body_bytes })
    } else if max_body_bytes > MAX_BODY_BYTES {
        Err(FaultConfigError::BodyLimitTooLarge { max_body_bytes })
    } else {
        Ok(())
    }
}

fn default_max_body_bytes() -> usize {
    1024 * 1024
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            spec: FaultConfigSpec {
                max_body_bytes: default_max_body_bytes(),
                ..FaultConfigSpec::default()
            },
        }
    }
}

/// The smallest `max_body_bytes` accepted, so that a slip (a cap meant in kilobytes, say) is
/// refused when the file is read instead of answering every request 413.
pub const MIN_BODY_BYTES: usize = 64;

/// The largest `max_body_bytes` accepted (64 MiB): the mock buffers a whole body before parsing
/// it, so the cap is also what one request can make it allocate.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Why a fault config as a whole was refused (each table's own errors come from its type); the
/// message starts with the field it is about.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FaultConfigError {
    /// Two `[[keys]]` entries have the same key, so which limits apply would be ambiguous.
    #[error("keys: key {key:?} is listed twice")]
    DuplicateKey {
        /// The key.
        key: String,
    },
    /// A timeline `set` event names a key that is not under `[[keys]]`, a likely typo.
    #[error("timeline[{index}]: key {key:?} is not listed under [[keys]]")]
    UnlistedTimelineKey {
        /// Position of the event in `[[timeline]]`, from 0.
        index: usize,
        /// The key it names.
        key: String,
    },
    /// A `models` entry or the list is wrong (the message starts with `models:`).
    #[error(transparent)]
    Models(#[from] ModelsError),
    /// `max_body_bytes` is below [`MIN_BODY_BYTES`].
    #[error("max_body_bytes: must be at least {min}", min = MIN_BODY_BYTES)]
    BodyLimitTooSmall {
        /// The value given.
        max_body_bytes: usize,
    },
    /// `max_body_bytes` is above [`MAX_BODY_BYTES`].
    #[error("max_body_bytes: must be at most {max} (64 MiB)", max = MAX_BODY_BYTES)]
    BodyLimitTooLarge {
        /// The value given.
        max_body_bytes: usize,
    },
    /// A `[concurrency]` number outside its range.
    #[error("concurrency: {0}")]
    Concurrency(RangeError),
    /// A `[stream]` duration over [`MAX_LATENCY`].
    #[error("stream: {0}")]
    Stream(RangeError),
    /// `[reply] tokens` is not a valid distribution.
    #[error("reply.tokens: {0}")]
    Reply(DistError),
}

impl TryFrom<FaultConfigSpec> for FaultConfig {
    type Error = FaultConfigError;
    fn try_from(spec: FaultConfigSpec) -> Result<Self, FaultConfigError> {
        check_unique_keys(&spec.keys)?;
        for (index, ev) in spec.timeline.iter().enumerate() {
            if let Some(key) = ev.set_key() {
                if spec.keys.iter().all(|k| k.key != key) {
                    return Err(FaultConfigError::UnlistedTimelineKey {
                        index,
                        key: key.to_string(),
                    });
                }
            }
        }
        if let Some(models) = &spec.models {
            check_models(models)?;
        }
        check_body_limit(spec.max_body_bytes)?;
        if let Some(c) = &spec.concurrency {
            c.check().map_err(FaultConfigError::Concurrency)?;
        }
        spec.stream.check().map_err(FaultConfigError::Stream)?;
        spec.reply.tokens.build().map_err(FaultConfigError::Reply)?;
        Ok(Self { spec })
    }
}

impl From<FaultConfig> for FaultConfigSpec {
    fn from(c: FaultConfig) -> Self {
        c.spec
    }
}

impl FaultConfig {
    /// Validates a spec built in code.
    pub fn from_spec(spec: FaultConfigSpec) -> Result<Self, FaultConfigError> {
        Self::try_from(spec)
    }

    /// The settings as written; validation has passed, so every field is usable as is.
    pub fn spec(&self) -> &FaultConfigSpec {
        &self.spec
    }

    /// The models served: the file's, or [`default_models`] when it lists none.
    pub fn models(&self) -> &[ModelEntry] {
        self.spec.models.as_deref().unwrap_or(default_models())
    }

    /// The `models` entry named `id`, if the file lists it (or it is a default model).
    pub fn model(&self, id: &str) -> Option<&ModelEntry> {
        self.models().iter().find(|m| m.id == id)
    }

    /// Whether a request naming `id` gets 404 `model_not_found`: only when the file lists its
    /// models, and never for routes without a model (an empty `id`).
    pub fn refuses_model(&self, id: &str) -> bool {
        self.spec.models.is_some() && !id.is_empty() && self.model(id).is_none()
    }

    /// The `[[keys]]` entry for `key`; `None` for an unlisted key, which then gets `[limits]`
    /// (or 401).
    pub fn key(&self, key: &str) -> Option<&KeyConfig> {
        self.spec.keys.iter().find(|k| k.key == key)
    }
}

/// A known API key; limits it does not set come from `[limits]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// The bearer token.
    pub key: String,
    /// Overrides `[limits].requests_per_minute`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_minute: Option<u32>,
    /// Overrides `[limits].tokens_per_minute`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_minute: Option<u32>,
    /// Overrides `[limits].requests_per_day`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_day: Option<u32>,
}

impl KeyConfig {
    /// The limits this key sets itself.
    pub fn own_limits(&self) -> Limits {
        Limits {
            requests_per_minute: self.requests_per_minute,
            tokens_per_minute: self.tokens_per_minute,
            requests_per_day: self.requests_per_day,
        }
    }
}

/// Processing latency: a base distribution and optional spikes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "LatencySpec", into = "LatencySpec")]
pub struct LatencyConfig {
    spec: LatencySpec,
    /// Every request's base latency, in seconds.
    pub base: Distribution,
    /// Occasional extra delay on top.
    pub spike: Option<Spike>,
}

/// A validated spike: with `probability`, add a draw from `extra`.
#[derive(Debug, Clone, PartialEq)]
pub struct Spike {
    /// Chance per request.
    pub probability: f64,
    /// Extra delay in seconds.
    pub extra: Distribution,
}

/// `[latency]` as written: the distribution fields inline, plus `[latency.spike]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencySpec {
    /// See [`DistSpec::distribution`].
    pub distribution: String,
    /// For `fixed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<HumanDuration>,
    /// For `uniform`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<HumanDuration>,
    /// For `uniform`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<HumanDuration>,
    /// For `normal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<HumanDuration>,
    /// For `normal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stddev: Option<HumanDuration>,
    /// For `lognormal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median: Option<HumanDuration>,
    /// For `lognormal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99: Option<HumanDuration>,
    /// For `empirical`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<HumanDuration>>,
    /// Occasional extra delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spike: Option<SpikeSpec>,
}

/// `[latency.spike]` as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpikeSpec {
    /// Chance per request.
    pub probability: Probability,
    /// See [`DistSpec::distribution`].
    pub distribution: String,
    /// For `fixed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<HumanDuration>,
    /// For `uniform`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<HumanDuration>,
    /// For `uniform`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<HumanDuration>,
    /// For `normal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<HumanDuration>,
    /// For `normal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stddev: Option<HumanDuration>,
    /// For `lognormal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median: Option<HumanDuration>,
    /// For `lognormal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99: Option<HumanDuration>,
    /// For `empirical`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<HumanDuration>>,
}

macro_rules! dist_spec_of {
    ($s:expr) => {
        DistSpec {
            distribution: $s.distribution.clone(),
            value: $s.value,
            min: $s.min,
            max: $s.max,
            mean: $s.mean,
            stddev: $s.stddev,
            median: $s.median,
            p99: $s.p99,
            values: $s.values.clone(),
        }
    };
}

/// Why `[latency]` was refused: its own distribution, or its spike's (which says `spike:`,
/// since both tables use the same field names).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LatencyError {
    /// The base distribution's fields.
    #[error(transparent)]
    Base(#[from] DistError),
    /// `[latency.spike]`'s distribution fields.
    #[error("spike: {0}")]
    Spike(DistError),
}

impl TryFrom<LatencySpec> for LatencyConfig {
    type Error = LatencyError;
    fn try_from(spec: LatencySpec) -> Result<Self, LatencyError> {
        let base = dist_spec_of!(spec).build()?;
        let spike = match &spec.spike {
            None => None,
            Some(s) => Some(Spike {
                probability: s.probability.0,
                extra: dist_spec_of!(s).build().map_err(LatencyError::Spike)?,
            }),
        };
        Ok(Self { spec, base, spike })
    }
}

impl From<LatencyConfig> for LatencySpec {
    fn from(c: LatencyConfig) -> Self {
        c.spec
    }
}

impl LatencyConfig {
    /// A fixed latency, for tests and benchmarks.
    pub fn fixed(d: std::time::Duration) -> Self {
        let spec = LatencySpec {
            distribution: "fixed".into(),
            value: Some(HumanDuration(d)),
            min: None,
            max: None,
            mean: None,
            stddev: None,
            median: None,
            p99: None,
            values: None,
            spike: None,
        };
        Self::try_from(spec).expect("a fixed latency is always valid")
    }
}

/// How streamed answers are paced; a client's stream timeouts (first token, between chunks)
/// are tested against these.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamConfig {
    /// Delay before the first chunk; when absent, the sampled `[latency]` is used. At most
    /// [`MAX_LATENCY`].
    #[serde(
        default,
        deserialize_with = "de_first_token",
        skip_serializing_if = "Option::is_none"
    )]
    pub time_to_first_token: Option<HumanDuration>,
    /// Delay between content chunks (one chunk per token). At most [`MAX_LATENCY`].
    #[serde(default, deserialize_with = "de_per_token")]
    pub per_token: HumanDuration,
}

/// A stream delay within [`MAX_LATENCY`], named `key` in the error.
fn check_latency(key: &'static str, d: HumanDuration) -> Result<HumanDuration, RangeError> {
    in_range(key, d.0.as_secs_f64(), 0.0, MAX_LATENCY.as_secs_f64()).map(|_| d)
}

fn de_first_token<'de, D: Deserializer<'de>>(d: D) -> Result<Option<HumanDuration>, D::Error> {
    let v = HumanDuration::deserialize(d)?;
    check_latency("time_to_first_token", v)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

fn de_per_token<'de, D: Deserializer<'de>>(d: D) -> Result<HumanDuration, D::Error> {
    let v = HumanDuration::deserialize(d)?;
    check_latency("per_token", v).map_err(serde::de::Error::custom)
}

impl StreamConfig {
    /// Both delays within [`MAX_LATENCY`] (durations in the error are in seconds).
    pub fn check(&self) -> Result<(), RangeError> {
        if let Some(t) = self.time_to_first_token {
            check_latency("time_to_first_token", t)?;
        }
        check_latency("per_token", self.per_token).map(|_| ())
    }
}

/// What happens beyond the concurrency cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OverloadMode {
    /// Answer 503 at once, as an overloaded provider does.
    Reject,
    /// Make requests wait their turn.
    Queue,
}

/// A cap on requests in flight, the provider's capacity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConcurrencyConfig {
    /// Requests served at once, `1..=`[`MAX_CONCURRENCY`].
    #[serde(deserialize_with = "de_concurrency_limit")]
    pub limit: u32,
    /// Whether the requests beyond `limit` get 503 or wait.
    pub mode: OverloadMode,
    /// Queue mode: each request waiting when one is admitted adds this fraction to its service
    /// time, so an overloaded provider slows down for everyone (what makes retry storms last).
    /// `0..=`[`MAX_QUEUE_SLOWDOWN`].
    #[serde(default, deserialize_with = "de_queue_slowdown")]
    pub queue_slowdown: f64,
    /// Queue mode: beyond this many waiting, answer 503 after all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_queue: Option<u32>,
    /// Keep working on a request whose client gave up: its slot stays busy until the work is
    /// done, as a real provider's does. Abandoned attempts then still cost capacity, which is
    /// what lets timeouts plus retries hold an overload after its trigger has passed.
    #[serde(default)]
    pub finish_abandoned: bool,
}

/// The largest concurrency `limit`: far beyond what one process serves, small enough that the
/// semaphore holding it is always valid.
pub const MAX_CONCURRENCY: u32 = 1_000_000;

fn de_concurrency_limit<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = u32::deserialize(d)?;
    check_concurrency_limit(n).map_err(serde::de::Error::custom)
}

fn de_queue_slowdown<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    de_in_range(d, "queue_slowdown", 0.0, MAX_QUEUE_SLOWDOWN)
}

/// A limit of 0 would serve nothing, ever (queued requests would wait forever).
fn check_concurrency_limit(n: u32) -> Result<u32, RangeError> {
    in_range("limit", f64::from(n), 1.0, f64::from(MAX_CONCURRENCY)).map(|_| n)
}

impl ConcurrencyConfig {
    /// `limit` and `queue_slowdown` within their ranges.
    pub fn check(&self) -> Result<(), RangeError> {
        check_concurrency_limit(self.limit)?;
        in_range(
            "queue_slowdown",
            self.queue_slowdown,
            0.0,
            MAX_QUEUE_SLOWDOWN,
        )
        .map(|_| ())
    }
}

/// Length of generated replies, in tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyConfig {
    /// Distribution of completion tokens per reply (before `max_tokens` cuts it).
    #[serde(deserialize_with = "deserialize_tokens")]
    pub tokens: DistSpec<f64>,
}

fn deserialize_tokens<'de, D: Deserializer<'de>>(d: D) -> Result<DistSpec<f64>, D::Error> {
    let spec = DistSpec::<f64>::deserialize(d)?;
    spec.build().map_err(serde::de::Error::custom)?;
    Ok(spec)
}

impl Default for ReplyConfig {
    fn default() -> Self {
        let mut tokens = DistSpec::fixed(0.0);
        tokens.distribution = "lognormal".into();
        tokens.value = None;
        tokens.median = Some(50.0);
        tokens.p99 = Some(250.0);
        Self { tokens }
    }
}

impl ReplyConfig {
    /// The length distribution, already checked when the config was read.
    pub fn distribution(&self) -> Distribution {
        // Validated when read; a spec built in code with a mistake falls back to a sane length.
        self.tokens.build().unwrap_or(Distribution::Fixed(50.0))
    }
}
