//! Scenario files: one TOML file tells a whole story — the upstream's faults, the workload, the
//! client stack's settings, the thresholds a CI run must meet. Every key is documented in
//! `scenarios/README.md`; unknown keys are errors; a bad file gets `path:line:col`.

mod fleet;
mod thresholds;
mod upstream;
mod workload;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use gauntlet_wire::duration::HumanDuration;
use mock_upstream::faults::load::toml_error;
pub use mock_upstream::faults::ConfigError;
use serde::{Deserialize, Serialize};

use crate::client::ClientConfig;
pub(crate) use fleet::{FleetError, NodeSlot};
pub use thresholds::{Condition, ConditionError, MetricName, Op, METRICS};
pub use upstream::UpstreamSpec;
pub use workload::{
    Arrivals, DurationSpec, EndUsers, LoadModel, PromptSpec, Stage, Tenant, TurnSpec,
    WorkloadError, WorkloadSpec,
};

/// A whole scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name; the report directory is named after it.
    pub name: String,
    /// The story: what it shows and why.
    #[serde(default)]
    pub description: String,
    /// Seed of every random draw (workload, mock, jitter).
    #[serde(default)]
    pub seed: u64,
    /// How long requests are started.
    pub duration: HumanDuration,
    /// `[upstream]`: the embedded mock's faults and limits, or an external `target`; absent,
    /// the embedded mock without faults or limits.
    #[serde(default)]
    pub upstream: UpstreamSpec,
    /// `[workload]`: the load model, stages and what each request sends; required.
    pub workload: WorkloadSpec,
    /// `[client]`: the resilience layers' settings; absent, the client crate's defaults.
    #[serde(default)]
    pub client: ClientConfig,
    /// `[thresholds]`: metric name to condition, checked against the summary at the end; one
    /// failing makes the exit code 1.
    #[serde(default)]
    pub thresholds: BTreeMap<MetricName, Condition>,
    /// `[report]`: the time-series interval (1 s when absent).
    #[serde(default)]
    pub report: ReportSpec,
}

/// `[report]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportSpec {
    /// Length of one time-series interval.
    pub interval: HumanDuration,
}

impl Default for ReportSpec {
    fn default() -> Self {
        Self {
            interval: HumanDuration(Duration::from_secs(1)),
        }
    }
}

/// Finds the 1-based line and column of a top-level table header (`[workload]`), so errors
/// found after parsing still point somewhere useful.
fn table_position(text: &str, table: &str) -> (usize, usize) {
    let header = format!("[{table}]");
    text.lines()
        .position(|l| l.trim_start().starts_with(&header))
        .map_or((1, 1), |i| (i + 1, 1))
}

fn invalid(path: &str, text: &str, table: &str, message: String) -> ConfigError {
    let (line, column) = table_position(text, table);
    ConfigError::Invalid {
        path: path.to_string(),
        line,
        column,
        message,
    }
}

impl Scenario {
    /// Parses and validates scenario text; `path` names it in errors.
    pub fn parse(text: &str, path: &str) -> Result<Self, ConfigError> {
        let s: Scenario = toml::from_str(text).map_err(|e| toml_error(text, path, &e))?;
        if s.duration.0.is_zero() {
            return Err(invalid(
                path,
                text,
                "",
                "duration: must be more than 0".into(),
            ));
        }
        if s.name.trim().is_empty() {
            return Err(invalid(path, text, "", "name: must not be empty".into()));
        }
        s.workload
            .validate()
            .map_err(|e| invalid(path, text, "workload", e.to_string()))?;
        s.validate_client()
            .map_err(|(table, m)| invalid(path, text, &table, m))?;
        s.upstream
            .fault_config(s.seed)
            .map_err(|m| invalid(path, text, "upstream", format!("upstream: {m}")))?;
        if s.upstream.target.is_some() && !s.upstream.timeline.is_empty() {
            return Err(invalid(
                path,
                text,
                "upstream",
                "upstream: `timeline` and the other fault tables configure the embedded mock; they cannot apply to an external `target`".into(),
            ));
        }
        Ok(s)
    }

    /// Checks the client tables' values (the same checks the stack makes when it is built), so
    /// `gauntlet validate` catches them.
    fn validate_client(&self) -> Result<(), (String, String)> {
        let c = &self.client;
        if let Some(r) = &c.retry {
            r.validate()
                .map_err(|e| ("client.retry".into(), e.to_string()))?;
        }
        if let Some(b) = &c.breaker {
            b.validate()
                .map_err(|e| ("client.breaker".into(), e.to_string()))?;
        }
        if let Some(l) = &c.limiter {
            match l.validate() {
                // `--redis URL` may supply it when the scenario runs as a fleet node.
                Ok(()) | Err(crate::client::limiter::InvalidLimiter::NoRedisUrl) => {}
                Err(e) => return Err(("client.limiter".into(), e.to_string())),
            }
        }
        Ok(())
    }

    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&text, &shown)
    }

    /// Time given to requests in flight after `duration`.
    pub(crate) fn drain(&self) -> Duration {
        self.workload
            .drain
            .map(|d| d.0)
            .or_else(|| {
                self.client
                    .timeout
                    .as_ref()
                    .filter(|t| t.enabled)
                    .and_then(|t| t.total)
                    .map(|d| d.0)
            })
            .unwrap_or(Duration::from_secs(30))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "name = \"x\"\nduration = \"2s\"\n[workload]\nstages = [{ for = \"2s\", rate = \"5/s\" }]\n";

    #[test]
    fn canonical_scenario_means_what_it_says() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/canonical.toml");
        let s = Scenario::load(Path::new(path)).unwrap();
        assert_eq!((s.seed, s.duration.0), (42, Duration::from_secs(20)));
        assert_eq!(s.workload.stages.len(), 2);
        assert_eq!(s.workload.stages[1].ramp_to.unwrap().per_sec(), 20.0);
        assert_eq!(s.client.retry.as_ref().unwrap().budget_ratio, Some(0.1));
        assert_eq!(s.client.limiter.as_ref().unwrap().rate.per_sec(), 8.0);
        assert_eq!(s.drain(), Duration::from_secs(15));
        let faults = s.upstream.fault_config(s.seed).unwrap();
        assert_eq!(faults.spec().timeline[0].label(), "outage 503");
        assert_eq!(s.thresholds.len(), 2);
    }

    #[test]
    fn minimal_scenario_parses() {
        let s = Scenario::parse(MINIMAL, "x.toml").unwrap();
        assert_eq!(s.duration.0, Duration::from_secs(2));
        assert_eq!(s.drain(), Duration::from_secs(30));
    }

    #[test]
    fn errors_name_line_and_column() {
        let text = MINIMAL.replace("\"5/s\"", "\"5 per second\"");
        let e = Scenario::parse(&text, "x.toml").unwrap_err().to_string();
        assert!(e.starts_with("x.toml:4:"), "{e}");
        assert!(e.contains("invalid rate"), "{e}");
        let text = format!("{MINIMAL}[thresholds]\n\"latency.p98\" = \"< 1s\"\n");
        let e = Scenario::parse(&text, "x.toml").unwrap_err().to_string();
        assert!(e.starts_with("x.toml:6:1"), "{e}");
        assert!(e.contains("unknown metric"), "{e}");
        let text = MINIMAL.replace("[workload]", "[workload]\nmodel = \"closed\"");
        let e = Scenario::parse(&text, "x.toml").unwrap_err().to_string();
        assert!(e.starts_with("x.toml:3:1"), "{e}");
        let e = Scenario::parse(&format!("{MINIMAL}colour = 1\n"), "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("colour"), "{e}");
    }
}
