//! The faults that strike an answer part-way: an error event after some tokens, a stall, a
//! stream without its final events, and an answer cut short with `finish_reason: "length"`.
//!
//! They are written in terms of a [`Dialect`]'s [`StreamParts`] only, so every route that has a
//! dialect gets them: a stream error is the dialect's own [`Dialect::stream_error`] event.
//! A request that was not streamed gets the nearest thing a JSON answer can do (see
//! [`answer_fault`]), so a draw never depends on anything but the seed.

use std::time::Duration;

use axum::response::Response;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::sleep;

use super::body::paced;
use super::dialect::{paced_parts, Dialect, StreamParts};
use super::errors::ApiError;
use super::handler::{json_response, stream_response};
use super::Pacing;
use crate::faults::engine::InjectedFailure;
use crate::text::Reply;

/// The mid-stream fault `failure` carried out on a stream, or `None` when it is not one of them.
pub(crate) fn stream_fault(
    failure: InjectedFailure,
    dialect: &dyn Dialect,
    reply: &Reply,
    per_token: Duration,
    permit: Option<OwnedSemaphorePermit>,
    pacing: Pacing,
) -> Option<Response> {
    let pieces = match failure {
        InjectedFailure::StreamError { after, status } => {
            let mut parts = first_tokens(dialect.stream(reply), Some(after));
            parts.tail = vec![dialect.stream_error(&ApiError::server(status, None))];
            paced_parts(parts, per_token)
        }
        InjectedFailure::Stall { after, pause } => {
            let parts = dialect.stream(reply);
            let at = parts.head.len() + parts.tokens.len().min(after as usize);
            let mut pieces = paced_parts(parts, per_token);
            if let Some(piece) = pieces.get_mut(at) {
                piece.0 = piece.0.saturating_add(pause);
            }
            pieces
        }
        InjectedFailure::Unfinished { after } => {
            let mut parts = first_tokens(dialect.stream(reply), after);
            parts.tail.clear();
            paced_parts(parts, per_token)
        }
        InjectedFailure::EarlyLength { after } => {
            paced_parts(dialect.stream(&cut_short(reply, after)), per_token)
        }
        _ => return None,
    };
    Some(stream_response(paced(pieces, None, permit, pacing)))
}

/// What a request that was not streamed gets when it draws a mid-stream fault, or `None` when
/// `failure` is not one of them:
///
/// - `stream_error`: the same error object as a status answer (`500 server_error`, ...), as the
///   provider answers a failure it meets before any byte of a JSON answer is sent;
/// - `stall`: the pause spent before the whole answer, which then comes as usual;
/// - `unfinished`: the first half of the JSON, declared at that length and ended cleanly (unlike
///   `truncate`, whose connection breaks off): a body that is complete as HTTP and not as JSON;
/// - `early_length`: the answer cut at `after` tokens with `finish_reason: "length"`.
pub(crate) async fn answer_fault(
    failure: InjectedFailure,
    dialect: &dyn Dialect,
    reply: &Reply,
) -> Option<Response> {
    Some(match failure {
        InjectedFailure::StreamError { status, .. } => {
            dialect.error(ApiError::server(status, None))
        }
        InjectedFailure::Stall { pause, .. } => {
            sleep(pause).await;
            json_response(dialect.answer(reply))
        }
        InjectedFailure::Unfinished { .. } => {
            let mut body = dialect.answer(reply);
            body.truncate(body.len() / 2);
            json_response(body)
        }
        InjectedFailure::EarlyLength { after } => {
            json_response(dialect.answer(&cut_short(reply, after)))
        }
        _ => return None,
    })
}

/// The parts with only the first `after` token pieces (all of them when `None`).
fn first_tokens(mut parts: StreamParts, after: Option<u32>) -> StreamParts {
    if let Some(n) = after {
        parts.tokens.truncate(n as usize);
    }
    parts
}

/// The reply cut at `tokens` tokens (kept whole when shorter) and ended for `length`, as a
/// provider ends an answer that reached its limit.
fn cut_short(reply: &Reply, tokens: u32) -> Reply {
    let tokens = tokens.min(reply.tokens);
    let chars = (tokens as usize * gauntlet_wire::tokens::CHARS_PER_TOKEN).min(reply.text.len());
    Reply {
        // The text is ASCII, so a byte offset is a character boundary.
        text: reply.text.get(..chars).unwrap_or_default().to_string(),
        tokens,
        finish_reason: "length",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(tokens: u32) -> Reply {
        let text: String = "abcd".repeat(tokens as usize);
        Reply {
            text,
            tokens,
            finish_reason: "stop",
        }
    }

    #[test]
    fn a_reply_cut_short_keeps_its_first_tokens_and_says_length() {
        let cut = cut_short(&reply(10), 3);
        assert_eq!((cut.text.as_str(), cut.tokens), ("abcdabcdabcd", 3));
        assert_eq!(cut.finish_reason, "length");
        let whole = cut_short(&reply(2), 5);
        assert_eq!((whole.tokens, whole.text.len()), (2, 8));
        assert_eq!(whole.finish_reason, "length");
    }

    #[test]
    fn first_tokens_keeps_all_when_told_none() {
        let parts = StreamParts {
            head: vec![],
            tokens: vec![bytes::Bytes::from_static(b"a"); 4],
            tail: vec![],
        };
        assert_eq!(first_tokens(parts.clone(), None).tokens.len(), 4);
        assert_eq!(first_tokens(parts.clone(), Some(2)).tokens.len(), 2);
        assert_eq!(first_tokens(parts, Some(9)).tokens.len(), 4);
    }
}
