//! Reading a streamed Responses answer: typed events (`event: <type>` / `data: {..., "type":
//! <type>}`), ended by `response.completed` or `response.incomplete` (an answer),
//! `response.failed` or `error` (an error). There is no `[DONE]`: a stream that stops before a
//! terminal event was cut off.
//!
//! Only the events the stack uses are read whole: text and argument deltas (time to first
//! token), and the terminal events (usage, tool calls, the finish). Every other event
//! (`response.created`, `response.output_item.added`, and kinds added to the API later) is
//! skipped after its `type` is read, as the SDKs' stream readers skip kinds they do not know.

use std::borrow::Cow;

use gauntlet_wire::openai::responses::ResponseStreamEvent;
use serde::Deserialize;

use super::responses::finished;
use super::sse::find_event_end;
use crate::error::{ClientError, StreamErrorEvent};
use crate::request::ChatResponse;

/// The event kinds read whole; the names are the API's `type` values.
const READ: [&str; 6] = [
    "response.output_text.delta",
    "response.function_call_arguments.delta",
    "response.completed",
    "response.incomplete",
    "response.failed",
    "error",
];

/// An event's `type`, read before the event itself.
#[derive(Deserialize)]
struct Kind<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
}

/// Accumulates a streamed Responses answer from raw bytes, in whatever pieces they arrive. The
/// caller bounds the bytes fed (the adapter's `max_response_bytes`), which bounds the buffer.
#[derive(Debug, Default)]
pub(super) struct ResponsesStream {
    buf: Vec<u8>,
    /// Where the search for the next blank line in `buf` resumes.
    scanned: usize,
    /// The text deltas so far.
    text: String,
    /// What the terminal event said, once it came.
    end: Option<Result<ChatResponse, ClientError>>,
    /// Events that carried output: after the first, a failure is a broken stream.
    pub(super) content_chunks: u32,
}

impl ResponsesStream {
    /// Feeds bytes; returns whether output (text or call arguments) arrived in them, for time to
    /// first token. Linear in the bytes however they are split, as the chat reader is.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<bool, ClientError> {
        self.buf.extend_from_slice(bytes);
        let buf = std::mem::take(&mut self.buf);
        let mut got = false;
        let mut start = 0;
        let mut from = self.scanned;
        let mut result = Ok(());
        while let Some((end, sep)) = find_event_end(&buf[start..], from) {
            match self.event(&buf[start..start + end]) {
                Ok(g) => got |= g,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
            start += end + sep;
            from = 0;
        }
        let mut buf = buf;
        buf.drain(..start);
        self.scanned = buf.len().saturating_sub(3);
        self.buf = buf;
        result.map(|()| got)
    }

    /// The answer once the stream has ended: the terminal event's, or a reset when none came.
    pub fn finish(self) -> Result<ChatResponse, ClientError> {
        match self.end {
            Some(Ok(mut answer)) => {
                // What was streamed is the answer's text (the terminal response repeats it).
                if !self.text.is_empty() {
                    answer.text = self.text;
                }
                Ok(answer)
            }
            Some(Err(e)) => Err(e),
            // Cut inside an event, or a clean end without the terminal one.
            None if self.buf.iter().any(|b| !b.is_ascii_whitespace()) => Err(ClientError::Reset(
                "stream ended inside an event, before response.completed".into(),
            )),
            None => Err(ClientError::StreamUnfinished),
        }
    }

    /// One event: its `data:` lines joined (the SSE rule), read if it is a kind the stack uses.
    fn event(&mut self, event: &[u8]) -> Result<bool, ClientError> {
        let event = std::str::from_utf8(event)
            .map_err(|_| ClientError::Malformed("stream event is not UTF-8".into()))?;
        let mut data = String::new();
        for line in event.lines() {
            if let Some(d) = line.strip_prefix("data:") {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(d.strip_prefix(' ').unwrap_or(d));
            }
        }
        if data.is_empty() {
            return Ok(false); // comments, keep-alives, `event:` alone
        }
        let kind: Kind<'_> = serde_json::from_str(&data)
            .map_err(|e| ClientError::Malformed(format!("bad stream event: {e}")))?;
        if !READ.contains(&kind.kind.as_ref()) {
            return Ok(false);
        }
        // The API follows `response.failed` with an `error` event: that one says nothing new.
        let failed = matches!(self.end, Some(Err(ClientError::StreamError(_))));
        if failed && kind.kind == "error" {
            return Ok(false);
        }
        if self.end.is_some() {
            return Err(ClientError::Malformed(format!(
                "{} after the response ended",
                kind.kind
            )));
        }
        let event: ResponseStreamEvent = serde_json::from_str(&data)
            .map_err(|e| ClientError::Malformed(format!("bad {} event: {e}", kind.kind)))?;
        let got = self.read(event);
        if got {
            self.content_chunks = self.content_chunks.saturating_add(1);
        }
        Ok(got)
    }

