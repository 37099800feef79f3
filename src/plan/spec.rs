//! `gauntlet plan`'s arguments read into plain values with no side effects: the varied key and
//! its range (`workload.users=10..400`, `workload.stages[0].rate=1/s..20/s`), the `--until`
//! conditions (the threshold metrics and conditions of `[thresholds]`), `--set` overrides and
//! `--compare` variants.

use toml::{Table, Value};

use crate::scenario::{is_metric, Condition};
use crate::sim::grid::toml_value;

/// The varied key: where it is, its range, and how a value is written back.
#[derive(Debug, Clone, PartialEq)]
pub struct Vary {
    /// The dotted path, with `[i]` indexes turned into `.i` segments.
    pub key: String,
    /// The range's low end.
    pub lo: f64,
    /// The range's high end.
    pub hi: f64,
    /// A unit written after the number (`/s` of a rate, `ms` of a duration), kept on every value.
    pub unit: String,
}

/// `--until`: every condition must hold for a value to meet the SLO.
#[derive(Debug, Clone, PartialEq)]
pub struct Until {
    /// As written, for the report.
    pub text: String,
    /// Metric name and condition.
    pub conditions: Vec<(String, Condition)>,
}

/// A `--compare` variant: a name and the overrides that make it.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// Its name in the strategies table.
    pub name: String,
    /// `key=value` overrides on top of `--set`.
    pub sets: Vec<Set>,
}

/// One `key=value` override, the value read as TOML (or a string).
#[derive(Debug, Clone, PartialEq)]
pub struct Set {
    /// The dotted path.
    pub key: String,
    /// The value, as written.
    pub text: String,
}

/// Why a plan's arguments cannot be used; each names the argument and what to write.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    /// `--vary` is not `KEY=LO..HI`.
    #[error("--vary {0:?}: write KEY=LO..HI, like workload.users=10..400 or workload.stages[0].rate=1/s..20/s")]
    VaryShape(String),
    /// A bound is not a number (with the same unit at both ends).
    #[error("--vary {text:?}: {problem}")]
    VaryBound {
        /// The argument.
        text: String,
        /// What is wrong.
        problem: String,
    },
    /// A key is not a dotted path.
    #[error("{arg} {text:?}: the key must be a dotted path like workload.users or workload.stages[1].rate")]
    BadKey {
        /// The flag.
        arg: &'static str,
        /// The argument.
        text: String,
    },
    /// `--set` without `=` or a value.
    #[error("--set {0:?}: write KEY=VALUE")]
    SetShape(String),
    /// `--compare` is not `NAME:KEY=VALUE[,KEY=VALUE]`.
    #[error(
        "--compare {0:?}: write NAME:KEY=VALUE[,KEY=VALUE...], like cached:client.cache.ttl=10m"
    )]
    CompareShape(String),
    /// Two `--compare` variants share a name.
    #[error("--compare: the name {0:?} is given twice")]
    CompareTwice(String),
    /// An `--until` clause is wrong.
    #[error("--until {text:?}: {problem} (like \"error_rate < 1% and latency.p99 < 5s\")")]
    Until {
        /// The argument.
        text: String,
        /// What is wrong.
        problem: String,
    },
}

/// `stages[1].rate` -> `stages.1.rate`; `None` when a segment is empty or a bracket is unmatched.
pub fn normalise_key(key: &str) -> Option<String> {
    let mut out = String::with_capacity(key.len());
    let mut rest = key.trim();
    while let Some(open) = rest.find('[') {
        let close = rest[open..].find(']')? + open;
        let index = &rest[open + 1..close];
        if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        out.push_str(&rest[..open]);
        out.push('.');
        out.push_str(index);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    let ok = !out.is_empty() && !out.contains(']') && out.split('.').all(|s| !s.is_empty());
    ok.then_some(out)
}

/// A number and the unit after it: `1.5/s` -> (1.5, "/s"), `300` -> (300, "").
fn number_and_unit(text: &str) -> Option<(f64, String)> {
    let t = text.trim();
    let end = t
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || ((c == '-' || c == '+') && i == 0)))
        .map_or(t.len(), |(i, _)| i);
    let n: f64 = t[..end].parse().ok()?;
    let unit = t[end..].trim();
    let unit_ok = unit.chars().all(|c| c.is_ascii_alphabetic() || c == '/');
    (n.is_finite() && unit_ok).then(|| (n, unit.to_string()))
}

