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
}
