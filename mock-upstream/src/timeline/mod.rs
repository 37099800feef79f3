//! Scripted events at offsets from the start of a run: outages, latency spikes, error bursts,
//! bursts of any injected failure (a stream that stalls or breaks part-way), step changes of the
//! limits, and deprecation of a route.
//!
//! A free API's trouble comes at particular moments, and a test that wants to see recovery must
//! know exactly when the trouble starts and ends. Events are evaluated against the offset from
//! the engine's start instant (a `tokio::time::Instant`), so they follow virtual time too.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use crate::faults::distribution::{DistError, DistSpec, Distribution};
use crate::faults::engine::Route;
use crate::faults::failure::FailureMode;
use crate::faults::values::{
    de_in_range, Limits, Probability, MAX_MULTIPLIER, SERVER_ERROR_STATUSES,
};
use gauntlet_wire::duration::HumanDuration;

/// A timeline event, validated when read so that a bad event fails at load, not when its
/// time comes mid-run; it keeps the spec it was read from to write it back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "TimelineSpec", into = "TimelineSpec")]
pub struct TimelineEvent {
    spec: TimelineSpec,
    /// When it starts, from the start of the run.
    pub at: Duration,
    /// When it ends; `None` lasts to the end of the run.
    pub until: Option<Duration>,
    /// What it does.
    pub effect: Effect,
}

/// What an event does while it is active.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Every request fails: with `status`, or with a reset connection when `status` is `None`.
    Outage {
        /// Status to answer, `None` for connection resets.
        status: Option<u16>,
    },
    /// Latency is multiplied, or drawn from another distribution.
    Latency {
        /// Factor on the sampled latency.
        multiplier: f64,
        /// A distribution that replaces `[latency]` during the window.
        replace: Option<Distribution>,
    },
    /// Extra failures with a status, on top of `[[failures]]`.
    Errors {
        /// Answered with OpenAI's body for it: 429 or a server error.
        status: u16,
        /// Chance per request.
        probability: f64,
    },
    /// Extra failures of any kind (a stream error, a stall, ...), on top of `[[failures]]`.
    Failures {
        /// What happens to a request it strikes.
        failure: FailureMode,
        /// Chance per request.
        probability: f64,
    },
    /// New limits, for every key or for one.
    Set {
        /// The key it changes; `None` changes `[limits]`.
        key: Option<String>,
        /// Only the limits it sets change; the others stay as they were.
        limits: Limits,
    },
    /// A route answers 410 Gone.
    Deprecate {
        /// `/v1/chat`, usually.
        route: String,
    },
}

/// `[[timeline]]` as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimelineSpec {
    /// Offset from the start.
    pub at: HumanDuration,
    /// How long it lasts; absent means to the end.
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub duration: Option<HumanDuration>,
    /// `outage`, `latency`, `errors`, `failures`, `set` or `deprecate`.
    pub kind: String,
    /// `outage` and `errors`: the status (outage default 503).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// `outage`: reset connections instead of answering.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reset: bool,
    /// `latency`: factor on the sampled latency, `0..=`[`MAX_MULTIPLIER`].
    #[serde(
        default,
        deserialize_with = "de_multiplier",
        skip_serializing_if = "Option::is_none"
    )]
    pub multiplier: Option<f64>,
    /// `latency`: a distribution that replaces `[latency]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<DistSpec<HumanDuration>>,
    /// `errors` and `failures`: chance per request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<Probability>,
    /// `failures`: the failure, as a `[[failures]]` entry without its probability
    /// (`{ kind = "stall", after = 3, for = "2s" }`). An inline table, because the event's own
    /// `for` is its window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<FailureMode>,
    /// `set`: the limits that change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    /// `set`: the key whose limits change (default: `[limits]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `deprecate`: the route that answers 410.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
}

/// Checks `multiplier` where it is read, so the error points at the number itself.
fn de_multiplier<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    de_in_range(d, "multiplier", 0.0, MAX_MULTIPLIER).map(Some)
}

