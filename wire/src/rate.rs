//! Rates written as `10/s`, `600/m` or `5000/h` in config files.

use std::fmt;
use std::time::Duration;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// Events per second, written with a unit so `10` is never mistaken for per-minute.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Rate(f64);

impl Rate {
    /// A rate of `n` per second.
    pub fn per_second(n: f64) -> Self {
        Self(n)
    }

    /// Events per second.
    pub fn per_sec(self) -> f64 {
        self.0
    }

    /// Time between two events at this rate.
    pub fn interval(self) -> Duration {
        // A rate so small that its interval overflows a `Duration` (`1e-300/s`) waits for ever.
        if self.0 > 0.0 {
            Duration::try_from_secs_f64(1.0 / self.0).unwrap_or(Duration::MAX)
        } else {
            Duration::MAX
        }
    }
}

/// Why a rate could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid rate {0:?}: write it like \"10/s\", \"600/m\" or \"5000/h\"")]
pub struct RateError(String);

impl std::str::FromStr for Rate {
    type Err = RateError;
    fn from_str(s: &str) -> Result<Self, RateError> {
        let err = || RateError(s.to_string());
        let (n, unit) = s.trim().split_once('/').ok_or_else(err)?;
        let n: f64 = n.trim().parse().map_err(|_| err())?;
        let per = match unit.trim() {
            "s" | "sec" | "second" => 1.0,
            "m" | "min" | "minute" => 60.0,
            "h" | "hour" => 3600.0,
            "d" | "day" => 86400.0,
            _ => return Err(err()),
        };
        if !(n.is_finite() && n >= 0.0) {
            return Err(err());
        }
        Ok(Rate(n / per))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 >= 1.0 || self.0 == 0.0 {
            write!(f, "{}/s", self.0)
        } else {
            write!(f, "{}/m", self.0 * 60.0)
        }
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tiny_rate_waits_for_ever_instead_of_panicking() {
        let r: Rate = "1e-300/s".parse().unwrap();
        assert_eq!(r.interval(), Duration::MAX);
    }

    #[test]
    fn parses_units() {
        assert_eq!("10/s".parse::<Rate>().unwrap().per_sec(), 10.0);
        assert_eq!("600/m".parse::<Rate>().unwrap().per_sec(), 10.0);
        assert_eq!("3600/h".parse::<Rate>().unwrap().per_sec(), 1.0);
        assert!("10".parse::<Rate>().is_err());
        assert!("10/fortnight".parse::<Rate>().is_err());
        assert!("-1/s".parse::<Rate>().is_err());
        assert_eq!(
            "8/s".parse::<Rate>().unwrap().interval(),
            Duration::from_millis(125)
        );
    }
}
