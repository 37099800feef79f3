//! Scenario files: one TOML file tells a whole story — the upstream's faults, the workload, the
//! client stack's settings, the thresholds a CI run must meet. Every key is documented in
//! `scenarios/README.md`; unknown keys are errors; a bad file gets `path:line:col`.

mod dataset;
mod fleet;
mod mix;
mod slo;
pub mod system;
mod thresholds;
pub mod trace;
mod upstream;
mod workload;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use gauntlet_wire::duration::{format_human, HumanDuration};
use mock_upstream::faults::load::toml_error;
pub use mock_upstream::faults::ConfigError;
use serde::{Deserialize, Serialize};

use crate::client::ClientConfig;
pub use dataset::{Conversation, Dataset, DatasetError};
pub(crate) use fleet::{FleetError, NodeSlot};
pub use mix::{Ask, Mix, MixError, MixSpec};
pub use slo::{ItlObjective, RequestTimes, SloSpec};
pub use system::{SystemSpec, SystemSpecError};
pub use thresholds::{
    is_metric, metric_names, priority_metric, Condition, ConditionError, MetricName, Op, METRICS,
};
pub use trace::{RequestsLogMode, TraceSpec};
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
    /// `[slo]`: the objectives a request must meet to count towards `slo.goodput_rps`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<SloSpec>,
    /// `[system]`: the system under test between the driver and the mock; absent, the driver
    /// sends to the upstream itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemSpec>,
}

/// `[report]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportSpec {
    /// Length of one time-series interval.
    pub interval: HumanDuration,
    /// `requests_log = true` (or `"with-prompts"`): write every request to `requests.jsonl`
    /// in the trace format, to replay it later.
    #[serde(skip_serializing_if = "is_off")]
    pub requests_log: RequestsLogMode,
}

fn is_off(m: &RequestsLogMode) -> bool {
    !m.is_on()
}

impl Default for ReportSpec {
    fn default() -> Self {
        Self {
            interval: HumanDuration(Duration::from_secs(1)),
            requests_log: RequestsLogMode::Off,
        }
    }
}

/// The shortest report interval (the recorder's resolution).
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// Most intervals a run's report keeps: at 1 s, more than a day.
pub const MAX_INTERVALS: u64 = 100_000;

/// Finds the 1-based line and column of a top-level table header (`[workload]`), so errors
/// found after parsing still point somewhere useful.
fn table_position(text: &str, table: &str) -> (usize, usize) {
    let header = format!("[{table}]");
    text.lines()
        .position(|l| l.trim_start().starts_with(&header))
        .map_or((1, 1), |i| (i + 1, 1))
}

/// Finds `key = ` inside `[table]` (on a line of its own or in an inline table), so an error
/// about a value points at it; the table's header when the key is not written (a default).
fn key_position(text: &str, table: &str, key: &str) -> (usize, usize) {
    let header = format!("[{table}]");
    let lines: Vec<&str> = text.lines().collect();
    let start = if table.is_empty() {
        0
    } else {
        match lines
            .iter()
            .position(|l| l.trim_start().starts_with(&header))
        {
            Some(i) => i + 1,
            None => return (1, 1),
        }
    };
    for (i, line) in lines.iter().enumerate().skip(start) {
        if line.trim_start().starts_with('[') && (i > start || table.is_empty()) {
            break;
        }
        if let Some(col) = key_column(line, key) {
            return (i + 1, col);
        }
    }
    table_position(text, table)
}

/// The 1-based column of `key` written as a key (`key =`) in `line`.
fn key_column(line: &str, key: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = line[from..].find(key) {
        let at = from + found;
        let before = line[..at].chars().next_back();
        let after = line[at + key.len()..].trim_start();
        let word_start = before.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        if word_start && after.starts_with('=') {
            return Some(line[..at].chars().count() + 1);
        }
        from = at + key.len();
    }
    None
}

/// A [`ConfigError`] at `key` of `[table]` (the proxy's config reports its own checks so too).
pub(crate) fn invalid_key(
    path: &str,
    text: &str,
    table: &str,
    key: &str,
    message: String,
) -> ConfigError {
    let (line, column) = key_position(text, table, key);
    ConfigError::Invalid {
        path: path.to_string(),
        line,
        column,
        message,
    }
}