/// Why a `[[timeline]]` event was refused; the message names the field and the kind.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TimelineError {
    /// `kind` is not one the timeline knows.
    #[error(
        "unknown timeline kind {kind:?} (expected outage, latency, errors, failures, set or deprecate)"
    )]
    UnknownKind {
        /// The kind as written.
        kind: String,
    },
    /// A field that belongs to another kind, which this kind would silently ignore.
    #[error("`{field}` does not go with kind {kind:?}")]
    MisplacedField {
        /// The field.
        field: &'static str,
        /// The event's kind.
        kind: &'static str,
    },
    /// A kind is missing a field it cannot do without.
    #[error("kind {kind:?} needs `{field}`")]
    MissingField {
        /// The event's kind.
        kind: &'static str,
        /// The absent field.
        field: &'static str,
    },
    /// A status the mock has no provider body for: only 429 and the server errors.
    #[error("status {status}: use 429, 500, 502, 503 or 504")]
    UnsupportedStatus {
        /// The status given.
        status: u16,
    },
    /// An outage given both `reset` and `status`, which contradict each other.
    #[error("an outage either resets or answers a status, not both")]
    ResetAndStatus,
    /// A `latency` event's replacement distribution.
    #[error(transparent)]
    Latency(#[from] DistError),
    /// A latency multiplier that is not finite or outside `0..=`[`MAX_MULTIPLIER`].
    #[error("multiplier {multiplier} is outside 0..={max}", max = MAX_MULTIPLIER)]
    BadMultiplier {
        /// The multiplier given.
        multiplier: f64,
    },
    /// A `latency` event that changes nothing.
    #[error("kind \"latency\" needs `multiplier` or `latency`")]
    LatencyChangesNothing,
    /// A `deprecate` event for a route the mock does not serve.
    #[error("route {route:?} is not one of {routes:?}", routes = Route::ALL.map(Route::path))]
    UnknownRoute {
        /// The route given.
        route: String,
    },
}

/// The fields each kind accepts; any other field set is a [`TimelineError::MisplacedField`].
const KIND_FIELDS: [(&str, &[&str]); 6] = [
    ("outage", &["status", "reset"]),
    ("latency", &["multiplier", "latency"]),
    ("errors", &["status", "probability"]),
    ("failures", &["failure", "probability"]),
    ("set", &["limits", "key"]),
    ("deprecate", &["route"]),
];

fn check_status(status: u16) -> Result<u16, TimelineError> {
    if SERVER_ERROR_STATUSES.contains(&status) || status == 429 {
        Ok(status)
    } else {
        Err(TimelineError::UnsupportedStatus { status })
    }
}

fn missing(kind: &'static str, field: &'static str) -> TimelineError {
    TimelineError::MissingField { kind, field }
}

impl TimelineSpec {
    /// The kind as the `'static` name the errors carry, and the fields it accepts.
    fn kind_fields(&self) -> Result<(&'static str, &'static [&'static str]), TimelineError> {
        KIND_FIELDS
            .iter()
            .find(|(k, _)| *k == self.kind)
            .copied()
            .ok_or_else(|| TimelineError::UnknownKind {
                kind: self.kind.clone(),
            })
    }

    /// Refuses a field set that `kind` does not use.
    fn check_fields(&self, kind: &'static str, allowed: &[&str]) -> Result<(), TimelineError> {
        let present = [
            ("status", self.status.is_some()),
            ("reset", self.reset),
            ("multiplier", self.multiplier.is_some()),
            ("latency", self.latency.is_some()),
            ("probability", self.probability.is_some()),
            ("failure", self.failure.is_some()),
            ("limits", self.limits.is_some()),
            ("key", self.key.is_some()),
            ("route", self.route.is_some()),
        ];
        match present.iter().find(|(f, set)| *set && !allowed.contains(f)) {
            Some((field, _)) => Err(TimelineError::MisplacedField { field, kind }),
            None => Ok(()),
        }
    }

    /// The validated effect of an event whose fields all belong to its kind.
    fn effect(&self, kind: &'static str) -> Result<Effect, TimelineError> {
        Ok(match kind {
            "outage" => {
                if self.reset && self.status.is_some() {
                    return Err(TimelineError::ResetAndStatus);
                }
                Effect::Outage {
                    status: if self.reset {
                        None
                    } else {
                        Some(check_status(self.status.unwrap_or(503))?)
                    },
                }
            }
            "latency" => self.latency_effect()?,
            "errors" => Effect::Errors {
                status: check_status(self.status.ok_or(missing(kind, "status"))?)?,
                probability: self.probability.ok_or(missing(kind, "probability"))?.0,
            },
            "failures" => Effect::Failures {
                failure: self.failure.clone().ok_or(missing(kind, "failure"))?,
                probability: self.probability.ok_or(missing(kind, "probability"))?.0,
            },
            "set" => Effect::Set {
                key: self.key.clone(),
                limits: self.limits.ok_or(missing(kind, "limits"))?,
            },
            _ => {
                let route = self.route.clone().ok_or(missing(kind, "route"))?;
                if Route::from_path(&route).is_none() {
                    return Err(TimelineError::UnknownRoute { route });
                }
                Effect::Deprecate { route }
            }
        })
    }

    fn latency_effect(&self) -> Result<Effect, TimelineError> {
        let replace = self.latency.as_ref().map(|d| d.build()).transpose()?;
        let multiplier = self.multiplier.unwrap_or(1.0);
        if !(multiplier.is_finite() && (0.0..=MAX_MULTIPLIER).contains(&multiplier)) {
            return Err(TimelineError::BadMultiplier { multiplier });
        }
        if self.multiplier.is_none() && replace.is_none() {
            return Err(TimelineError::LatencyChangesNothing);
        }
        Ok(Effect::Latency {
            multiplier,
            replace,
        })
    }
}

impl TryFrom<TimelineSpec> for TimelineEvent {
    type Error = TimelineError;
    fn try_from(s: TimelineSpec) -> Result<Self, TimelineError> {
        let (kind, allowed) = s.kind_fields()?;
        s.check_fields(kind, allowed)?;
        let effect = s.effect(kind)?;
        Ok(Self {
            at: s.at.0,
            until: s.duration.map(|d| s.at.0 + d.0),
            effect,
            spec: s,
        })
    }
}

impl From<TimelineEvent> for TimelineSpec {
    fn from(e: TimelineEvent) -> Self {
        e.spec
    }
}

impl TimelineEvent {
    /// Whether the event is in force `offset` after the start.
    pub fn is_active(&self, offset: Duration) -> bool {
        offset >= self.at && self.until.is_none_or(|u| offset < u)
    }

