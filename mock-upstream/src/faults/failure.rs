//! The injected failures: their kinds, their parameters, and the `[[failures]]` list.
//!
//! A failure's kind and parameters ([`FailureMode`]) are shared by `[[failures]]` entries (with a
//! probability each) and timeline `failures` bursts (`failure = { kind = "stall", ... }`), so a
//! failure means the same thing, and is checked the same way, wherever it is written.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::values::{Probability, MAX_LATENCY, SERVER_ERROR_STATUSES};
use crate::text::MAX_REPLY_TOKENS;
use gauntlet_wire::duration::HumanDuration;

/// The ways a response can go wrong; each exercises a different error path of a client. The
/// snake_case name is the kind in the fault file and the fault's label in the mock's stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// An error status with OpenAI's body.
    Status,
    /// The connection is closed with no response.
    Reset,
    /// No answer until the client gives up (bounded by `for`).
    Hang,
    /// The body (or stream) stops half-way.
    Truncate,
    /// Status 200 with a body that is not JSON.
    Malformed,
    /// Status 200 with an empty body.
    Empty,
    /// A stream sends `after` token pieces, then the provider's error event, and ends cleanly.
    StreamError,
    /// A stream goes silent for `for` after `after` token pieces, then goes on.
    Stall,
    /// A stream sends its token pieces (all, or `after`) but not its final events, and ends
    /// cleanly.
    Unfinished,
    /// The answer is cut at `after` tokens with `finish_reason: "length"`.
    EarlyLength,
}

impl FailureKind {
    /// Every kind, in the order of the fault file's documentation.
    pub const ALL: [FailureKind; 10] = [
        FailureKind::Status,
        FailureKind::Reset,
        FailureKind::Hang,
        FailureKind::Truncate,
        FailureKind::Malformed,
        FailureKind::Empty,
        FailureKind::StreamError,
        FailureKind::Stall,
        FailureKind::Unfinished,
        FailureKind::EarlyLength,
    ];

    /// The name in the fault file, which is also the fault's label in stats and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Status => "status",
            FailureKind::Reset => "reset",
            FailureKind::Hang => "hang",
            FailureKind::Truncate => "truncate",
            FailureKind::Malformed => "malformed",
            FailureKind::Empty => "empty",
            FailureKind::StreamError => "stream_error",
            FailureKind::Stall => "stall",
            FailureKind::Unfinished => "unfinished",
            FailureKind::EarlyLength => "early_length",
        }
    }

    /// Whether `after` (a count of token pieces) belongs to this kind, and must be given.
    fn after_field(self) -> Field {
        match self {
            FailureKind::StreamError | FailureKind::Stall | FailureKind::EarlyLength => {
                Field::Required
            }
            FailureKind::Unfinished => Field::Optional,
            _ => Field::Refused,
        }
    }

    /// Whether `for` belongs to this kind, and must be given.
    fn for_field(self) -> Field {
        match self {
            FailureKind::Stall => Field::Required,
            FailureKind::Hang => Field::Optional,
            _ => Field::Refused,
        }
    }
}

/// How a kind takes one of the optional fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Required,
    Optional,
    Refused,
}

/// How long a hang lasts when `for` is not given: longer than most clients' timeouts, so the
/// client gives up first.
pub const DEFAULT_HANG: Duration = Duration::from_secs(60);

/// The status whose error object a `stream_error` sends when `status` is not given.
pub const DEFAULT_STREAM_ERROR_STATUS: u16 = 500;

/// The statuses whose error object a `stream_error` may send: the server errors and 429 (the
/// provider's `rate_limit_exceeded` object), as timeline error bursts accept.
pub const STREAM_ERROR_STATUSES: [u16; 5] = [429, 500, 502, 503, 504];

/// A failure's kind with its parameters, validated: what a `[[failures]]` entry and a timeline
/// `failures` burst both carry out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "FailureModeSpec", into = "FailureModeSpec")]
pub struct FailureMode {
    /// Which error path of the client it exercises.
    pub kind: FailureKind,
    /// For `status`: the status answered; for `stream_error`: the status whose error object
    /// the stream sends (500 by default). 0 for other kinds.
    pub status: u16,
    /// For the stream kinds: token pieces sent before the fault strikes (`unfinished`: `None`
    /// sends them all).
    pub after: Option<u32>,
    /// For `hang`: how long before the connection is closed; for `stall`: how long the stream
    /// is silent. Zero for other kinds.
    pub pause: Duration,
}

