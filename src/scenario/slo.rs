//! `[slo]`: the service-level objectives one request must meet to count towards SLO goodput —
//! time to first token, inter-token latency, time per output token and end-to-end latency, as
//! LLM benchmarks judge a streamed answer.
//!
//! ```toml
//! [slo]
//! ttft = "2s"                       # time to first token from the intended start
//! itl = { p = 99, max = "100ms" }   # the request's own 99th-percentile gap ("100ms": every gap)
//! tpot = "50ms"                     # (e2e - ttft) / (output tokens - 1)
//! e2e = "10s"                       # latency from the intended start
//! ```
//!
//! A request meets the SLO when it got an answer and meets every objective written. An answer
//! that did not stream has its first token when the answer arrives (TTFT = e2e) and no gaps;
//! an answer of fewer than two tokens has no TPOT and no gaps, so those objectives hold.

use std::fmt;
use std::time::Duration;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use gauntlet_wire::duration::HumanDuration;

/// `[slo]`; every objective optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloSpec {
    /// Most time to first token, from the intended start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft: Option<HumanDuration>,
    /// The bound on each request's own inter-token latency percentile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub itl: Option<ItlObjective>,
    /// Most time per output token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpot: Option<HumanDuration>,
    /// Most end-to-end latency, from the intended start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e2e: Option<HumanDuration>,
}

/// `itl = { p = 99, max = "100ms" }`: at least `p` % of the request's gaps are at most `max`
/// (its `p`-th percentile gap, read as an HDR histogram reads it, is within `max`). Written as a
/// duration alone, `p` is 100: every gap.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ItlObjective {
    /// The percentile, in (0, 100].
    pub p: f64,
    /// The most that percentile may be.
    pub max: HumanDuration,
}

/// One finished request's figures, as the SLO reads them.
#[derive(Debug, Clone, Copy)]
pub struct RequestTimes<'a> {
    /// Whether the stack answered it.
    pub answered: bool,
    /// Time to first token from the intended start (e2e for an answer that did not stream).
    pub ttft: Duration,
    /// Latency from the intended start.
    pub e2e: Duration,
    /// Time per output token, when it had two tokens or more.
    pub tpot: Option<Duration>,
    /// Its gaps between content chunks, µs.
    pub gaps: &'a [u32],
}

impl SloSpec {
    /// Whether the request met every objective written.
    pub fn met(&self, r: &RequestTimes<'_>) -> bool {
        let within = |limit: Option<HumanDuration>, v: Duration| limit.is_none_or(|l| v <= l.0);
        r.answered
            && within(self.ttft, r.ttft)
            && within(self.e2e, r.e2e)
            && r.tpot.is_none_or(|t| within(self.tpot, t))
            && self.itl.is_none_or(|o| o.holds(r.gaps))
    }
}

impl ItlObjective {
    /// Whether at least `p` % of `gaps` (µs) are within `max`; true without gaps.
    pub fn holds(&self, gaps: &[u32]) -> bool {
        if gaps.is_empty() {
            return true;
        }
        let max_us = u64::try_from(self.max.0.as_micros()).unwrap_or(u64::MAX);
        let within = gaps.iter().filter(|g| u64::from(**g) <= max_us).count();
        let need = ((self.p / 100.0) * gaps.len() as f64).ceil().max(1.0);
        within as f64 >= need
    }

    fn checked(p: f64, max: HumanDuration) -> Result<Self, String> {
        if !(p > 0.0 && p <= 100.0) {
            return Err(format!("itl: p = {p}: a percentile in (0, 100]"));
        }
        Ok(Self { p, max })
    }
}

impl<'de> Deserialize<'de> for ItlObjective {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ItlObjective;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration (\"100ms\") or { p = 99, max = \"100ms\" }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                let max: HumanDuration = v.parse().map_err(E::custom)?;
                ItlObjective::checked(100.0, max).map_err(E::custom)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Table {
                    p: f64,
                    max: HumanDuration,
                }
                let t = Table::deserialize(de::value::MapAccessDeserializer::new(map))?;
                ItlObjective::checked(t.p, t.max).map_err(de::Error::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> Result<SloSpec, toml::de::Error> {
        toml::from_str(text)
    }

    fn times(gaps: &[u32]) -> RequestTimes<'_> {
        RequestTimes {
            answered: true,
            ttft: Duration::from_millis(200),
            e2e: Duration::from_secs(1),
            tpot: Some(Duration::from_millis(20)),
            gaps,
        }
    }

    #[test]
    fn itl_reads_as_a_percentile_or_a_bound_on_every_gap() {
        let s = spec("itl = { p = 99, max = \"100ms\" }").unwrap();
        assert_eq!(s.itl.unwrap().p, 99.0);
        assert_eq!(spec("itl = \"50ms\"").unwrap().itl.unwrap().p, 100.0);
        for bad in [
            "itl = { p = 0, max = \"1s\" }",
            "itl = { p = 101, max = \"1s\" }",
            "itl = { p = 99 }",
            "itl = { p = 99, max = \"1s\", q = 1 }",
            "itl = \"soon\"",
            "ttfb = \"1s\"",
        ] {
            assert!(spec(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_request_meets_the_slo_only_within_every_objective() {
        let s = spec(
            "ttft = \"250ms\"\nitl = { p = 90, max = \"30ms\" }\ntpot = \"25ms\"\ne2e = \"2s\"",
        )
        .unwrap();
        // 9 of 10 gaps within 30 ms: the 90th percentile holds, the 99th would not.
        let mut gaps = vec![20_000u32; 9];
        gaps.push(500_000);
        assert!(s.met(&times(&gaps)));
        gaps[0] = 31_000;
        assert!(!s.met(&times(&gaps)));
        assert!(s.met(&times(&[])), "no gaps: the itl objective holds");
        let slow_first = RequestTimes {
            ttft: Duration::from_millis(300),
            ..times(&[])
        };
        assert!(!s.met(&slow_first));
        let failed = RequestTimes {
            answered: false,
            ..times(&[])
        };
        assert!(!s.met(&failed));
        assert!(SloSpec::default().met(&times(&[1])));
        assert!(!SloSpec::default().met(&failed));
    }
}