    /// The event's kind as written (`outage`, `latency`, ...), for stats and reports.
    pub fn kind(&self) -> &str {
        &self.spec.kind
    }

    /// The key a `set` event changes, if it names one.
    pub fn set_key(&self) -> Option<&str> {
        match &self.effect {
            Effect::Set { key, .. } => key.as_deref(),
            _ => None,
        }
    }

    /// A short label for charts: `outage 503`, `latency x8`, `set rpm=20`.
    pub fn label(&self) -> String {
        match &self.effect {
            Effect::Outage { status: Some(s) } => format!("outage {s}"),
            Effect::Outage { status: None } => "outage (resets)".into(),
            Effect::Latency {
                replace: Some(_), ..
            } => "latency change".into(),
            Effect::Latency { multiplier, .. } => format!("latency x{multiplier}"),
            Effect::Errors {
                status,
                probability,
            } => format!("errors {status} p={probability}"),
            Effect::Failures {
                failure,
                probability,
            } => format!("failures {} p={probability}", failure.kind.as_str()),
            Effect::Set { key, limits } => {
                let mut parts = Vec::new();
                if let Some(v) = limits.requests_per_minute {
                    parts.push(format!("rpm={v}"));
                }
                if let Some(v) = limits.tokens_per_minute {
                    parts.push(format!("tpm={v}"));
                }
                if let Some(v) = limits.requests_per_day {
                    parts.push(format!("rpd={v}"));
                }
                match key {
                    Some(k) => format!("set {k} {}", parts.join(" ")),
                    None => format!("set {}", parts.join(" ")),
                }
            }
            Effect::Deprecate { route } => format!("deprecate {route}"),
        }
    }
}

/// The limits in force for a key at `offset`: `[limits]`, then the key's own, then `set` events
/// in file order (those for every key first, so a key's own change wins).
pub fn limits_at(
    events: &[TimelineEvent],
    offset: Duration,
    base: Limits,
    key: Option<(&str, Limits)>,
) -> Limits {
    let mut default = base;
    for ev in events {
        if let Effect::Set { key: None, limits } = &ev.effect {
            if ev.is_active(offset) {
                default = default.overridden_by(limits);
            }
        }
    }
    let Some((name, own)) = key else {
        return default;
    };
    let mut limits = default.overridden_by(&own);
    for ev in events {
        if let Effect::Set {
            key: Some(k),
            limits: l,
        } = &ev.effect
        {
            if k == name && ev.is_active(offset) {
                limits = limits.overridden_by(l);
            }
        }
    }
    limits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(text: &str) -> Result<TimelineEvent, toml::de::Error> {
        toml::from_str::<TimelineEvent>(text)
    }

    #[test]
    fn windows_open_and_close() {
        let e = ev("at = \"30s\"\nfor = \"15s\"\nkind = \"outage\"").unwrap();
        assert_eq!(e.effect, Effect::Outage { status: Some(503) });
        assert!(!e.is_active(Duration::from_secs(29)));
        assert!(e.is_active(Duration::from_secs(30)));
        assert!(e.is_active(Duration::from_millis(44_999)));
        assert!(!e.is_active(Duration::from_secs(45)));
    }

    #[test]
    fn misplaced_fields_are_errors() {
        let e = ev("at = \"1s\"\nkind = \"outage\"\nmultiplier = 2.0")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`multiplier` does not go with kind \"outage\""),
            "{e}"
        );
        let e = ev("at = \"1s\"\nkind = \"quake\"").unwrap_err().to_string();
        assert!(e.contains("unknown timeline kind"), "{e}");
        let e = ev("at = \"1s\"\nkind = \"latency\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("needs `multiplier`"), "{e}");
    }