/// A failure as written in a timeline burst's `failure = { ... }`: `[[failures]]` without the
/// probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureModeSpec {
    /// See [`FailureKind`].
    pub kind: FailureKind,
    /// For `status` (required) and `stream_error` (default 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// For `stream_error`, `stall`, `early_length` (required) and `unfinished`: token pieces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<u32>,
    /// For `stall` (required) and `hang` (default 60 s).
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub pause: Option<HumanDuration>,
}

/// Why a failure (a `[[failures]]` entry, a timeline burst's `failure`, or the list) was
/// refused; the message names the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FailureError {
    /// A `status` failure with a status that is not one of [`SERVER_ERROR_STATUSES`] (429s
    /// come from `[limits]`, and other codes have no OpenAI body to send).
    #[error("status {status}: use one of 500, 502, 503, 504")]
    StatusNotServerError {
        /// The status given.
        status: u16,
    },
    /// A `stream_error` whose status is not one of [`STREAM_ERROR_STATUSES`].
    #[error("status {status}: a stream error sends the object of 429, 500, 502, 503 or 504")]
    StreamStatusUnsupported {
        /// The status given.
        status: u16,
    },
    /// A `status` failure without its status.
    #[error("kind \"status\" needs `status`")]
    MissingStatus,
    /// `status` on another kind, where it would be silently ignored.
    #[error("`status` only goes with kind \"status\" or \"stream_error\"")]
    StatusOnOtherKind {
        /// The entry's kind.
        kind: FailureKind,
    },
    /// `for` on a kind that has no pause, where it would be silently ignored.
    #[error("`for` only goes with kind \"hang\" or \"stall\"")]
    ForOnOtherKind {
        /// The entry's kind.
        kind: FailureKind,
    },
    /// `after` on a kind that does not stream tokens first, where it would be ignored.
    #[error(
        "`after` only goes with kind \"stream_error\", \"stall\", \"unfinished\" or \"early_length\""
    )]
    AfterOnOtherKind {
        /// The entry's kind.
        kind: FailureKind,
    },
    /// A kind without a field it cannot do without.
    #[error("kind \"{kind}\" needs `{field}`", kind = kind.as_str())]
    MissingField {
        /// The entry's kind.
        kind: FailureKind,
        /// The absent field.
        field: &'static str,
    },
    /// `after` over the longest reply, where it could never strike.
    #[error("after = {after} is outside {min}..={max}", max = MAX_REPLY_TOKENS)]
    AfterOutOfRange {
        /// The value given.
        after: u32,
        /// The smallest accepted: 1 for `early_length` (an answer has a token), 0 otherwise.
        min: u32,
    },
    /// `for` longer than [`MAX_LATENCY`].
    #[error("for = {secs} s is longer than 1 day", secs = pause.as_secs_f64())]
    PauseTooLong {
        /// The value given.
        pause: Duration,
    },
    /// The entries' probabilities add up to more than 1, so they cannot all hold.
    #[error("failure probabilities add up to {total}, more than 1")]
    ProbabilitiesOverOne {
        /// Their sum.
        total: f64,
    },
}

impl FailureMode {
    /// Checks each field against the kind: a field the kind does not use is refused (it would
    /// be silently ignored), one it needs must be there, and numbers stay within their bounds.
    pub fn new(
        kind: FailureKind,
        status: Option<u16>,
        after: Option<u32>,
        pause: Option<Duration>,
    ) -> Result<Self, FailureError> {
        Ok(Self {
            kind,
            status: check_status(kind, status)?,
            after: check_after(kind, after)?,
            pause: check_pause(kind, pause)?,
        })
    }

    /// The fields as written, for writing the config back.
    fn spec(&self) -> FailureModeSpec {
        let k = self.kind;
        FailureModeSpec {
            kind: k,
            status: matches!(k, FailureKind::Status | FailureKind::StreamError)
                .then_some(self.status),
            after: self.after,
            pause: (k.for_field() != Field::Refused).then_some(HumanDuration(self.pause)),
        }
    }
}

