//! Reading an OpenAI `text/event-stream` answer: `data: {chunk}` events, then `data: [DONE]`;
//! and telling apart the ways a stream can end short of it.
//!
//! Before any content, a stream that fails is one more failed attempt: the upstream's error
//! event is a [`ClientError::StreamError`], a clean end without `[DONE]` a
//! [`ClientError::StreamUnfinished`], an end inside an event a [`ClientError::Reset`] (the
//! answer was cut, as when the connection breaks). After the first content chunk any of these
//! is a [`ClientError::StreamBroken`] carrying how many chunks came: see
//! [`SseReader::broken`].

use gauntlet_wire::openai::{ChatCompletionChunk, ErrorEnvelope, Usage};

use super::tool_call_stream::{ToolCallAssembler, ToolCallStreamError};
use crate::error::{ClientError, StreamErrorEvent};

/// Why a streamed answer cannot be read: an event that is not a chunk, or the upstream's error
/// object in the stream ([`SseError::into_client_error`] tells which).
#[derive(Debug, thiserror::Error)]
pub enum SseError {
    /// The upstream sent its error object (`data: {"error": {...}}`) instead of a chunk.
    #[error("error event in the stream: {0}")]
    Upstream(StreamErrorEvent),
    /// An event (the bytes up to a blank line) is not UTF-8, so none of its lines can be read.
    #[error("stream event is not UTF-8")]
    NotUtf8(#[source] std::str::Utf8Error),
    /// A `data:` line came after `data: [DONE]`, which ends the stream.
    #[error("data after [DONE]")]
    DataAfterDone,
    /// A `data:` line is not a `chat.completion.chunk`.
    #[error("bad stream chunk: {0}")]
    BadChunk(#[source] serde_json::Error),
    /// The `delta.tool_calls` fragments go past a cap (see [`super::tool_call_stream`]).
    #[error("bad tool call stream: {0}")]
    ToolCalls(#[from] ToolCallStreamError),
}

/// Accumulates a streamed answer from raw bytes, in whatever pieces they arrive.
#[derive(Debug, Default)]
pub struct SseReader {
    buf: Vec<u8>,
    /// Where the search for the next blank line in `buf` resumes.
    scanned: usize,
    /// The text so far.
    pub text: String,
    /// The finish reason, once sent.
    pub finish_reason: Option<String>,
    /// The usage chunk, if asked for.
    pub usage: Option<Usage>,
    /// Whether `[DONE]` arrived.
    pub done: bool,
    /// Chunks that carried content: how far the answer got when a stream breaks.
    pub content_chunks: u32,
    /// The first choice's tool calls, from their fragments (the first choice is the answer,
    /// as for an unstreamed one).
    pub tool_calls: ToolCallAssembler,
}

impl SseError {
    /// The error classification: the upstream's error event is a stream error, retried as its
    /// type says; anything else that cannot be read is malformed.
    pub fn into_client_error(self) -> ClientError {
        match self {
            SseError::Upstream(e) => ClientError::StreamError(e),
            other => ClientError::Malformed(other.to_string()),
        }
    }
}

impl SseReader {
    /// Feeds bytes; returns whether content arrived in them (for time to first token).
    ///
    /// Linear in the bytes fed however they are split: the search for a blank line resumes
    /// where the last one stopped, and the events read are dropped from the buffer at once at
    /// the end (dropping each in turn moved the rest of a large frame once per event). The
    /// buffer itself is bounded by the caller (the adapter's `max_response_bytes`).
    pub fn feed(&mut self, bytes: &[u8]) -> Result<bool, SseError> {
        self.buf.extend_from_slice(bytes);
        let mut buf = std::mem::take(&mut self.buf);
        let read = self.events(&buf);
        let consumed = read.as_ref().map_or(0, |r| r.1);
        buf.drain(..consumed);
        self.scanned = buf.len().saturating_sub(3);
        self.buf = buf;
        read.map(|r| r.0)
    }

    /// Reads every complete event in `buf`: whether content came, and the bytes they took.
    fn events(&mut self, buf: &[u8]) -> Result<(bool, usize), SseError> {
        let mut got_content = false;
        let mut start = 0;
        let mut from = self.scanned;
        while let Some((end, sep)) = find_event_end(&buf[start..], from) {
            let event = &buf[start..start + end];
            let event = std::str::from_utf8(event).map_err(SseError::NotUtf8)?;
            got_content |= self.event(event)?;
            start += end + sep;
            from = 0;
        }
        Ok((got_content, start))
    }

    fn event(&mut self, event: &str) -> Result<bool, SseError> {
        let mut got_content = false;
        for line in event.lines() {
            let Some(data) = line.strip_prefix("data:") else {
                continue; // comments, `event:`, `id:` lines
            };
            let data = data.trim();
            if data == "[DONE]" {
                self.done = true;
                continue;
            }
            if self.done {
                return Err(SseError::DataAfterDone);
            }
            let chunk: ChatCompletionChunk = match serde_json::from_str(data) {
                Ok(c) => c,
                Err(e) => return Err(upstream_error(data).unwrap_or(SseError::BadChunk(e))),
            };
            if let Some(u) = chunk.usage {
                self.usage = Some(u);
            }
            for choice in chunk.choices {
                if let Some(c) = choice.delta.content {
                    if !c.is_empty() {
                        got_content = true;
                        self.content_chunks = self.content_chunks.saturating_add(1);
                        self.text.push_str(&c);
                    }
                }
                if choice.index == 0 {
                    for d in choice.delta.tool_calls.into_iter().flatten() {
                        self.tool_calls.push(d)?;
                        // A call's fragment is output, as Responses' argument deltas are.
                        got_content = true;
                        self.content_chunks = self.content_chunks.saturating_add(1);
                    }
                }
                if choice.finish_reason.is_some() {
                    self.finish_reason = choice.finish_reason;
                }
            }
        }
        Ok(got_content)
    }
}

impl SseReader {
    /// `error` as this stream ends with it: a [`ClientError::StreamBroken`] once content came
    /// (the caller may have shown it, so the request must not silently start over), itself
    /// before.
    pub fn broken(&self, error: ClientError) -> ClientError {
        error.after_tokens(self.content_chunks)
    }

    /// How the stream ended when its body ended: fine after `[DONE]`; otherwise cut inside an
    /// event (bytes of an unfinished event are left: a [`ClientError::Reset`]) or ended cleanly
    /// between events without its final one ([`ClientError::StreamUnfinished`]), each
    /// [`broken`](Self::broken) after content.
    pub fn finish(&self) -> Result<(), ClientError> {
        if self.done {
            return Ok(());
        }
        let partial = self.buf.iter().any(|b| !b.is_ascii_whitespace());
        let error = if partial {
            ClientError::Reset("stream ended inside an event, before [DONE]".into())
        } else {
            ClientError::StreamUnfinished
        };
        Err(self.broken(error))
    }
}

/// The upstream's error object, when `data` is one (`{"error": {"type": ..., ...}}`).
fn upstream_error(data: &str) -> Option<SseError> {
    let envelope: ErrorEnvelope = serde_json::from_str(data).ok()?;
    let e = envelope.error;
    Some(SseError::Upstream(StreamErrorEvent::new(
        &e.kind,
        e.code.as_deref(),
        &e.message,
    )))
}

/// Position and separator length of the first blank line (`\n\n` or `\r\n\r\n`) at or after
/// `from` (where an earlier search left off), in one pass over the bytes.
pub(super) fn find_event_end(buf: &[u8], from: usize) -> Option<(usize, usize)> {
    let from = from.min(buf.len());
    buf[from..].iter().enumerate().find_map(|(offset, b)| {
        let i = from + offset;
        if *b != b'\n' {
            return None;
        }
        if buf.get(i + 1) == Some(&b'\n') {
            return Some((i, 2));
        }
        let crlf = i >= 1 && buf[i - 1] == b'\r' && buf.get(i + 1..i + 3) == Some(&b"\r\n"[..]);
        crlf.then(|| (i - 1, 4))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_chunks_split_anywhere() {
        let stream = concat!(
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n",
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n",
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\n",
            "data: [DONE]\n\n"
        );
        for split in [1, 7, 50, stream.len()] {
            let mut r = SseReader::default();
            let mut first_content = None;
            for (i, piece) in stream.as_bytes().chunks(split).enumerate() {
                if r.feed(piece).unwrap() && first_content.is_none() {
                    first_content = Some(i);
                }
            }
            assert_eq!(r.text, "Hello");
            assert_eq!(r.finish_reason.as_deref(), Some("stop"));
            assert!(r.done);
            assert!(first_content.is_some());
        }
    }

    #[test]
    fn broken_chunk_is_an_error() {
        let mut r = SseReader::default();
        let err = r.feed(b"data: {\"id\": oops\n\n").unwrap_err();
        assert!(matches!(err, SseError::BadChunk(_)), "{err:?}");
        assert!(err.to_string().starts_with("bad stream chunk: "), "{err}");
    }

    #[test]
    fn blank_lines_of_either_kind_end_events() {
        assert_eq!(find_event_end(b"a\n\nb", 0), Some((1, 2)));
        assert_eq!(find_event_end(b"a\r\n\r\nb", 0), Some((1, 4)));
        assert_eq!(find_event_end(b"a\r\n\nb", 0), Some((2, 2)));
        assert_eq!(find_event_end(b"a\r\n\r", 0), None);
        assert_eq!(find_event_end(b"a\n", 7), None);
        let mut r = SseReader::default();
        for piece in [&b"data: [DO"[..], b"NE]\r", b"\n", b"\r", b"\n"] {
            r.feed(piece).unwrap();
        }
        assert!(r.done);
    }

    #[test]
    fn garbage_lines_are_skipped_and_garbage_data_is_an_error() {
        let mut r = SseReader::default();
        assert!(!r
            .feed(b"\x00\x01 nonsense\n: comment\nretry: x\n\n")
            .unwrap_or(true));
        assert!(!r.done);
        let err = r.feed(b"data: \xff\xfe\n\n").unwrap_err();
        assert!(matches!(err, SseError::NotUtf8(_)), "{err:?}");
        let mut r = SseReader::default();
        let err = r.feed(b"data: [1, 2, 3]\n\n").unwrap_err();
        assert!(matches!(err, SseError::BadChunk(_)), "{err:?}");
        let mut r = SseReader::default();
        let err = r.feed(b"data: [DONE]\n\ndata: {}\n\n").unwrap_err();
        assert!(matches!(err, SseError::DataAfterDone), "{err:?}");
    }

    const PIECE: &str = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"abcd\"},\"finish_reason\":null}]}\n\n";

    #[test]
    fn the_upstreams_error_event_is_read_as_what_it_says() {
        let mut r = SseReader::default();
        r.feed(PIECE.as_bytes()).unwrap();
        let event = "data: {\"error\":{\"message\":\"The server is overloaded or not ready yet.\",\
                     \"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n";
        let err = r.feed(event.as_bytes()).unwrap_err();
        let SseError::Upstream(e) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(
            (e.error_type.as_str(), e.code.as_deref()),
            ("server_error", None)
        );
        assert_eq!(r.content_chunks, 1);
        let broken = r.broken(err.into_client_error());
        let ClientError::StreamBroken { cause, tokens } = &broken else {
            panic!("{broken:?}")
        };
        assert_eq!(*tokens, 1);
        assert!(cause.is_retryable() && !broken.is_retryable());

        let mut r = SseReader::default();
        let quota = b"data: {\"error\":{\"message\":\"spent\",\"type\":\"insufficient_quota\",\"code\":\"insufficient_quota\"}}\n\n";
        let err = r.feed(quota).unwrap_err().into_client_error();
        assert_eq!(err.kind(), "stream_error");
        assert!(!err.is_retryable());
        assert_eq!(r.broken(err.clone()), err, "no content came: not broken");
        // An object that is neither a chunk nor an error envelope is malformed.
        let err = SseReader::default()
            .feed(b"data: {\"error\": 5}\n\n")
            .unwrap_err();
        assert_eq!(err.into_client_error().kind(), "malformed");
    }

    #[test]
    fn a_stream_ends_done_unfinished_or_cut() {
        let mut r = SseReader::default();
        r.feed(b": keep-alive\n\n").unwrap();
        assert_eq!(r.finish(), Err(ClientError::StreamUnfinished));
        r.feed(b"data: [DONE]\n\n").unwrap();
        assert_eq!(r.finish(), Ok(()));

        let mut r = SseReader::default();
        r.feed(PIECE.repeat(3).as_bytes()).unwrap();
        let err = r.finish().unwrap_err();
        assert_eq!(
            err,
            ClientError::StreamBroken {
                cause: Box::new(ClientError::StreamUnfinished),
                tokens: 3
            }
        );
        // Bytes of an event that never ended: the answer was cut, not closed.
        r.feed(&PIECE.as_bytes()[..40]).unwrap();
        let err = r.finish().unwrap_err();
        let ClientError::StreamBroken { cause, tokens: 3 } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(cause.kind(), "reset");
        // Whitespace left over is not an event.
        let mut r = SseReader::default();
        r.feed(b"\r\n").unwrap();
        assert_eq!(r.finish(), Err(ClientError::StreamUnfinished));
    }

    /// Many events in one frame, and one huge event in many frames: both read in linear time
    /// (both were quadratic when every event moved the rest of the buffer and searched all of it
    /// for `\r\n\r\n`, and every frame searched the whole buffer again).
    #[test]
    fn large_streams_are_read_in_one_pass() {
        let event = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"},\"finish_reason\":null}]}\n\n";
        let mut r = SseReader::default();
        r.feed(event.repeat(50_000).as_bytes()).unwrap();
        assert_eq!(r.text.len(), 50_000);
        let mut r = SseReader::default();
        let piece = vec![b'x'; 1024];
        for _ in 0..8 * 1024 {
            assert!(!r.feed(&piece).unwrap());
        }
        assert_eq!(r.buf.len(), 8 * 1024 * 1024);
    }

    fn tool_chunk(choice: u32, tool: &str, finish: &str) -> String {
        format!("data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{{\"index\":{choice},\"delta\":{{\"tool_calls\":[{tool}]}},\"finish_reason\":{finish}}}]}}\n\n")
    }

    #[test]
    fn streamed_tool_calls_are_assembled_with_their_finish_reason() {
        let stream = [
            tool_chunk(0, r#"{"index":0,"id":"call_1","type":"function","function":{"name":"lookup","arguments":""}}"#, "null"),
            tool_chunk(0, r#"{"index":0,"function":{"arguments":"{\"topic\":"}}"#, "null"),
            tool_chunk(1, r#"{"index":0,"id":"call_other","function":{"name":"no","arguments":"x"}}"#, "null"),
            tool_chunk(0, r#"{"index":0,"function":{"arguments":"\"tcp\"}"}}"#, "\"tool_calls\""),
            "data: [DONE]\n\n".to_string(),
        ]
        .concat();
        for split in [1, 13, stream.len()] {
            let mut r = SseReader::default();
            let mut content = false;
            for piece in stream.as_bytes().chunks(split) {
                content |= r.feed(piece).unwrap();
            }
            assert!(content, "a tool call fragment is output");
            assert_eq!(r.finish_reason.as_deref(), Some("tool_calls"));
            let calls = std::mem::take(&mut r.tool_calls).finish();
            assert_eq!(
                calls,
                vec![super::super::tool_call_stream::whole(
                    "call_1",
                    "lookup",
                    "{\"topic\":\"tcp\"}"
                )]
            );
        }
    }

    #[test]
    fn a_hostile_tool_call_stream_is_malformed() {
        let mut r = SseReader::default();
        let huge = tool_chunk(
            0,
            r#"{"index":4294967295,"function":{"arguments":"x"}}"#,
            "null",
        );
        let err = r.feed(huge.as_bytes()).unwrap_err();
        assert!(matches!(err, SseError::ToolCalls(_)), "{err:?}");
        assert_eq!(err.into_client_error().kind(), "malformed");
        let mut r = SseReader::default();
        let piece = tool_chunk(
            0,
            &format!(
                r#"{{"index":0,"function":{{"arguments":"{}"}}}}"#,
                "y".repeat(4096)
            ),
            "null",
        );
        let err = loop {
            if let Err(e) = r.feed(piece.as_bytes()) {
                break e;
            }
        };
        assert!(err.to_string().contains("arguments over"), "{err}");
    }
}
