//! Reading an OpenAI `text/event-stream` answer: `data: {chunk}` events, then `data: [DONE]`.

use gauntlet_wire::openai::{ChatCompletionChunk, Usage};

/// Why a streamed answer cannot be read; the adapter reports it as a malformed response, so the
/// text names what broke the stream.
#[derive(Debug, thiserror::Error)]
pub enum SseError {
    /// An event (the bytes up to a blank line) is not UTF-8, so none of its lines can be read.
    #[error("stream event is not UTF-8")]
    NotUtf8(#[source] std::str::Utf8Error),
    /// A `data:` line came after `data: [DONE]`, which ends the stream.
    #[error("data after [DONE]")]
    DataAfterDone,
    /// A `data:` line is not a `chat.completion.chunk`.
    #[error("bad stream chunk: {0}")]
    BadChunk(#[source] serde_json::Error),
}

/// Accumulates a streamed answer from raw bytes, in whatever pieces they arrive.
#[derive(Debug, Default)]
pub struct SseReader {
    buf: Vec<u8>,
    /// The text so far.
    pub text: String,
    /// The finish reason, once sent.
    pub finish_reason: Option<String>,
    /// The usage chunk, if asked for.
    pub usage: Option<Usage>,
    /// Whether `[DONE]` arrived.
    pub done: bool,
}

impl SseReader {
    /// Feeds bytes; returns whether content arrived in them (for time to first token).
    pub fn feed(&mut self, bytes: &[u8]) -> Result<bool, SseError> {
        self.buf.extend_from_slice(bytes);
        let mut got_content = false;
        while let Some(end) = find_event_end(&self.buf) {
            let event: Vec<u8> = self.buf.drain(..end.0 + end.1).collect();
            let event = std::str::from_utf8(&event[..end.0]).map_err(SseError::NotUtf8)?;
            got_content |= self.event(event)?;
        }
        Ok(got_content)
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
            let chunk: ChatCompletionChunk =
                serde_json::from_str(data).map_err(SseError::BadChunk)?;
            if let Some(u) = chunk.usage {
                self.usage = Some(u);
            }
            for choice in chunk.choices {
                if let Some(c) = choice.delta.content {
                    if !c.is_empty() {
                        got_content = true;
                        self.text.push_str(&c);
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

/// Position and separator length of the first blank line (`\n\n` or `\r\n\r\n`).
fn find_event_end(buf: &[u8]) -> Option<(usize, usize)> {
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|p| (p, 2));
    let crlf = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| (p, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
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
}
