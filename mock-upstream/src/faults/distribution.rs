//! Probability distributions for latency (durations) and reply length (token counts).
//!
//! The same shapes serve both: a config names a `distribution` and the fields it needs, and
//! validation rejects a lognormal without `p99` at the value's own line.

use std::time::Duration;

use rand::Rng;
use rand_distr::{Distribution as _, LogNormal, Normal};
use serde::{Deserialize, Serialize};

use super::values::{in_range, RangeError, MAX_LATENCY, MAX_REPLY_LENGTH};
use gauntlet_wire::duration::HumanDuration;

/// z-score of the 99th percentile of the standard normal, used to turn (median, p99) into sigma.
const Z_P99: f64 = 2.326_347_874_040_841;

/// A validated distribution over non-negative reals (seconds for latency, tokens for length).
#[derive(Debug, Clone, PartialEq)]
pub enum Distribution {
    /// Always the same value.
    Fixed(f64),
    /// Uniform in `[min, max]`.
    Uniform {
        /// Smallest value drawn, inclusive.
        min: f64,
        /// Largest value drawn, inclusive.
        max: f64,
    },
    /// Normal, clamped at zero.
    Normal {
        /// Centre of the bell; draws below zero are clamped, so the mean of the draws is higher
        /// when `stddev` is large.
        mean: f64,
        /// Spread of the bell, in the same unit as `mean`.
        stddev: f64,
    },
    /// Log-normal given by its median and 99th percentile, the two figures people know.
    LogNormal {
        /// Half the draws are below it; must be positive.
        median: f64,
        /// One draw in a hundred is above it: the tail a client's timeouts must allow for.
        p99: f64,
    },
    /// Uniform choice among observed values, to replay a measured latency profile.
    Empirical(Vec<f64>),
}

impl Distribution {
    /// Draws one value; never negative.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let v = match self {
            Self::Fixed(v) => *v,
            Self::Uniform { min, max } => {
                // Finite bounds only: `random_range` panics on an infinite range, and a
                // `Distribution` built in code has not been through validation.
                if max > min && min.is_finite() && max.is_finite() {
                    rng.random_range(*min..=*max)
                } else {
                    *min
                }
            }
            Self::Normal { mean, stddev } => match Normal::new(*mean, *stddev) {
                Ok(d) => d.sample(rng),
                Err(_) => *mean,
            },
            Self::LogNormal { median, p99 } => {
                let mu = median.ln();
                let sigma = (p99.ln() - mu) / Z_P99;
                match LogNormal::new(mu, sigma) {
                    Ok(d) => d.sample(rng),
                    Err(_) => *median,
                }
            }
            Self::Empirical(values) if values.is_empty() => 0.0,
            Self::Empirical(values) => values[rng.random_range(0..values.len())],
        };
        if v.is_nan() {
            0.0
        } else {
            v.max(0.0)
        }
    }

    /// Draws a duration, reading values as seconds, capped at [`MAX_LATENCY`].
    pub fn sample_duration<R: Rng + ?Sized>(&self, rng: &mut R) -> Duration {
        secs_to_duration(self.sample(rng))
    }

    /// The median, for documentation and sanity checks.
    pub fn median(&self) -> f64 {
        match self {
            Self::Fixed(v) => *v,
            Self::Uniform { min, max } => (min + max) / 2.0,
            Self::Normal { mean, .. } => mean.max(0.0),
            Self::LogNormal { median, .. } => *median,
            Self::Empirical(values) => {
                let mut v = values.clone();
                v.sort_by(f64::total_cmp);
                v.get(v.len() / 2).copied().unwrap_or(0.0)
            }
        }
    }
}

/// Seconds as a `Duration` without panicking: NaN and negatives are zero, anything longer than
/// [`MAX_LATENCY`] (including infinity) is [`MAX_LATENCY`].
pub fn secs_to_duration(secs: f64) -> Duration {
    if secs.is_nan() || secs <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(secs)
        .unwrap_or(MAX_LATENCY)
        .min(MAX_LATENCY)
}

/// A value type a distribution can be written in: durations for latency, numbers for lengths.
pub trait DistValue: Copy + std::fmt::Debug {
    /// The largest value a field may have, as a real number: every accepted value is finite,
    /// non-negative and at most this.
    const MAX: f64;
    /// The value as a real number (seconds for durations).
    fn to_f64(self) -> f64;
    /// Back to the written form, so a validated config can be written out again.
    fn from_f64(v: f64) -> Self;
}

impl DistValue for HumanDuration {
    const MAX: f64 = MAX_LATENCY.as_secs_f64();
    fn to_f64(self) -> f64 {
        self.0.as_secs_f64()
    }
    fn from_f64(v: f64) -> Self {
        HumanDuration(secs_to_duration(v))
    }
}

