//! The proxy's access log: one JSON object per request per line, for log pipelines that parse
//! JSON lines. What a request carried stays out of it unless the operator asks (`prompt`), and the
//! upstream key has no field at all, so no configuration can log it.

use std::io::{self, Write};
use std::time::Duration;

use serde::Serialize;

/// What one finished request logs. Borrowed, so writing a line allocates only the line.
#[derive(Debug, Clone, Copy)]
pub struct AccessLine<'a> {
    /// The `x-request-id` the caller got, to find this line from a caller's report.
    pub request_id: &'a str,
    /// The route path served (`/v1/chat/completions`...).
    pub route: &'a str,
    /// Who the caller is for fair share (the `user` field or the configured header) — never an
    /// API key.
    pub caller: Option<&'a str>,
    /// The status sent.
    pub status: u16,
    /// The stack's outcome name or the error kind, as `ProxyMetrics::request_done` counts it.
    pub outcome: &'a str,
    /// Upstream attempts it took (0 when a local layer answered).
    pub attempts: u32,
    /// Arrival to answer.
    pub latency: Duration,
    /// Whether the answer was streamed.
    pub stream: bool,
    /// The prompt text, only when the operator turned prompt logging on; `None` writes no key.
    pub prompt: Option<&'a str>,
}

/// The line as written: `latency` as a number of milliseconds (fractional, to the microsecond).
#[derive(Serialize)]
struct Wire<'a> {
    request_id: &'a str,
    route: &'a str,
    caller: Option<&'a str>,
    status: u16,
    outcome: &'a str,
    attempts: u32,
    latency_ms: f64,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt: Option<&'a str>,
}

/// Writes `line` as one JSON object and a newline, in one `write_all`, so lines from concurrent
/// requests sharing a locked writer never interleave. serde_json escapes every string, so a
/// newline or quote in a caller's value cannot forge a second line.
pub fn write_line(out: &mut dyn Write, line: &AccessLine<'_>) -> io::Result<()> {
    let wire = Wire {
        request_id: line.request_id,
        route: line.route,
        caller: line.caller,
        status: line.status,
        outcome: line.outcome,
        attempts: line.attempts,
        latency_ms: line.latency.as_micros() as f64 / 1000.0,
        stream: line.stream,
        prompt: line.prompt,
    };
    let mut buf = serde_json::to_vec(&wire)?;
    buf.push(b'\n');
    out.write_all(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn line(prompt: Option<&str>) -> AccessLine<'_> {
        AccessLine {
            request_id: "req-1",
            route: "/v1/chat/completions",
            caller: Some("alice\n{\"forged\":true}"),
            status: 200,
            outcome: "cache_hit",
            attempts: 2,
            latency: Duration::from_micros(12_345),
            stream: true,
            prompt,
        }
    }

    fn written(l: &AccessLine<'_>) -> String {
        let mut out = Vec::new();
        write_line(&mut out, l).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_line_round_trips_with_every_field_and_no_prompt() {
        let text = written(&line(None));
        assert_eq!(text.matches('\n').count(), 1, "one line: {text}");
        assert!(text.ends_with('\n'));
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["request_id"], "req-1");
        assert_eq!(v["route"], "/v1/chat/completions");
        assert_eq!(v["caller"], "alice\n{\"forged\":true}");
        assert_eq!(v["status"], 200);
        assert_eq!(v["outcome"], "cache_hit");
        assert_eq!(v["attempts"], 2);
        assert_eq!(v["latency_ms"].as_f64(), Some(12.345));
        assert_eq!(v["stream"], true);
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 8, "{keys:?}");
        assert!(!keys.contains(&"prompt"));
        assert!(!text.contains("prompt"));
    }

    #[test]
    fn the_prompt_is_logged_only_when_given() {
        let secret = "tell me \"everything\"\n";
        let v: Value = serde_json::from_str(&written(&line(Some(secret)))).unwrap();
        assert_eq!(v["prompt"], secret);
    }

    #[test]
    fn an_anonymous_caller_is_null() {
        let mut l = line(None);
        l.caller = None;
        let v: Value = serde_json::from_str(&written(&l)).unwrap();
        assert!(v["caller"].is_null());
        assert!(v.as_object().unwrap().contains_key("caller"));
    }

    #[test]
    fn consecutive_lines_parse_one_by_one() {
        let mut out = Vec::new();
        write_line(&mut out, &line(None)).unwrap();
        write_line(&mut out, &line(Some("p"))).unwrap();
        let text = String::from_utf8(out).unwrap();
        let parsed: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(parsed.len(), 2);
        assert!(parsed[0].get("prompt").is_none());
        assert_eq!(parsed[1]["prompt"], "p");
    }
}