fn check_status(kind: FailureKind, status: Option<u16>) -> Result<u16, FailureError> {
    match (kind, status) {
        (FailureKind::Status, Some(s)) if SERVER_ERROR_STATUSES.contains(&s) => Ok(s),
        (FailureKind::Status, Some(status)) => Err(FailureError::StatusNotServerError { status }),
        (FailureKind::Status, None) => Err(FailureError::MissingStatus),
        (FailureKind::StreamError, None) => Ok(DEFAULT_STREAM_ERROR_STATUS),
        (FailureKind::StreamError, Some(s)) if STREAM_ERROR_STATUSES.contains(&s) => Ok(s),
        (FailureKind::StreamError, Some(status)) => {
            Err(FailureError::StreamStatusUnsupported { status })
        }
        (kind, Some(_)) => Err(FailureError::StatusOnOtherKind { kind }),
        (_, None) => Ok(0),
    }
}

fn check_after(kind: FailureKind, after: Option<u32>) -> Result<Option<u32>, FailureError> {
    match (kind.after_field(), after) {
        (Field::Refused, Some(_)) => Err(FailureError::AfterOnOtherKind { kind }),
        (Field::Required, None) => Err(FailureError::MissingField {
            kind,
            field: "after",
        }),
        (_, Some(after)) => {
            let min = u32::from(kind == FailureKind::EarlyLength);
            if (min..=MAX_REPLY_TOKENS).contains(&after) {
                Ok(Some(after))
            } else {
                Err(FailureError::AfterOutOfRange { after, min })
            }
        }
        (_, None) => Ok(None),
    }
}

fn check_pause(kind: FailureKind, pause: Option<Duration>) -> Result<Duration, FailureError> {
    match (kind.for_field(), pause) {
        (Field::Refused, Some(_)) => Err(FailureError::ForOnOtherKind { kind }),
        (Field::Required, None) => Err(FailureError::MissingField { kind, field: "for" }),
        (_, Some(pause)) if pause > MAX_LATENCY => Err(FailureError::PauseTooLong { pause }),
        (_, Some(pause)) => Ok(pause),
        (Field::Optional, None) => Ok(DEFAULT_HANG),
        (_, None) => Ok(Duration::ZERO),
    }
}

impl TryFrom<FailureModeSpec> for FailureMode {
    type Error = FailureError;
    fn try_from(s: FailureModeSpec) -> Result<Self, FailureError> {
        Self::new(s.kind, s.status, s.after, s.pause.map(|d| d.0))
    }
}

impl From<FailureMode> for FailureModeSpec {
    fn from(m: FailureMode) -> Self {
        m.spec()
    }
}

/// One `[[failures]]` entry: a failure and its chance per request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "FailureSpec", into = "FailureSpec")]
pub struct Failure {
    /// What happens.
    pub mode: FailureMode,
    /// Chance per request.
    pub probability: f64,
}

/// `[[failures]]` as written: [`FailureModeSpec`]'s fields and `probability`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureSpec {
    /// See [`FailureKind`].
    pub kind: FailureKind,
    /// Chance per request.
    pub probability: Probability,
    /// For `status` (required) and `stream_error` (default 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// For `stream_error`, `stall`, `early_length` (required) and `unfinished`: token pieces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<u32>,
    /// For `stall` (required) and `hang` (default 60 s).
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub pause: Option<HumanDuration>,
}

impl TryFrom<FailureSpec> for Failure {
    type Error = FailureError;
    fn try_from(s: FailureSpec) -> Result<Self, FailureError> {
        Ok(Self {
            mode: FailureMode::new(s.kind, s.status, s.after, s.pause.map(|d| d.0))?,
            probability: s.probability.0,
        })
    }
}

impl From<Failure> for FailureSpec {
    fn from(f: Failure) -> Self {
        let m = f.mode.spec();
        Self {
            kind: m.kind,
            probability: Probability(f.probability),
            status: m.status,
            after: m.after,
            pause: m.pause,
        }
    }
}

/// The `[[failures]]` list, whose probabilities add up to at most 1.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Failure>", into = "Vec<Failure>")]
pub struct Failures(Vec<Failure>);