    /// Takes in a parsed event; returns whether it carried output.
    fn read(&mut self, event: ResponseStreamEvent) -> bool {
        match event {
            ResponseStreamEvent::OutputTextDelta { delta, .. } => {
                self.text.push_str(&delta);
                !delta.is_empty()
            }
            ResponseStreamEvent::FunctionCallArgumentsDelta { delta, .. } => !delta.is_empty(),
            ResponseStreamEvent::Completed { response, .. }
            | ResponseStreamEvent::Incomplete { response, .. } => {
                self.end = Some(finished(&response));
                false
            }
            // A failure inside the stream is the provider's error event, classified as the
            // chat reader classifies `data: {"error": ...}` (retried as its type and code say).
            ResponseStreamEvent::Failed { response, .. } => {
                let (code, message) = response.error.as_ref().map_or(("server_error", ""), |e| {
                    (e.code.as_str(), e.message.as_str())
                });
                let event = StreamErrorEvent::new(code, Some(code), message);
                self.end = Some(Err(ClientError::StreamError(event)));
                false
            }
            ResponseStreamEvent::Error(e) => {
                let body = e.error.as_ref();
                let code = e
                    .code
                    .as_deref()
                    .or_else(|| body.and_then(|b| b.code.as_deref()));
                let kind = body.map_or(code.unwrap_or("server_error"), |b| b.kind.as_str());
                let event = StreamErrorEvent::new(kind, code, &e.message);
                self.end = Some(Err(ClientError::StreamError(event)));
                false
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gauntlet_wire::openai::Usage;

    fn response(status: &str, output: &str, extra: &str) -> String {
        format!(
            r#"{{"id":"resp_1","object":"response","created_at":1,"status":"{status}","error":null,"incomplete_details":null,"instructions":null,"max_output_tokens":null,"metadata":{{}},"model":"m","output":{output},"parallel_tool_calls":true,"previous_response_id":null,"store":false,"temperature":1.0,"text":{{"format":{{"type":"text"}}}},"tool_choice":"auto","tools":[],"top_p":1.0,"truncation":"disabled","usage":{{"input_tokens":9,"input_tokens_details":{{"cached_tokens":0}},"output_tokens":2,"output_tokens_details":{{"reasoning_tokens":0}},"total_tokens":11}}{extra}}}"#
        )
    }

    fn event(kind: &str, data: &str) -> String {
        format!("event: {kind}\ndata: {data}\n\n")
    }

    fn text_stream() -> String {
        let message = r#"[{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hello","annotations":[]}]}]"#;
        [
            event("response.created", &format!(r#"{{"type":"response.created","sequence_number":0,"response":{}}}"#, response("in_progress", "[]", ""))),
            event("response.output_item.added", r#"{"type":"response.output_item.added","sequence_number":1,"output_index":0,"item":{"type":"message","id":"msg_1","status":"in_progress","role":"assistant","content":[]}}"#),
            ": keep-alive\n\n".to_string(),
            event("response.output_text.delta", r#"{"type":"response.output_text.delta","sequence_number":2,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hel","logprobs":[]}"#),
            event("response.output_text.delta", r#"{"type":"response.output_text.delta","sequence_number":3,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"lo","logprobs":[]}"#),
            event("response.reasoning_summary.delta", r#"{"type":"response.reasoning_summary.delta","sequence_number":4,"anything":1}"#),
            event("response.completed", &format!(r#"{{"type":"response.completed","sequence_number":5,"response":{}}}"#, response("completed", message, ""))),
        ]
        .concat()
    }

    #[test]
    fn a_text_stream_is_read_however_it_is_split() {
        let stream = text_stream();
        for split in [1, 5, 64, stream.len()] {
            let mut r = ResponsesStream::default();
            let mut first_output = None;
            for (i, piece) in stream.as_bytes().chunks(split).enumerate() {
                if r.feed(piece).unwrap() && first_output.is_none() {
                    first_output = Some(i);
                }
            }
            // Output first arrived in the piece that completed the first delta's event.
            let delta_at = stream.find("\"delta\":\"Hel\"").unwrap();
            let event_end = delta_at + stream[delta_at..].find("\n\n").unwrap() + 2;
            assert_eq!(first_output, Some((event_end - 1) / split), "{split}");
            let answer = r.finish().unwrap();
            assert_eq!(answer.text, "Hello");
            assert_eq!(answer.finish_reason.as_deref(), Some("stop"));
            assert_eq!(
                answer.usage,
                Some(Usage {
                    prompt_tokens: 9,
                    completion_tokens: 2,
                    total_tokens: 11
                })
            );
        }
    }

    #[test]
    fn a_tool_call_stream_gives_the_call() {
        let call = r#"[{"type":"function_call","id":"fc_1","call_id":"call_1","name":"get_weather","arguments":"{\"city\":\"Oslo\"}","status":"completed"}]"#;
        let stream = [
            event("response.function_call_arguments.delta", r#"{"type":"response.function_call_arguments.delta","sequence_number":1,"item_id":"fc_1","output_index":0,"delta":"{\"city\":"}"#),
            event("response.completed", &format!(r#"{{"type":"response.completed","sequence_number":2,"response":{}}}"#, response("completed", call, ""))),
        ]
        .concat();
        let mut r = ResponsesStream::default();
        assert!(r.feed(stream.as_bytes()).unwrap());
        let answer = r.finish().unwrap();
        assert_eq!(answer.finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(answer.tool_calls[0].arguments, "{\"city\":\"Oslo\"}");
    }

    #[test]
    fn failures_and_cut_offs_are_errors() {
        let failed = event(
            "response.failed",
            &format!(
                r#"{{"type":"response.failed","sequence_number":3,"response":{}}}"#,
                response("failed", "[]", "").replace(
                    r#""error":null"#,
                    r#""error":{"code":"server_error","message":"the model broke"}"#
                )
            ),
        );
        // The API follows `response.failed` with an `error` event; the pair is one failure.
        let and_error = event(
            "error",
            r#"{"type":"error","sequence_number":4,"code":"server_error","message":"the model broke","param":null}"#,
        );
        let mut r = ResponsesStream::default();
        r.feed(failed.as_bytes()).unwrap();
        r.feed(and_error.as_bytes()).unwrap();
        let want = StreamErrorEvent::new("server_error", Some("server_error"), "the model broke");
        assert_eq!(r.finish().unwrap_err(), ClientError::StreamError(want));

        let error = event(
            "error",
            r#"{"type":"error","sequence_number":2,"code":"rate_limit_exceeded","message":"slow down","param":null}"#,
        );
        let mut r = ResponsesStream::default();
        r.feed(error.as_bytes()).unwrap();
        let e = r.finish().unwrap_err();
        assert_eq!(e.kind(), "stream_error");
        assert!(
            e.is_retryable(),
            "a rate limit in the stream is worth another attempt"
        );

        // Ended cleanly after the deltas, with no terminal event; and cut inside an event.
        let stream = text_stream();
        let at = stream.find("event: response.completed").unwrap();
        let mut r = ResponsesStream::default();
        assert!(r.feed(&stream.as_bytes()[..at]).unwrap());
        assert_eq!(r.finish().unwrap_err().kind(), "stream_unfinished");
        let mut r = ResponsesStream::default();
        assert!(r.feed(&stream.as_bytes()[..at + 10]).unwrap());
        assert_eq!(r.finish().unwrap_err().kind(), "reset");
    }

    #[test]
    fn garbage_is_malformed_never_a_panic() {
        for bad in [
            "data: {not json\n\n".to_string(),
            "data: \u{0}\n\n".to_string(),
            "data: {\"type\":\"response.output_text.delta\",\"delta\":5}\n\n".to_string(),
            format!(
                "{}{}",
                text_stream(),
                event(
                    "response.output_text.delta",
                    r#"{"type":"response.output_text.delta","sequence_number":9,"item_id":"m","output_index":0,"content_index":0,"delta":"late"}"#
                )
            ),
        ] {
            let mut r = ResponsesStream::default();
            let e = r.feed(bad.as_bytes()).unwrap_err();
            assert_eq!(e.kind(), "malformed", "{bad:.60}");
        }
        let mut r = ResponsesStream::default();
        assert_eq!(
            r.feed(b"data: \xff\xfe\n\n").unwrap_err().kind(),
            "malformed"
        );
    }
}
