//! Human-readable durations (`500ms`, `2s`, `1m30s`, `1h`) for config files, and OpenAI's
//! duration style (`6m0s`, `120ms`) for `x-ratelimit-reset-*` headers.
//!
//! Config files are read by people, so a duration is a string with a unit rather than a bare
//! number whose unit a reader has to guess.

use std::fmt;
use std::time::Duration;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// A duration written with units in a config file.
///
/// Wrapping `std::time::Duration` lets serde reject `"5"` or `"5 parsecs"` at the exact
/// line and column of the bad value, instead of after the file has been read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// The plain duration, for arithmetic.
    pub fn get(self) -> Duration {
        self.0
    }
}

impl From<Duration> for HumanDuration {
    fn from(d: Duration) -> Self {
        Self(d)
    }
}

/// Why a duration string could not be read; the message is shown to the user as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration {input:?}: {reason} (write it like \"500ms\", \"2s\", \"1m30s\", \"1h\")"
)]
pub struct DurationError {
    input: String,
    reason: &'static str,
}

/// Reads `500ms`, `1.5s`, `2m`, `1h30m`, `250us`; units are `us`, `ms`, `s`, `m`, `h`, `d`.
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let err = |reason| DurationError {
        input: input.to_string(),
        reason,
    };
    let s = input.trim();
    if s.is_empty() {
        return Err(err("it is empty"));
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| err("a number needs a unit"))?;
        if num_len == 0 {
            return Err(err("expected a number"));
        }
        let value: f64 = rest[..num_len]
            .parse()
            .map_err(|_| err("the number is not valid"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            _ => return Err(err("unknown unit")),
        };
        rest = &rest[unit_len..];
        total += value * seconds_per_unit;
    }
    if !total.is_finite() || total > 10.0 * 365.0 * 86400.0 {
        return Err(err("it is too long"));
    }
    Ok(Duration::from_secs_f64(total))
}

/// Writes a duration the way OpenAI's rate-limit headers do: `120ms`, `1s`, `6m0s`, `1h2m3s`.
///
/// Official SDKs and dashboards parse this format, so the mock must emit it exactly.
pub fn format_openai_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let secs_f = d.as_secs_f64();
    let total_secs = d.as_secs();
    let hours = total_secs / 3600;
    let minutes = (total_secs % 3600) / 60;
    let frac_secs = secs_f - (hours * 3600 + minutes * 60) as f64;
    let secs = format_seconds(frac_secs);
    match (hours, minutes) {
        (0, 0) => format!("{secs}s"),
        (0, m) => format!("{m}m{secs}s"),
        (h, m) => format!("{h}h{m}m{secs}s"),
    }
}

fn format_seconds(s: f64) -> String {
    let rounded = (s * 1000.0).round() / 1000.0;
    if rounded.fract() == 0.0 {
        format!("{}", rounded as u64)
    } else {
        let text = format!("{rounded:.3}");
        text.trim_end_matches('0').to_string()
    }
}

/// Writes a duration with the shortest exact unit, so a config written back reads like the input.
pub fn format_human(d: Duration) -> String {
    let us = d.as_micros();
    if us == 0 {
        "0s".to_string()
    } else if us % 3_600_000_000 == 0 {
        format!("{}h", us / 3_600_000_000)
    } else if us % 60_000_000 == 0 {
        format!("{}m", us / 60_000_000)
    } else if us % 1_000_000 == 0 {
        format!("{}s", us / 1_000_000)
    } else if us % 1000 == 0 {
        format!("{}ms", us / 1000)
    } else {
        format!("{us}us")
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_human(self.0))
    }
}

impl std::str::FromStr for HumanDuration {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_duration(s).map(HumanDuration)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration with a unit, like \"500ms\", \"2s\" or \"1m\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                parse_duration(v).map(HumanDuration).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_human(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_compounds() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("250us").unwrap(), Duration::from_micros(250));
    }

    #[test]
    fn rejects_bad_input_with_reason() {
        for bad in ["", "5", "s", "5 parsecs", "1.2.3s", "-1s"] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.to_string().contains("invalid duration"), "{bad}: {e}");
        }
    }

    #[test]
    fn formats_like_openai() {
        assert_eq!(format_openai_duration(Duration::from_millis(120)), "120ms");
        assert_eq!(format_openai_duration(Duration::from_secs(1)), "1s");
        assert_eq!(format_openai_duration(Duration::from_secs(360)), "6m0s");
        assert_eq!(format_openai_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_openai_duration(Duration::from_secs(3723)), "1h2m3s");
        assert_eq!(
            format_openai_duration(Duration::from_millis(17_280)),
            "17.28s"
        );
    }

    #[test]
    fn human_format_round_trips() {
        for s in ["0s", "500ms", "2s", "5m", "1h", "250us", "1500ms"] {
            let d = parse_duration(s).unwrap();
            assert_eq!(parse_duration(&format_human(d)).unwrap(), d);
        }
    }
}