impl TryFrom<Vec<Failure>> for Failures {
    type Error = FailureError;
    fn try_from(v: Vec<Failure>) -> Result<Self, FailureError> {
        let total: f64 = v.iter().map(|f| f.probability).sum();
        if total > 1.0 + 1e-9 {
            return Err(FailureError::ProbabilitiesOverOne { total });
        }
        Ok(Self(v))
    }
}

impl From<Failures> for Vec<Failure> {
    fn from(f: Failures) -> Self {
        f.0
    }
}

impl Failures {
    /// The entries in file order.
    pub fn iter(&self) -> std::slice::Iter<'_, Failure> {
        self.0.iter()
    }

    /// Whether there are none, so that a config without failures writes no `[[failures]]`.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(text: &str) -> Result<Failure, toml::de::Error> {
        toml::from_str::<Failure>(&format!("probability = 0.1\n{text}"))
    }

    #[test]
    fn every_kind_has_a_distinct_name_that_reads_back() {
        for k in FailureKind::ALL {
            let written = serde_json::to_string(&k).unwrap();
            assert_eq!(written, format!("\"{}\"", k.as_str()));
            let back: FailureKind = serde_json::from_str(&written).unwrap();
            assert_eq!(back, k);
        }
    }

    #[test]
    fn stream_kinds_take_after_and_stall_takes_for() {
        let f = entry("kind = \"stream_error\"\nafter = 3").unwrap();
        assert_eq!((f.mode.status, f.mode.after), (500, Some(3)));
        let f = entry("kind = \"stream_error\"\nafter = 0\nstatus = 429").unwrap();
        assert_eq!(f.mode.status, 429);
        let f = entry("kind = \"stall\"\nafter = 2\nfor = \"300ms\"").unwrap();
        assert_eq!(f.mode.pause, Duration::from_millis(300));
        assert_eq!(entry("kind = \"unfinished\"").unwrap().mode.after, None);
        let f = entry("kind = \"early_length\"\nafter = 1").unwrap();
        assert_eq!(f.mode.after, Some(1));
        assert_eq!(entry("kind = \"hang\"").unwrap().mode.pause, DEFAULT_HANG);
    }

    #[test]
    fn misplaced_missing_and_outlying_fields_are_refused() {
        for (text, want) in [
            ("kind = \"stall\"\nafter = 1", "kind \"stall\" needs `for`"),
            (
                "kind = \"stall\"\nfor = \"1s\"",
                "kind \"stall\" needs `after`",
            ),
            ("kind = \"stream_error\"", "needs `after`"),
            ("kind = \"reset\"\nafter = 1", "`after` only goes with"),
            (
                "kind = \"unfinished\"\nfor = \"1s\"",
                "`for` only goes with",
            ),
            (
                "kind = \"stall\"\nafter = 1\nstatus = 500",
                "`status` only goes",
            ),
            (
                "kind = \"stream_error\"\nafter = 1\nstatus = 404",
                "status 404",
            ),
            (
                "kind = \"early_length\"\nafter = 0",
                "after = 0 is outside 1..=8192",
            ),
            (
                "kind = \"stall\"\nafter = 9000\nfor = \"1s\"",
                "outside 0..=8192",
            ),
            (
                "kind = \"stall\"\nafter = 1\nfor = \"2d\"",
                "longer than 1 day",
            ),
            ("kind = \"status\"", "needs `status`"),
        ] {
            let e = entry(text).unwrap_err();
            assert!(e.message().contains(want), "{text}: {e}");
            let file = format!("seed = 1\n\n[[failures]]\nprobability = 0.1\n{text}\n");
            let e = crate::faults::load::parse_toml(&file, "f.toml")
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("f.toml:3:1: "), "{text}: {e}");
        }
    }

    #[test]
    fn entries_write_back_what_was_read() {
        for text in [
            "kind = \"stall\"\nafter = 2\nfor = \"300ms\"",
            "kind = \"stream_error\"\nafter = 4\nstatus = 503",
            "kind = \"unfinished\"",
            "kind = \"unfinished\"\nafter = 5",
            "kind = \"early_length\"\nafter = 7",
            "kind = \"status\"\nstatus = 502",
        ] {
            let f = entry(text).unwrap();
            let again: Failure = toml::from_str(&toml::to_string(&f).unwrap()).unwrap();
            assert_eq!(again, f, "{text}");
        }
    }
}
