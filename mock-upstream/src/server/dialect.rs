//! What differs between the APIs the mock speaks (chat completions, the Responses API,
//! embeddings, Anthropic's Messages): the shape of a success, of a stream and of an error.
//!
//! Everything else — admission, the engine's decision, latency, limits, failures, pacing and the
//! faults that strike a stream part-way — is the same for every route and lives in
//! [`super::handler`], so a fault file means the same thing whichever API a client uses.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::errors::ApiError;
use crate::faults::engine::RateLimitState;
use crate::text::Reply;
use gauntlet_wire::duration::format_openai_duration;

/// A streamed answer in the three parts the mid-stream faults need to tell apart.
///
/// `head` goes out at the first token's time, one `tokens` piece per token after that (the
/// stream's pacing), and `tail` right after the last token: the events that say the answer is
/// complete (`finish_reason`, usage, `[DONE]`, `response.completed`, `message_stop`). A stream
/// that "ends without its final event" is `head` and `tokens` without `tail`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct StreamParts {
    /// Events before the content (role chunk, `response.created`, `message_start`, ...).
    pub(crate) head: Vec<Bytes>,
    /// One event per content token (or per piece of tool-call arguments).
    pub(crate) tokens: Vec<Bytes>,
    /// Events that end the answer.
    pub(crate) tail: Vec<Bytes>,
}

/// One API's wire shape. A handler builds its dialect from the parsed request (model, id,
/// tools, `n`, ...) and hands it to [`super::handler::carry_out`] with the engine's decision.
pub(crate) trait Dialect: Send + Sync {
    /// The body of a successful, non-streamed answer.
    fn answer(&self, reply: &Reply) -> Vec<u8>;

    /// The events of a successful streamed answer, already framed as SSE.
    fn stream(&self, reply: &Reply) -> StreamParts;

    /// The event a stream ends with when an error strikes part-way (the provider's error
    /// object in the stream), already framed as SSE.
    fn stream_error(&self, error: &ApiError) -> Bytes {
        sse_data(&serde_json::json!({ "error": error.body }))
    }

    /// An error answer in this API's shape; OpenAI's by default.
    fn error(&self, error: ApiError) -> Response {
        error.into_response()
    }

    /// The rate-limit headers this API sends on answers and refusals alike; OpenAI's
    /// `x-ratelimit-*` by default.
    fn rate_limit_headers(&self, headers: &mut HeaderMap, limits: &RateLimitState) {
        add_openai_rate_limit_headers(headers, limits);
    }

    /// A 200 whose body is not valid JSON (or SSE), for the `malformed` failure.
    fn malformed(&self, stream: bool) -> Response {
        let (content_type, body): (&str, &'static [u8]) = if stream {
            (
                "text/event-stream",
                b"data: {\"id\":\"broken\",\"choices\":[{\"delta\":{\"content\":\"unterminated\n\n",
            )
        } else {
            (
                "application/json",
                b"{\"id\":\"broken\",\"object\":\"unterminated",
            )
        };
        ([(header::CONTENT_TYPE, content_type)], body).into_response()
    }

    /// A 200 with an empty body, for the `empty` failure.
    fn empty(&self, stream: bool) -> Response {
        let content_type = if stream {
            "text/event-stream"
        } else {
            "application/json"
        };
        ([(header::CONTENT_TYPE, content_type)], Body::empty()).into_response()
    }
}

/// `data: <json>\n\n`: one SSE event without a name, as chat completions frames every chunk.
pub(crate) fn sse_data<T: serde::Serialize>(value: &T) -> Bytes {
    let mut line = b"data: ".to_vec();
    line.extend(serde_json::to_vec(value).unwrap_or_default());
    line.extend(b"\n\n");
    Bytes::from(line)
}

/// `event: <name>\ndata: <json>\n\n`: one named SSE event, as the Responses API and Anthropic's
/// Messages frame theirs.
#[allow(dead_code)] // the Responses and Messages routes, landing next, use it
pub(crate) fn sse_event<T: serde::Serialize>(name: &str, value: &T) -> Bytes {
    let mut line = Vec::with_capacity(name.len() + 64);
    line.extend(b"event: ");
    line.extend(name.as_bytes());
    line.extend(b"\ndata: ");
    line.extend(serde_json::to_vec(value).unwrap_or_default());
    line.extend(b"\n\n");
    Bytes::from(line)
}

/// `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`, built once.
const RATE_LIMIT_HEADERS: [[header::HeaderName; 3]; 2] = [
    [
        header::HeaderName::from_static("x-ratelimit-limit-requests"),
        header::HeaderName::from_static("x-ratelimit-remaining-requests"),
        header::HeaderName::from_static("x-ratelimit-reset-requests"),
    ],
    [
        header::HeaderName::from_static("x-ratelimit-limit-tokens"),
        header::HeaderName::from_static("x-ratelimit-remaining-tokens"),
        header::HeaderName::from_static("x-ratelimit-reset-tokens"),
    ],
];

/// OpenAI's `x-ratelimit-*` headers for the buckets in force.
pub(crate) fn add_openai_rate_limit_headers(h: &mut HeaderMap, limits: &RateLimitState) {
    for (names, view) in RATE_LIMIT_HEADERS
        .iter()
        .zip([limits.requests, limits.tokens])
    {
        let Some(v) = view else { continue };
        h.insert(names[0].clone(), HeaderValue::from(v.limit));
        h.insert(names[1].clone(), HeaderValue::from(v.remaining));
        if let Ok(value) = HeaderValue::from_str(&format_openai_duration(v.reset_after)) {
            h.insert(names[2].clone(), value);
        }
    }
}

/// The pacing of a stream's parts: `head` at once (the first token's wait is spent before),
/// the first token at once, every later one after `per_token`, and the `tail` at once.
pub(crate) fn paced_parts(parts: StreamParts, per_token: Duration) -> Vec<(Duration, Bytes)> {
    let mut pieces = Vec::with_capacity(parts.head.len() + parts.tokens.len() + parts.tail.len());
    pieces.extend(parts.head.into_iter().map(|b| (Duration::ZERO, b)));
    for (i, b) in parts.tokens.into_iter().enumerate() {
        let delay = if i == 0 { Duration::ZERO } else { per_token };
        pieces.push((delay, b));
    }
    pieces.extend(parts.tail.into_iter().map(|b| (Duration::ZERO, b)));
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_frames_read_back() {
        let v = serde_json::json!({"a": 1});
        assert_eq!(&sse_data(&v)[..], b"data: {\"a\":1}\n\n");
        assert_eq!(
            &sse_event("response.created", &v)[..],
            b"event: response.created\ndata: {\"a\":1}\n\n"
        );
    }

    #[test]
    fn tokens_are_paced_and_the_ends_are_not() {
        let parts = StreamParts {
            head: vec![Bytes::from_static(b"h")],
            tokens: vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")],
            tail: vec![Bytes::from_static(b"t")],
        };
        let d = Duration::from_millis(5);
        let delays: Vec<_> = paced_parts(parts, d).into_iter().map(|p| p.0).collect();
        assert_eq!(delays, [Duration::ZERO, Duration::ZERO, d, Duration::ZERO]);
    }
}