impl DistValue for f64 {
    const MAX: f64 = MAX_REPLY_LENGTH;
    fn to_f64(self) -> f64 {
        self
    }
    fn from_f64(v: f64) -> Self {
        v
    }
}

/// Distribution fields as written in a config file, before validation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistSpec<T> {
    /// `fixed`, `uniform`, `normal`, `lognormal` or `empirical`.
    pub distribution: String,
    /// For `fixed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<T>,
    /// For `uniform`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<T>,
    /// For `uniform`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<T>,
    /// For `normal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<T>,
    /// For `normal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stddev: Option<T>,
    /// For `lognormal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median: Option<T>,
    /// For `lognormal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99: Option<T>,
    /// For `empirical`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<T>>,
}

/// Why a distribution's fields were refused; the message names the distribution and field,
/// and serde reports it at the value's line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DistError {
    /// `distribution` names a shape this crate does not know.
    #[error(
        "unknown distribution \"{distribution}\" (expected fixed, uniform, normal, lognormal or empirical)"
    )]
    Unknown {
        /// The name as written.
        distribution: String,
    },
    /// The shape needs a field that is absent.
    #[error("distribution \"{distribution}\" needs `{field}`")]
    MissingField {
        /// The shape.
        distribution: &'static str,
        /// The absent field.
        field: &'static str,
    },
    /// A `uniform` range that is empty.
    #[error("uniform: min ({min}) is greater than max ({max})")]
    UniformMinAboveMax {
        /// `min`, as a real number (seconds for durations).
        min: f64,
        /// `max`, as a real number.
        max: f64,
    },
    /// A `lognormal` outside `0 < median <= p99`, which has no sigma.
    #[error("lognormal: needs 0 < median <= p99 (median {median}, p99 {p99})")]
    LogNormalOrder {
        /// `median`, as a real number.
        median: f64,
        /// `p99`, as a real number.
        p99: f64,
    },
    /// An `empirical` list with nothing to choose from.
    #[error("empirical: `values` is empty")]
    EmptyEmpirical,
    /// A field outside its range: every value is finite, at least 0 and at most
    /// [`DistValue::MAX`] (1 day for latency, 1 000 000 tokens for reply lengths).
    #[error("{0}")]
    OutOfRange(#[from] RangeError),
    /// A field of another shape was written too, probably a mistyped `distribution`.
    #[error("distribution \"{distribution}\" has fields that belong to another distribution")]
    ForeignFields {
        /// The shape named.
        distribution: &'static str,
    },
}

fn need<T: DistValue>(
    v: Option<T>,
    distribution: &'static str,
    field: &'static str,
) -> Result<f64, DistError> {
    v.map(DistValue::to_f64).ok_or(DistError::MissingField {
        distribution,
        field,
    })
}

impl<T: DistValue> DistSpec<T> {
    /// Refuses a value that is not finite or outside `0..=T::MAX`, naming its field.
    fn check_ranges(&self) -> Result<(), DistError> {
        let fields = [
            ("value", self.value),
            ("min", self.min),
            ("max", self.max),
            ("mean", self.mean),
            ("stddev", self.stddev),
            ("median", self.median),
            ("p99", self.p99),
        ];
        for (key, v) in fields {
            if let Some(v) = v {
                in_range(key, v.to_f64(), 0.0, T::MAX)?;
            }
        }
        for v in self.values.iter().flatten() {
            in_range("values", v.to_f64(), 0.0, T::MAX)?;
        }
        Ok(())
    }

    /// Checks that the named distribution has the fields it needs and sane values.
    pub fn build(&self) -> Result<Distribution, DistError> {
        self.check_ranges()?;
        let d = self.distribution.as_str();
        let (name, dist) = match d {
            "fixed" => (
                "fixed",
                Distribution::Fixed(need(self.value, "fixed", "value")?),
            ),
            "uniform" => {
                let min = need(self.min, "uniform", "min")?;
                let max = need(self.max, "uniform", "max")?;
                if min > max {
                    return Err(DistError::UniformMinAboveMax { min, max });
                }
                ("uniform", Distribution::Uniform { min, max })
            }
            "normal" => (
                "normal",
                Distribution::Normal {
                    mean: need(self.mean, "normal", "mean")?,
                    stddev: need(self.stddev, "normal", "stddev")?,
                },
            ),
            "lognormal" => {
                let median = need(self.median, "lognormal", "median")?;
                let p99 = need(self.p99, "lognormal", "p99")?;
                if median <= 0.0 || p99 < median {
                    return Err(DistError::LogNormalOrder { median, p99 });
                }
                ("lognormal", Distribution::LogNormal { median, p99 })
            }
            "empirical" => {
                let values: Vec<f64> = self
                    .values
                    .as_ref()
                    .ok_or(DistError::MissingField {
                        distribution: "empirical",
                        field: "values",
                    })?
                    .iter()
                    .map(|v| v.to_f64())
                    .collect();
                if values.is_empty() {
                    return Err(DistError::EmptyEmpirical);
                }
                ("empirical", Distribution::Empirical(values))
            }
            other => {
                return Err(DistError::Unknown {
                    distribution: other.to_string(),
                })
            }
        };
        let unused = match name {
            "fixed" => self.min.is_some() || self.max.is_some() || self.median.is_some(),
            "uniform" => self.value.is_some() || self.median.is_some() || self.mean.is_some(),
            _ => false,
        };
        if unused {
            return Err(DistError::ForeignFields { distribution: name });
        }
        Ok(dist)
    }

