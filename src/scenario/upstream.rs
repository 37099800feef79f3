//! `[upstream]`: the embedded mock's faults (the same tables as a mock-upstream fault file), or
//! an external `target`.
//!
//! The fault tables are listed here again rather than flattened in: serde's `flatten` buffers
//! values and loses their positions, and a scenario error must name its line and column.

use mock_upstream::faults::config::FaultConfigError;
use mock_upstream::faults::config::{
    ConcurrencyConfig, Failures, KeyConfig, LatencyConfig, Limits, ReplyConfig, StreamConfig,
};
use mock_upstream::faults::{FaultConfig, FaultConfigSpec};
use mock_upstream::timeline::TimelineEvent;
use serde::{Deserialize, Serialize};

/// `[upstream]` as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSpec {
    /// An external OpenAI-compatible server instead of the embedded mock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Keys for an external target; tenants name their own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_keys: Vec<String>,
    /// See the mock's `[limits]`.
    #[serde(default)]
    pub limits: Limits,
    /// See the mock's `[[keys]]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<KeyConfig>,
    /// See the mock's `accept_unknown_keys`.
    #[serde(default)]
    pub accept_unknown_keys: bool,
    /// See the mock's `[latency]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencyConfig>,
    /// See the mock's `[stream]`.
    #[serde(default)]
    pub stream: StreamConfig,
    /// See the mock's `[concurrency]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<ConcurrencyConfig>,
    /// See the mock's `[[failures]]`.
    #[serde(default)]
    pub failures: Failures,
    /// See the mock's `[[timeline]]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<TimelineEvent>,
    /// See the mock's `[reply]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<ReplyConfig>,
    /// See the mock's `models`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<mock_upstream::faults::models::ModelEntry>>,
    /// See the mock's `max_body_bytes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<usize>,
}

impl UpstreamSpec {
    /// The embedded mock's config, seeded with the scenario's seed.
    pub(crate) fn fault_config(&self, seed: u64) -> Result<FaultConfig, FaultConfigError> {
        let defaults = FaultConfig::default().spec().clone();
        FaultConfig::from_spec(FaultConfigSpec {
            seed: Some(seed),
            limits: self.limits,
            keys: self.keys.clone(),
            accept_unknown_keys: self.accept_unknown_keys,
            latency: self.latency.clone(),
            stream: self.stream,
            concurrency: self.concurrency,
            failures: self.failures.clone(),
            timeline: self.timeline.clone(),
            reply: self.reply.clone().unwrap_or(defaults.reply),
            models: self.models.clone(),
            max_body_bytes: self.max_body_bytes.unwrap_or(defaults.max_body_bytes),
            tools: defaults.tools,
        })
    }
}
