//! One line of a trace: when a request was sent and what it asked for. Every field but the
//! time is optional; what a line leaves out comes from `[workload]` (its model, `max_tokens`,
//! `stream_share`) or the prompt pool.

use serde::{Deserialize, Serialize};

use crate::client::{Priority, Route};

/// Most prompt tokens a line may ask to be made up (`prompt_tokens` without `prompt`): four
/// characters a token, so at most 512 KiB of text a request.
pub const MAX_PROMPT_TOKENS: u32 = 128 * 1024;

/// A request as a trace line has it, and as `requests.jsonl` writes it.
///
/// ```json
/// {"offset": 0.25, "session": "s-3", "user": "u7", "route": "chat", "prompt_tokens": 120, "max_tokens": 64, "stream": true}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceRecord {
    /// Seconds from the first request (the first line is usually 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<f64>,
    /// When it was sent: RFC 3339 (`"2026-05-01T12:00:00.250Z"`) or unix seconds (`1777636800.25`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Stamp>,
    /// Dialogue session: lines of one session share its history (the context layer), and
    /// sampling keeps or drops a session whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// End user, sent as the request's `user`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Tenant: the API key the request is sent with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Model asked for; absent, `[workload] model_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// `chat`, `responses` or `embeddings`, as `[workload.mix]` names them; absent, chat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// The user message sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// Without `prompt`: a made-up prompt of this many tokens (as the mock counts them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<u32>,
    /// `max_tokens` sent; absent, `[workload] max_tokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Whether it streams; absent, drawn with `[workload] stream_share`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// `interactive` or `batch`; absent, interactive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
}

/// A `timestamp`: unix seconds or RFC 3339 text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Stamp {
    /// Seconds since the Unix epoch.
    Unix(f64),
    /// RFC 3339, with a `Z` or an offset.
    Text(String),
}

impl TraceRecord {
    /// The route named, checked against [`Route::ALL`].
    pub fn route(&self) -> Result<Route, String> {
        match &self.route {
            None => Ok(Route::Chat),
            Some(name) => Route::ALL
                .into_iter()
                .find(|r| r.as_str() == name)
                .ok_or_else(|| {
                    let known: Vec<&str> = Route::ALL.iter().map(|r| r.as_str()).collect();
                    format!(
                        "route: unknown route {name:?}; known routes are {}",
                        known.join(", ")
                    )
                }),
        }
    }

    /// What a line must hold beyond its syntax: a route that exists, a prompt size in bounds,
    /// one time and not two.
    pub fn check(&self) -> Result<(), String> {
        self.route()?;
        if self.prompt_tokens.is_some_and(|n| n > MAX_PROMPT_TOKENS) {
            return Err(format!("prompt_tokens: at most {MAX_PROMPT_TOKENS}"));
        }
        match (&self.offset, &self.timestamp) {
            (Some(_), Some(_)) => Err("give `offset` or `timestamp`, not both".into()),
            (None, None) => Err("needs `offset` (seconds from the first request) or `timestamp` (RFC 3339 or unix seconds)".into()),
            (Some(o), None) if !(o.is_finite() && *o >= 0.0) => {
                Err("offset: a number of seconds, 0 or more".into())
            }
            _ => Ok(()),
        }
    }

    /// Its time in seconds: the offset, or the timestamp as unix seconds.
    pub fn seconds(&self) -> Result<f64, String> {
        match (&self.offset, &self.timestamp) {
            (Some(o), _) => Ok(*o),
            (None, Some(Stamp::Unix(s))) if s.is_finite() && *s >= 0.0 => Ok(*s),
            (None, Some(Stamp::Unix(_))) => Err("timestamp: unix seconds, 0 or more".into()),
            (None, Some(Stamp::Text(t))) => super::time::parse_rfc3339(t).ok_or_else(|| {
                format!("timestamp: {t:?} is not RFC 3339 (like \"2026-05-01T12:00:00.250Z\")")
            }),
            (None, None) => Err("needs `offset` or `timestamp`".into()),
        }
    }

    /// Whether the time is absolute (a timestamp), so the first line's time is subtracted.
    pub fn is_absolute(&self) -> bool {
        self.offset.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_record_reads_back_the_same() {
        let r = TraceRecord {
            offset: Some(1.5),
            session: Some("s-1".into()),
            route: Some("responses".into()),
            prompt_tokens: Some(12),
            stream: Some(true),
            priority: Some(Priority::Batch),
            ..TraceRecord::default()
        };
        let line = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<TraceRecord>(&line).unwrap(), r);
        assert!(!line.contains("prompt\""), "{line}");
    }

    #[test]
    fn checks_say_what_is_wrong() {
        let bad = |json: &str| {
            serde_json::from_str::<TraceRecord>(json)
                .unwrap()
                .check()
                .unwrap_err()
        };
        assert!(bad(r#"{"offset": 1, "route": "images"}"#).contains("chat, responses, embeddings"));
        assert!(bad(r#"{}"#).contains("offset"));
        assert!(bad(r#"{"offset": 1, "timestamp": 2}"#).contains("not both"));
        assert!(bad(r#"{"offset": -1}"#).contains("0 or more"));
        assert!(bad(r#"{"offset": 0, "prompt_tokens": 999999999}"#).contains("at most"));
        let r: TraceRecord =
            serde_json::from_str(r#"{"timestamp": "2026-05-01T12:00:00.5Z"}"#).unwrap();
        assert_eq!(r.seconds().unwrap(), 1_777_636_800.5);
        let r: TraceRecord = serde_json::from_str(r#"{"timestamp": "yesterday"}"#).unwrap();
        assert!(r.seconds().unwrap_err().contains("RFC 3339"));
    }
}
