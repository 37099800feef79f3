//! `[thresholds]`: `"latency.p99" = "< 3s"`, `"error_rate" = "< 5%"`, checked at the end of a run.

use std::fmt;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use gauntlet_wire::duration::parse_duration;

use crate::record::Outcome;

/// Metrics a threshold can name, besides `outcomes.<outcome>` for every recorded outcome
/// (derived from [`Outcome::ALL`], so a new outcome is a metric without an edit here).
pub const METRICS: &[&str] = &[
    "latency.min",
    "latency.mean",
    "latency.p50",
    "latency.p90",
    "latency.p95",
    "latency.p99",
    "latency.p999",
    "latency.max",
    "ttft.min",
    "ttft.mean",
    "ttft.p50",
    "ttft.p90",
    "ttft.p95",
    "ttft.p99",
    "ttft.p999",
    "ttft.max",
    "itl.min",
    "itl.mean",
    "itl.p50",
    "itl.p90",
    "itl.p95",
    "itl.p99",
    "itl.p999",
    "itl.max",
    "tpot.min",
    "tpot.mean",
    "tpot.p50",
    "tpot.p90",
    "tpot.p95",
    "tpot.p99",
    "tpot.p999",
    "tpot.max",
    "tokens.input",
    "tokens.output",
    "tokens.output_per_s",
    "slo.goodput",
    "slo.attainment",
    "error_rate",
    "requests.total",
    "requests.ok",
    "requests.errors",
    "requests.dropped",
    "upstream.calls",
    "upstream.calls_per_minute",
    "upstream.retries",
    "errors.rate_limited",
    "amplification",
    "goodput_rps",
    "quota.used",
    "quota.ratio",
    "schedule.max_lag",
    // The upstream's view (`crate::report::upstream_view::METRICS`, checked equal in a test).
    "upstream_view.attempts",
    "upstream_view.amplification",
    "upstream_view.retries",
    "upstream_view.early_after_429",
    "upstream_view.early_retries_after_429",
    "upstream_view.early_by_ms_max",
    "upstream_view.non_retryable_retries",
    "upstream_view.retry_delay_cv",
    "upstream_view.retry_delay_spread_ms",
    "upstream_view.prompt_tokens_resent",
    "upstream_view.tokens_charged",
    "upstream_view.concurrency_max",
    "upstream_view.concurrency_mean",
];

/// Whether a threshold or an objective may name `name`.
pub fn is_metric(name: &str) -> bool {
    METRICS.contains(&name)
        || name
            .strip_prefix("outcomes.")
            .is_some_and(|o| Outcome::from_name(o).is_some())
        || priority_metric(name).is_some()
}

/// `priority.CLASS.error_rate` or `priority.CLASS.latency.PCT` split into the class and the
/// figure (`error_rate`, `latency.p99`): one class's share of the SLO, so a plan can hold
/// interactive requests to a latency while batch ones may wait.
pub fn priority_metric(name: &str) -> Option<(crate::client::Priority, &str)> {
    let rest = name.strip_prefix("priority.")?;
    let (class, figure) = rest.split_once('.')?;
    let class = crate::client::Priority::ALL
        .into_iter()
        .find(|p| p.as_str() == class)?;
    let known =
        figure == "error_rate" || (figure.starts_with("latency.") && METRICS.contains(&figure));
    known.then_some((class, figure))
}

/// Every metric name, for messages that list them.
pub fn metric_names() -> Vec<String> {
    METRICS
        .iter()
        .map(|m| m.to_string())
        .chain(
            Outcome::ALL
                .iter()
                .map(|o| format!("outcomes.{}", o.name())),
        )
        .chain(
            crate::client::Priority::ALL
                .iter()
                .map(|p| format!("priority.{}.{{error_rate,latency.p99,...}}", p.as_str())),
        )
        .collect()
}

/// A metric name, checked with [`is_metric`] where it is written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MetricName(pub String);

impl<'de> Deserialize<'de> for MetricName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if is_metric(&s) {
            Ok(MetricName(s))
        } else {
            Err(de::Error::custom(format!(
                "unknown metric {s:?}; one of: {}",
                metric_names().join(", ")
            )))
        }
    }
}

