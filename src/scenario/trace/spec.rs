//! `trace = "FILE.jsonl"` or `trace = { file = "FILE.jsonl", speed = 2.0, loop = true,
//! sample = 0.25 }` in `[workload]`, and `[report] requests_log`.

use std::fmt;
use std::path::PathBuf;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// How a trace is replayed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceSpec {
    /// The JSON-lines file (relative to the working directory, as `prompts.file`).
    pub file: PathBuf,
    /// Playback speed: 2 sends the trace in half its time (offsets are divided by it).
    pub speed: f64,
    /// Start again from the first line when the trace ends, until `duration` ends.
    #[serde(rename = "loop")]
    pub looped: bool,
    /// Share of sessions kept (whole sessions: a kept session keeps every line); drawn from the
    /// scenario's seed, so the same seed keeps the same sessions.
    pub sample: f64,
}

/// The table form, with the defaults of the string form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TraceTable {
    file: PathBuf,
    #[serde(default = "one")]
    speed: f64,
    #[serde(default, rename = "loop")]
    looped: bool,
    #[serde(default = "one")]
    sample: f64,
}

fn one() -> f64 {
    1.0
}

impl TraceSpec {
    /// The file, played once at its own speed, every session kept.
    pub fn of(file: impl Into<PathBuf>) -> Self {
        Self {
            file: file.into(),
            speed: 1.0,
            looped: false,
            sample: 1.0,
        }
    }

    /// Checks the numbers serde cannot.
    pub fn validate(&self) -> Result<(), TraceSpecError> {
        if !(self.speed.is_finite() && self.speed > 0.0 && self.speed <= MAX_SPEED) {
            return Err(TraceSpecError::Speed);
        }
        if !(self.sample > 0.0 && self.sample <= 1.0) {
            return Err(TraceSpecError::Sample);
        }
        Ok(())
    }
}

/// The fastest playback: beyond it offsets of microseconds collapse into one instant.
pub const MAX_SPEED: f64 = 1_000_000.0;

/// What is wrong with `trace`'s numbers.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TraceSpecError {
    /// A speed that is not a positive number in bounds.
    #[error("workload.trace.speed: a number more than 0 and at most {MAX_SPEED}")]
    Speed,
    /// A sample share outside (0, 1].
    #[error("workload.trace.sample: a share more than 0 and at most 1")]
    Sample,
}

impl<'de> Deserialize<'de> for TraceSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TraceSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a file name, or a table { file, speed, loop, sample }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TraceSpec, E> {
                Ok(TraceSpec::of(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TraceSpec, A::Error> {
                let t = TraceTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(TraceSpec {
                    file: t.file,
                    speed: t.speed,
                    looped: t.looped,
                    sample: t.sample,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// `[report] requests_log`: whether a run writes `requests.jsonl`, and with the prompts' text
/// or only their token counts (a log without text can be shared without sharing what users
/// wrote).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum RequestsLogMode {
    /// No log (`false`, the default).
    #[default]
    Off,
    /// Every request, prompts as token counts (`true`).
    Counts,
    /// Every request with its prompt text (`"with-prompts"`).
    WithPrompts,
}

impl RequestsLogMode {
    /// Whether a log is written.
    pub fn is_on(self) -> bool {
        self != Self::Off
    }
}

impl std::str::FromStr for RequestsLogMode {
    type Err = String;
    /// The CLI's `--requests-log[=with-prompts]`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "true" | "on" | "counts" => Ok(Self::Counts),
            "with-prompts" => Ok(Self::WithPrompts),
            "false" | "off" => Ok(Self::Off),
            _ => Err(format!(
                "{s:?}: the requests log is `on` (token counts) or `with-prompts`"
            )),
        }
    }
}

impl<'de> Deserialize<'de> for RequestsLogMode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RequestsLogMode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true, false or \"with-prompts\"")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RequestsLogMode, E> {
                Ok(if v {
                    RequestsLogMode::Counts
                } else {
                    RequestsLogMode::Off
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RequestsLogMode, E> {
                match v {
                    "with-prompts" => Ok(RequestsLogMode::WithPrompts),
                    _ => Err(E::custom(format!(
                        "requests_log: true, false or \"with-prompts\", not {v:?}"
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct W {
        trace: TraceSpec,
        #[serde(default)]
        log: RequestsLogMode,
    }

    #[test]
    fn a_file_name_or_a_table() {
        let w: W = toml::from_str("trace = \"t.jsonl\"").unwrap();
        assert_eq!(w.trace, TraceSpec::of("t.jsonl"));
        assert_eq!(w.log, RequestsLogMode::Off);
        let w: W = toml::from_str(
            "trace = { file = \"t.jsonl\", speed = 2.0, loop = true, sample = 0.25 }\nlog = \"with-prompts\"",
        )
        .unwrap();
        assert_eq!(
            (w.trace.speed, w.trace.looped, w.trace.sample),
            (2.0, true, 0.25)
        );
        assert_eq!(w.log, RequestsLogMode::WithPrompts);
        let e = toml::from_str::<W>("trace = { file = \"t\", sped = 2.0 }")
            .err()
            .unwrap();
        assert!(e.to_string().contains("sped"), "{e}");
        assert!(toml::from_str::<W>("trace = \"t\"\nlog = \"yes\"").is_err());
        let mut t = TraceSpec::of("t");
        t.speed = 0.0;
        assert_eq!(t.validate(), Err(TraceSpecError::Speed));
        t.speed = 1.0;
        t.sample = 1.5;
        assert_eq!(t.validate(), Err(TraceSpecError::Sample));
    }
}