impl std::str::FromStr for Vary {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, SpecError> {
        let (key, range) = s
            .split_once('=')
            .ok_or_else(|| SpecError::VaryShape(s.into()))?;
        let (lo, hi) = range
            .split_once("..")
            .ok_or_else(|| SpecError::VaryShape(s.into()))?;
        let key = normalise_key(key).ok_or_else(|| SpecError::BadKey {
            arg: "--vary",
            text: s.into(),
        })?;
        let bound = |b: &str| {
            number_and_unit(b).ok_or_else(|| SpecError::VaryBound {
                text: s.into(),
                problem: format!("{:?} is not a finite number", b.trim()),
            })
        };
        let ((lo, lo_unit), (hi, hi_unit)) = (bound(lo)?, bound(hi)?);
        let unit = match (lo_unit.as_str(), hi_unit.as_str()) {
            (a, b) if a == b => lo_unit,
            ("", _) => hi_unit,
            (_, "") => lo_unit,
            _ => {
                return Err(SpecError::VaryBound {
                    text: s.into(),
                    problem: format!("the bounds have different units ({lo_unit:?}, {hi_unit:?})"),
                })
            }
        };
        Ok(Self { key, lo, hi, unit })
    }
}

impl Vary {
    /// Whether the key takes integers: its value in the base scenario is one, or (absent there)
    /// both bounds are written as integers without a unit.
    pub fn integer(&self, base: &Table) -> bool {
        match lookup(base, &self.key) {
            Some(Value::Integer(_)) => true,
            Some(_) => false,
            None => self.unit.is_empty() && self.lo.fract() == 0.0 && self.hi.fract() == 0.0,
        }
    }

    /// The TOML value written at the key for `v`: an integer, a float, or a string with the unit.
    pub fn value(&self, v: f64, integer: bool) -> Value {
        if !self.unit.is_empty() {
            Value::String(format!("{}{}", format_number(v), self.unit))
        } else if integer {
            Value::Integer(v.round() as i64)
        } else {
            Value::Float(v)
        }
    }
}

pub use crate::report::plan_files::num as format_number;

/// The value at a dotted path, if there is one.
pub fn lookup<'a>(root: &'a Table, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut v = root.get(parts.next()?)?;
    for p in parts {
        v = match v {
            Value::Table(t) => t.get(p)?,
            Value::Array(a) => a.get(p.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(v)
}

impl std::str::FromStr for Until {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, SpecError> {
        let err = |problem: String| SpecError::Until {
            text: s.into(),
            problem,
        };
        let mut conditions = Vec::new();
        for clause in s.split(" and ").map(str::trim) {
            let pos = clause
                .find(['<', '>'])
                .ok_or_else(|| err(format!("{clause:?} needs <, <=, > or >=")))?;
            let (metric, cond) = clause.split_at(pos);
            let metric = metric.trim();
            if !is_metric(metric) {
                return Err(err(format!(
                    "unknown metric {metric:?} (the [thresholds] names)"
                )));
            }
            let cond: Condition = cond.parse().map_err(|e| err(format!("{e}")))?;
            conditions.push((metric.to_string(), cond));
        }
        Ok(Self {
            text: s.trim().to_string(),
            conditions,
        })
    }
}

impl std::str::FromStr for Set {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, SpecError> {
        let (key, text) = s
            .split_once('=')
            .ok_or_else(|| SpecError::SetShape(s.into()))?;
        let key = normalise_key(key).ok_or_else(|| SpecError::BadKey {
            arg: "--set",
            text: s.into(),
        })?;
        if text.trim().is_empty() {
            return Err(SpecError::SetShape(s.into()));
        }
        Ok(Self {
            key,
            text: text.trim().to_string(),
        })
    }
}

impl Set {
    /// The value as TOML.
    pub fn value(&self) -> Value {
        toml_value(&self.text)
    }
}

impl std::str::FromStr for Variant {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, SpecError> {
        let (name, sets) = s
            .split_once(':')
            .ok_or_else(|| SpecError::CompareShape(s.into()))?;
        let name = name.trim();
        let ok_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c));
        if !ok_name || sets.trim().is_empty() {
            return Err(SpecError::CompareShape(s.into()));
        }
        let sets = sets.split(',').map(str::parse).collect::<Result<_, _>>()?;
        Ok(Self {
            name: name.to_string(),
            sets,
        })
    }
}

