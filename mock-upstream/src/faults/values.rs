//! Small validated values that both the fault config and the timeline are written in.
//!
//! They live here, not in [`super::config`], so that [`crate::timeline`] and
//! [`super::config`] both depend on this module instead of on each other; `config`
//! re-exports them, so `faults::config::Limits` keeps working.

use serde::{Deserialize, Deserializer, Serialize};

/// Rate limits in the provider's terms; an absent limit is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Requests per minute (RPM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_minute: Option<u32>,
    /// Tokens per minute (TPM): prompt plus completion tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_minute: Option<u32>,
    /// Requests per day (RPD): the daily quota; when spent, 429 `insufficient_quota`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_day: Option<u32>,
}

impl Limits {
    /// These limits with every limit `other` sets taking precedence.
    pub fn overridden_by(self, other: &Limits) -> Limits {
        Limits {
            requests_per_minute: other.requests_per_minute.or(self.requests_per_minute),
            tokens_per_minute: other.tokens_per_minute.or(self.tokens_per_minute),
            requests_per_day: other.requests_per_day.or(self.requests_per_day),
        }
    }
}

/// A probability in `[0, 1]`, rejected at its line when outside.
#[derive(Debug, Clone, Copy, Default, PartialEq, PartialOrd, Serialize)]
pub struct Probability(pub f64);

impl<'de> Deserialize<'de> for Probability {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        if (0.0..=1.0).contains(&v) {
            Ok(Probability(v))
        } else {
            Err(serde::de::Error::custom(format!(
                "probability {v} is outside 0..=1 (write 2 % as 0.02)"
            )))
        }
    }
}

/// Statuses a provider's server errors use; each gets OpenAI's body for it.
pub const SERVER_ERROR_STATUSES: [u16; 4] = [500, 502, 503, 504];

/// A number outside the range its key accepts. Validation refuses it when the file is read,
/// because every accepted number ends up in a `Duration`, a multiplication or an allocation,
/// and a NaN or an overflow there would panic the handler of every request instead.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{key} = {shown} is outside {min}..={max}", shown = show(*.value))]
pub struct RangeError {
    /// The key, as written in the file.
    pub key: &'static str,
    /// The value given (possibly NaN or infinite).
    pub value: f64,
    /// The smallest value accepted.
    pub min: f64,
    /// The largest value accepted.
    pub max: f64,
}

/// A value short enough for an error message: `1e300` rather than its 301 digits.
fn show(v: f64) -> String {
    if v.is_finite() && v.abs() >= 1e9 {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// `value` if it is finite and within `min..=max`, the error naming `key` otherwise.
pub fn in_range(key: &'static str, value: f64, min: f64, max: f64) -> Result<f64, RangeError> {
    if value.is_finite() && (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(RangeError {
            key,
            value,
            min,
            max,
        })
    }
}

/// The largest latency multiplier a timeline `latency` event accepts: slow enough to turn
/// 100 ms into 100 s, far beyond any client timeout.
pub const MAX_MULTIPLIER: f64 = 1000.0;

/// The largest `queue_slowdown`: with it, each waiting request adds 100 × the service time.
pub const MAX_QUEUE_SLOWDOWN: f64 = 100.0;

/// The longest latency a distribution, the stream pacing or a computed delay can reach. A
/// request's delay (latency × multipliers × queue slowdown, plus a spike) is also capped here,
/// so that products of valid numbers cannot overflow a `Duration`.
pub const MAX_LATENCY: std::time::Duration = std::time::Duration::from_secs(86_400);

/// The largest value of a reply-length distribution, in tokens (replies are then cut to
/// [`crate::text::MAX_REPLY_TOKENS`]).
pub const MAX_REPLY_LENGTH: f64 = 1_000_000.0;

/// Serde helper for an `f64` key with a range: the error is reported at the value's position.
pub(crate) fn de_in_range<'de, D: Deserializer<'de>>(
    d: D,
    key: &'static str,
    min: f64,
    max: f64,
) -> Result<f64, D::Error> {
    let v = f64::deserialize(d)?;
    in_range(key, v, min, max).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_refuse_nan_infinity_and_outliers_naming_the_key() {
        assert_eq!(in_range("m", 2.0, 0.0, 10.0), Ok(2.0));
        for bad in [f64::NAN, f64::INFINITY, -1.0, 1e300] {
            assert!(in_range("m", bad, 0.0, 10.0).is_err(), "{bad}");
        }
        let e = in_range("multiplier", 1e300, 0.0, 1000.0)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "multiplier = 1e300 is outside 0..=1000");
        let e = in_range("queue_slowdown", f64::NAN, 0.0, 100.0)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "queue_slowdown = NaN is outside 0..=100");
    }
}