    /// A `fixed` spec, for building configs in code.
    pub fn fixed(value: T) -> Self {
        Self {
            distribution: "fixed".into(),
            value: Some(value),
            min: None,
            max: None,
            mean: None,
            stddev: None,
            median: None,
            p99: None,
            values: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn spec(text: &str) -> DistSpec<HumanDuration> {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn lognormal_hits_its_median_and_p99() {
        let d = spec("distribution = \"lognormal\"\nmedian = \"300ms\"\np99 = \"2s\"")
            .build()
            .unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut v: Vec<f64> = (0..100_000).map(|_| d.sample(&mut rng)).collect();
        v.sort_by(f64::total_cmp);
        let p50 = v[50_000];
        let p99 = v[99_000];
        assert!((p50 - 0.3).abs() < 0.01, "p50 {p50}");
        assert!((p99 - 2.0).abs() < 0.1, "p99 {p99}");
    }

    #[test]
    fn missing_fields_are_named() {
        let e = spec("distribution = \"uniform\"\nmin = \"1s\"")
            .build()
            .unwrap_err()
            .to_string();
        assert!(e.contains("`max`"), "{e}");
        let e = spec("distribution = \"pareto\"")
            .build()
            .unwrap_err()
            .to_string();
        assert!(e.contains("pareto"), "{e}");
        let e = spec("distribution = \"uniform\"\nmin = \"2s\"\nmax = \"1s\"")
            .build()
            .unwrap_err()
            .to_string();
        assert!(e.contains("greater"), "{e}");
    }

    #[test]
    fn values_outside_their_range_are_refused() {
        let tokens = |text: &str| toml::from_str::<DistSpec<f64>>(text).unwrap().build();
        let e = tokens("distribution = \"uniform\"\nmin = 1\nmax = inf")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "max = inf is outside 0..=1000000");
        assert!(tokens("distribution = \"fixed\"\nvalue = nan").is_err());
        assert!(tokens("distribution = \"normal\"\nmean = 5\nstddev = -1").is_err());
        assert!(tokens("distribution = \"empirical\"\nvalues = [1, 1e7]").is_err());
        assert!(tokens("distribution = \"uniform\"\nmin = 20\nmax = 120").is_ok());
        let e = spec("distribution = \"fixed\"\nvalue = \"2d\"")
            .build()
            .unwrap_err()
            .to_string();
        assert_eq!(e, "value = 172800 is outside 0..=86400");
    }

    #[test]
    fn unvalidated_distributions_sample_without_panicking() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let wild = [
            Distribution::Uniform {
                min: f64::NEG_INFINITY,
                max: f64::INFINITY,
            },
            Distribution::Fixed(f64::NAN),
            Distribution::Fixed(1e300),
            Distribution::Empirical(Vec::new()),
            Distribution::LogNormal {
                median: 1.0,
                p99: f64::INFINITY,
            },
        ];
        for d in &wild {
            let v = d.sample(&mut rng);
            assert!(v >= 0.0, "{d:?} gave {v}");
            assert!(d.sample_duration(&mut rng) <= MAX_LATENCY);
        }
        assert_eq!(Distribution::Empirical(Vec::new()).median(), 0.0);
    }

    #[test]
    fn uniform_stays_in_range_and_normal_is_never_negative() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let u = Distribution::Uniform { min: 3.0, max: 6.0 };
        let n = Distribution::Normal {
            mean: 0.1,
            stddev: 1.0,
        };
        for _ in 0..10_000 {
            let x = u.sample(&mut rng);
            assert!((3.0..=6.0).contains(&x));
            assert!(n.sample(&mut rng) >= 0.0);
        }
    }
}
