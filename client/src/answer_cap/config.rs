//! `[client.answer_cap]`: when the token quota is nearly spent, and how short answers get then.

use serde::{Deserialize, Serialize};

use crate::limiter::Share;

/// `[client.answer_cap]`: below `when_remaining_below` of the upstream's token limit left,
/// requests ask for at most `max_tokens`, falling linearly to `min_tokens` as the quota runs
/// out (one step when `min_tokens` is not written). A short answer now beats a 429 later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnswerCapConfig {
    /// `false` leaves every `max_tokens` alone.
    pub enabled: bool,
    /// The share of the token limit (`x-ratelimit-limit-tokens`) left below which capping
    /// starts, `"20%"` or `0.2`.
    pub when_remaining_below: Share,
    /// The cap just below the threshold; never raises a caller's smaller `max_tokens`.
    pub max_tokens: u32,
    /// The cap with no quota left (default: `max_tokens`, a single step).
    pub min_tokens: Option<u32>,
}

impl Default for AnswerCapConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            when_remaining_below: Share::new(0.2).unwrap_or_else(|_| unreachable!()),
            max_tokens: 128,
            min_tokens: None,
        }
    }
}

/// Why an answer-cap config cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvalidAnswerCap {
    /// A cap of 0 tokens asks for no answer at all (and providers refuse `max_tokens = 0`).
    #[error("answer_cap.{0} must be at least 1")]
    Zero(&'static str),
    /// The ramp would go up as the quota runs out.
    #[error("answer_cap.min_tokens = {min} is more than max_tokens = {max}")]
    RampUp {
        /// `min_tokens`.
        min: u32,
        /// `max_tokens`.
        max: u32,
    },
}

impl AnswerCapConfig {
    /// Checks the values a config file may get wrong (the share is checked as it is read).
    pub fn validate(&self) -> Result<(), InvalidAnswerCap> {
        if self.max_tokens == 0 {
            return Err(InvalidAnswerCap::Zero("max_tokens"));
        }
        match self.min_tokens {
            Some(0) => Err(InvalidAnswerCap::Zero("min_tokens")),
            Some(min) if min > self.max_tokens => Err(InvalidAnswerCap::RampUp {
                min,
                max: self.max_tokens,
            }),
            _ => Ok(()),
        }
    }

    /// The cap when `left` of the token limit remains; `None` at or above the threshold.
    pub fn cap_at(&self, left: f64) -> Option<u32> {
        let below = self.when_remaining_below.fraction();
        if left >= below {
            return None;
        }
        let (max, min) = (self.max_tokens, self.min_tokens.unwrap_or(self.max_tokens));
        let part = (left.max(0.0) / below).clamp(0.0, 1.0);
        let cap = f64::from(min) + f64::from(max - min) * part;
        Some((cap.round() as u32).clamp(min, max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Result<AnswerCapConfig, String> {
        let c: AnswerCapConfig = toml::from_str(toml_text).map_err(|e| e.to_string())?;
        c.validate().map_err(|e| e.to_string())?;
        Ok(c)
    }

    #[test]
    fn bad_values_are_refused_with_the_key() {
        for (text, says) in [
            ("max_tokens = 0", "answer_cap.max_tokens must be at least 1"),
            ("min_tokens = 0", "answer_cap.min_tokens must be at least 1"),
            (
                "max_tokens = 10\nmin_tokens = 20",
                "min_tokens = 20 is more",
            ),
            ("max_tokens = -1", "max_tokens"),
            ("when_remaining_below = \"0%\"", "not a share"),
            ("when_remaining_below = \"150%\"", "not a share"),
            ("when_remaining_below = nan", "not a share"),
            ("when_remaining_below = -0.2", "not a share"),
            ("max_token = 3", "max_token"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
        assert!(parse("when_remaining_below = \"30%\"\nmax_tokens = 64").is_ok());
    }

    #[test]
    fn the_cap_steps_or_ramps_below_the_threshold() {
        let step = parse("when_remaining_below = \"20%\"\nmax_tokens = 128").unwrap();
        assert_eq!(step.cap_at(0.2), None);
        assert_eq!(step.cap_at(0.9), None);
        assert_eq!(step.cap_at(0.19), Some(128));
        assert_eq!(step.cap_at(0.0), Some(128));
        let ramp = parse("when_remaining_below = 0.5\nmax_tokens = 100\nmin_tokens = 20").unwrap();
        assert_eq!(ramp.cap_at(0.25), Some(60));
        assert_eq!(ramp.cap_at(0.0), Some(20));
        assert_eq!(ramp.cap_at(-1.0), Some(20));
        assert_eq!(ramp.cap_at(0.4999), Some(100));
    }
}