/// A [`ConfigError`] at `[table]`'s header.
pub(crate) fn invalid(path: &str, text: &str, table: &str, message: String) -> ConfigError {
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
        s.workload.validate().map_err(|e| {
            // A sub-table written inline (`mix = { ... }`) has its keys in `[workload]`.
            let table = if text.contains(&format!("[{}]", e.table())) {
                e.table()
            } else {
                "workload"
            };
            invalid_key(path, text, table, e.key(), e.to_string())
        })?;
        if s.slo.is_none() {
            if let Some(m) = s.thresholds.keys().find(|m| m.0.starts_with("slo.")) {
                let message = format!("thresholds: {} needs an [slo] table", m.0);
                return Err(invalid(path, text, "thresholds", message));
            }
        }
        s.check_intervals()
            .map_err(|(key, m)| invalid_key(path, text, "report", key, m))?;
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
        if let Some(system) = &s.system {
            system.validate().map_err(|e| {
                let table = if text.contains(&format!("[{}]", e.table)) {
                    e.table
                } else {
                    "system"
                };
                invalid_key(path, text, table, e.key, e.to_string())
            })?;
        }
        Ok(s)
    }

    /// The report keeps one row per interval: their number is bounded, so that a long run
    /// (a simulated year) stays within bounded memory.
    fn check_intervals(&self) -> Result<(), (&'static str, String)> {
        let interval = self.report.interval.0;
        if interval < MIN_INTERVAL {
            return Err((
                "interval",
                format!("report.interval: at least {}", format_human(MIN_INTERVAL)),
            ));
        }
        let rows = self.duration.0.as_secs_f64() / interval.as_secs_f64();
        if rows > MAX_INTERVALS as f64 {
            let least = self.duration.0.div_f64(MAX_INTERVALS as f64);
            // Rounded up to a whole second (or millisecond), so the suggestion reads well.
            let least = if least >= Duration::from_secs(1) {
                Duration::from_secs(least.as_secs() + 1)
            } else {
                Duration::from_millis(least.as_millis() as u64 + 1)
            };
            return Err((
                "interval",
                format!(
                    "report.interval: a run of {} in intervals of {} keeps {rows:.0} rows; at most \
                     {MAX_INTERVALS} are kept, so write report.interval = \"{}\" or longer",
                    format_human(self.duration.0),
                    format_human(interval),
                    format_human(least),
                ),
            ));
        }
        Ok(())
    }

    /// Checks the client tables' values (the same checks the stack makes when it is built), so
    /// `gauntlet validate` catches them.
    fn validate_client(&self) -> Result<(), (String, String)> {
        validate_client(&self.client)
    }

    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: shown.clone(),
            source,
        })?;
        let mut scenario = Self::parse(&text, &shown)?;
        scenario.resolve_system_cwd(path);
        Ok(scenario)
    }

    /// A relative `[system] cwd` is the system's directory beside the file that names it, so
    /// `run` and `grade` start it in the same place wherever they are run from.
    fn resolve_system_cwd(&mut self, path: &Path) {
        let Some(dir) = path.parent() else { return };
        if let Some(cwd) = self.system.as_mut().and_then(|s| s.cwd.as_mut()) {
            if cwd.is_relative() {
                *cwd = dir.join(&*cwd);
            }
        }
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

/// Checks `[client]`'s values (the same checks the stack makes when it is built): one function
/// for a scenario and the proxy's config, so both refuse the same tables the same way.
pub(crate) fn validate_client(c: &ClientConfig) -> Result<(), (String, String)> {
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
    if let Some(p) = &c.pool {
        p.validate()
            .map_err(|e| ("client.pool".into(), e.to_string()))?;
    }
    if let Some(m) = &c.models {
        m.validate()
            .map_err(|e| ("client.models".into(), e.to_string()))?;
    }
    if let Some(a) = &c.answer_cap {
        a.validate()
            .map_err(|e| ("client.answer_cap".into(), e.to_string()))?;
    }
    Ok(())
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
    fn a_relative_system_cwd_is_beside_the_file() {
        let dir = std::env::temp_dir().join(format!("gauntlet-cwd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("s.toml");
        let system = "[system]\ncommand = \"true\"\nurl = \"http://127.0.0.1:{port}\"\n";
        for (cwd, want) in [
            ("app", dir.join("app")),
            ("/abs", std::path::PathBuf::from("/abs")),
        ] {
            let text = format!("{MINIMAL}{system}cwd = \"{cwd}\"\n");
            std::fs::write(&file, text).unwrap();
            let s = Scenario::load(&file).unwrap();
            assert_eq!(s.system.unwrap().cwd, Some(want));
        }
        std::fs::remove_dir_all(&dir).unwrap();
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
        // A value found wrong after parsing points at its key's line (`stages`), not the table.
        let text = MINIMAL.replace("[workload]", "[workload]\nmodel = \"closed\"");
        let e = Scenario::parse(&text, "x.toml").unwrap_err().to_string();
        assert!(e.starts_with("x.toml:5:1"), "{e}");
        let e = Scenario::parse(&format!("{MINIMAL}colour = 1\n"), "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("colour"), "{e}");
    }
}