impl Serialize for MetricName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// A threshold's comparison operator: the measured value on the left, the limit on the right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Op {
    /// The operator as written in a scenario, and as `summary.json`'s `thresholds[].op`.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    /// Whether `actual op limit` holds.
    pub fn holds(self, actual: f64, limit: f64) -> bool {
        match self {
            Op::Lt => actual < limit,
            Op::Le => actual <= limit,
            Op::Gt => actual > limit,
            Op::Ge => actual >= limit,
        }
    }
}

/// A condition such as `< 3s`: durations compare in milliseconds, `5%` as 0.05, `5/s` as 5.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// How the measured value compares with `limit`.
    pub op: Op,
    /// The limit, in the metric's unit (ms for durations, a fraction for percentages).
    pub limit: f64,
    /// As written, for reports.
    pub text: String,
}

/// Why a threshold's condition could not be read; the message names the text and what to write.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConditionError {
    /// It does not start with a comparison.
    #[error("threshold {0:?}: start with <, <=, > or >= (like \"< 3s\")")]
    NoComparison(String),
    /// What follows the comparison is not a finite limit.
    #[error("threshold {0:?}: the limit must be a number, a percentage (5%), a rate (5/s) or a duration (3s)")]
    BadLimit(String),
}

impl std::str::FromStr for Condition {
    type Err = ConditionError;
    fn from_str(text: &str) -> Result<Self, ConditionError> {
        let t = text.trim();
        let (op, rest) = if let Some(r) = t.strip_prefix("<=") {
            (Op::Le, r)
        } else if let Some(r) = t.strip_prefix(">=") {
            (Op::Ge, r)
        } else if let Some(r) = t.strip_prefix('<') {
            (Op::Lt, r)
        } else if let Some(r) = t.strip_prefix('>') {
            (Op::Gt, r)
        } else {
            return Err(ConditionError::NoComparison(text.to_string()));
        };
        let v = rest.trim();
        let limit = if let Some(p) = v.strip_suffix('%') {
            p.trim().parse::<f64>().map(|x| x / 100.0).ok()
        } else if let Some(r) = v.strip_suffix("/s") {
            r.trim().parse::<f64>().ok()
        } else if let Ok(n) = v.parse::<f64>() {
            Some(n)
        } else {
            parse_duration(v).ok().map(|d| d.as_secs_f64() * 1000.0)
        };
        let limit = limit
            .filter(|l| l.is_finite())
            .ok_or_else(|| ConditionError::BadLimit(text.to_string()))?;
        Ok(Condition {
            op,
            limit,
            text: t.to_string(),
        })
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(de::Error::custom)
    }
}

impl Serialize for Condition {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_priority_class_has_its_own_latency_and_error_rate() {
        use crate::client::Priority;
        let p = priority_metric("priority.interactive.latency.p99");
        assert_eq!(p, Some((Priority::Interactive, "latency.p99")));
        assert_eq!(
            priority_metric("priority.batch.error_rate"),
            Some((Priority::Batch, "error_rate"))
        );
        for bad in [
            "priority.urgent.error_rate",
            "priority.batch.latency.p42",
            "priority.batch",
            "priority.batch.goodput_rps",
        ] {
            assert!(!is_metric(bad), "{bad}");
        }
    }

    #[test]
    fn parses_units() {
        let c: Condition = "< 3s".parse().unwrap();
        assert_eq!((c.op, c.limit), (Op::Lt, 3000.0));
        let c: Condition = "<= 5%".parse().unwrap();
        assert_eq!((c.op, c.limit), (Op::Le, 0.05));
        let c: Condition = ">= 10/s".parse().unwrap();
        assert_eq!((c.op, c.limit), (Op::Ge, 10.0));
        let c: Condition = "<= 1000".parse().unwrap();
        assert_eq!(c.limit, 1000.0);
        assert!("3s".parse::<Condition>().is_err());
        assert!("< soon".parse::<Condition>().is_err());
    }
}