/// Checks that no two variants share a name (nor take the base's, `base`).
pub fn check_names(variants: &[Variant]) -> Result<(), SpecError> {
    let mut seen = vec!["base"];
    for v in variants {
        if seen.contains(&v.name.as_str()) {
            return Err(SpecError::CompareTwice(v.name.clone()));
        }
        seen.push(&v.name);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vary_reads_keys_indexes_and_units() {
        let v: Vary = "workload.users=10..400".parse().unwrap();
        assert_eq!(
            (v.key.as_str(), v.lo, v.hi, v.unit.as_str()),
            ("workload.users", 10.0, 400.0, "")
        );
        let v: Vary = "workload.stages[1].rate=0.5/s..20/s".parse().unwrap();
        assert_eq!(
            (v.key.as_str(), v.lo, v.unit.as_str()),
            ("workload.stages.1.rate", 0.5, "/s")
        );
        assert_eq!(v.value(2.5, false).as_str(), Some("2.5/s"));
        for bad in [
            "users",
            "a=1",
            "a=x..2",
            "a=1..2/s..3",
            "a=1/s..2/m",
            "a..b=1..2",
            "a[x]=1..2",
            "a=nan..2",
            "a=1..inf",
        ] {
            assert!(bad.parse::<Vary>().is_err(), "{bad}");
        }
    }

    #[test]
    fn integer_keys_follow_the_scenario() {
        let t: Table = toml::from_str("[workload]\nusers = 5\nshare = 0.5\n").unwrap();
        let users: Vary = "workload.users=1..9".parse().unwrap();
        assert!(users.integer(&t));
        assert_eq!(users.value(3.0, true).as_integer(), Some(3));
        assert!(!"workload.share=1..9".parse::<Vary>().unwrap().integer(&t));
        assert!("workload.absent=1..9".parse::<Vary>().unwrap().integer(&t));
        assert!(!"workload.absent=1..9.5"
            .parse::<Vary>()
            .unwrap()
            .integer(&t));
    }

    #[test]
    fn until_uses_the_threshold_metrics() {
        let u: Until = "error_rate < 1% and latency.p99 < 5s".parse().unwrap();
        assert_eq!(u.conditions.len(), 2);
        assert_eq!(u.conditions[1].1.limit, 5000.0);
        assert!("latency.p98 < 1s".parse::<Until>().is_err());
        assert!("error_rate 1%".parse::<Until>().is_err());
        assert!("error_rate < lots".parse::<Until>().is_err());
    }

    #[test]
    fn sets_and_variants() {
        let s: Set = "client.cache.ttl=10m".parse().unwrap();
        assert_eq!(s.value().as_str(), Some("10m"));
        assert!("x".parse::<Set>().is_err());
        assert!("x=".parse::<Set>().is_err());
        let v: Variant = "cached:client.cache.ttl=10m,workload.stages[0].rate=2/s"
            .parse()
            .unwrap();
        assert_eq!(v.sets[1].key, "workload.stages.0.rate");
        assert!("nocolon".parse::<Variant>().is_err());
        assert!("bad name:a=1".parse::<Variant>().is_err());
        assert!(check_names(&[v.clone(), v]).is_err());
        assert!(check_names(&["base:a=1".parse().unwrap()]).is_err());
        assert_eq!(format_number(12.0), "12");
        assert_eq!(format_number(1.0 / 3.0), "0.3333");
    }
}
