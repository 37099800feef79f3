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