    #[test]
    fn multipliers_must_be_finite_and_at_most_1000() {
        for bad in ["1e300", "nan", "inf", "-1.0", "1000.5"] {
            let e = ev(&format!(
                "at = \"1s\"\nkind = \"latency\"\nmultiplier = {bad}"
            ))
            .unwrap_err();
            assert!(e.message().contains("multiplier = "), "{bad}: {e}");
            assert!(e.message().contains("outside 0..=1000"), "{bad}: {e}");
            assert!(e.span().is_some(), "{bad}: {e}");
        }
        assert!(ev("at = \"1s\"\nkind = \"latency\"\nmultiplier = 1000.0").is_ok());
    }

    #[test]
    fn failure_bursts_take_a_failure_table_and_a_probability() {
        let e = ev(
            "at = \"1s\"\nfor = \"5s\"\nkind = \"failures\"\nprobability = 0.5\n\
                    failure = { kind = \"stall\", after = 3, for = \"2s\" }",
        )
        .unwrap();
        let Effect::Failures {
            failure,
            probability,
        } = &e.effect
        else {
            panic!("{:?}", e.effect)
        };
        assert_eq!((failure.after, *probability), (Some(3), 0.5));
        assert_eq!(failure.pause, Duration::from_secs(2));
        assert_eq!(e.until, Some(Duration::from_secs(6)));
        assert_eq!(e.label(), "failures stall p=0.5");
        let back: TimelineEvent = toml::from_str(&toml::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
        let text = "at = \"1s\"\nkind = \"failures\"\nprobability = 0.5\n\
                    failure = { kind = \"stall\", after = 3 }";
        let err = ev(text).unwrap_err();
        assert!(
            err.message().contains("kind \"stall\" needs `for`"),
            "{err}"
        );
        let (line, _) = crate::faults::load::line_col(text, err.span().unwrap().start);
        assert_eq!(line, 4, "{err}");
        let err = ev("at = \"1s\"\nkind = \"failures\"\nprobability = 0.5")
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs `failure`"), "{err}");
        let err = ev(
            "at = \"1s\"\nkind = \"errors\"\nstatus = 500\nprobability = 0.5\n\
                      failure = { kind = \"reset\" }",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("`failure` does not go with kind \"errors\""),
            "{err}"
        );
    }

    #[test]
    fn set_events_step_the_limits() {
        let events = vec![
            ev("at = \"90s\"\nkind = \"set\"\nlimits = { requests_per_minute = 20 }").unwrap(),
            ev("at = \"100s\"\nkind = \"set\"\nkey = \"k\"\nlimits = { requests_per_day = 1 }")
                .unwrap(),
        ];
        let base = Limits {
            requests_per_minute: Some(60),
            ..Limits::default()
        };
        let own = Limits {
            requests_per_day: Some(10),
            ..Limits::default()
        };
        let at = |s| limits_at(&events, Duration::from_secs(s), base, Some(("k", own)));
        assert_eq!(at(10).requests_per_minute, Some(60));
        assert_eq!(at(90).requests_per_minute, Some(20));
        assert_eq!(at(90).requests_per_day, Some(10));
        assert_eq!(at(100).requests_per_day, Some(1));
        assert_eq!(
            limits_at(&events, Duration::from_secs(100), base, None).requests_per_day,
            None
        );
    }
}
