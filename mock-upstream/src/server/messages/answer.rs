//! The Messages API's [`Dialect`]: a `message` object, the named-event stream, Anthropic's error
//! shapes and rate-limit headers, for one request.

use std::time::Duration;

use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::refusal::{add_rate_limit_headers, Refusal};
use crate::faults::engine::RateLimitState;
use crate::server::dialect::{sse_event, Dialect, StreamParts};
use crate::server::errors::ApiError;
use crate::text::Reply;
use gauntlet_wire::anthropic::{
    BlockDelta, ContentBlock, DeltaUsage, Message, MessageDeltaBody, Role, StopReason, StreamEvent,
    Usage,
};
use gauntlet_wire::tokens::approx_tokens;

/// How one request's answer is written.
#[derive(Debug)]
pub(crate) struct MessagesDialect {
    /// `msg_…`.
    pub(crate) id: String,
    /// Echoed back.
    pub(crate) model: String,
    /// `usage.input_tokens`.
    pub(crate) input_tokens: u32,
    /// The request's stop sequences (checked: at most [`super::check::MAX_STOP_SEQUENCES`]).
    pub(crate) stop_sequences: Vec<String>,
    /// In error bodies (and the `request-id` header, set by the route).
    pub(crate) request_id: String,
    /// The request's arrival since the Unix epoch, for the rate-limit resets.
    pub(crate) now: Duration,
}

/// The reply as this request gets it: cut at the first stop sequence, with its stop reason.
#[derive(Debug, Clone, PartialEq)]
struct Shaped {
    reply: Reply,
    stop_reason: StopReason,
    stop_sequence: Option<String>,
}

impl MessagesDialect {
    /// Cuts the reply before the stop sequence that occurs first (the earliest listed one on a
    /// tie); a reply cut by `max_tokens` stops with `max_tokens`, any other with `end_turn`.
    fn shape(&self, reply: &Reply) -> Shaped {
        let first = self
            .stop_sequences
            .iter()
            .filter_map(|s| reply.text.find(s.as_str()).map(|at| (at, s)))
            .min_by_key(|(at, _)| *at);
        match first {
            Some((at, seq)) => {
                let text = reply.text[..at].to_string();
                Shaped {
                    reply: Reply {
                        tokens: approx_tokens(&text).max(1),
                        text,
                        finish_reason: "stop",
                    },
                    stop_reason: StopReason::StopSequence,
                    stop_sequence: Some(seq.clone()),
                }
            }
            None => Shaped {
                reply: reply.clone(),
                stop_reason: if reply.finish_reason == "length" {
                    StopReason::MaxTokens
                } else {
                    StopReason::EndTurn
                },
                stop_sequence: None,
            },
        }
    }

    fn message(&self, content: Vec<ContentBlock>, shaped: Option<&Shaped>) -> Message {
        Message {
            id: self.id.clone(),
            kind: "message".into(),
            role: Role::Assistant,
            model: self.model.clone(),
            content,
            stop_reason: shaped.map(|s| s.stop_reason),
            stop_sequence: shaped.and_then(|s| s.stop_sequence.clone()),
            usage: Usage {
                input_tokens: self.input_tokens,
                // `message_start` reports the first output token, as the API does.
                output_tokens: shaped.map_or(1, |s| s.reply.tokens),
                cache_creation_input_tokens: Some(0),
                cache_read_input_tokens: Some(0),
            },
        }
    }
}

fn event(e: &StreamEvent) -> Bytes {
    sse_event(e.name(), e)
}

impl Dialect for MessagesDialect {
    fn answer(&self, reply: &Reply) -> Vec<u8> {
        let shaped = self.shape(reply);
        let text = ContentBlock::Text {
            text: shaped.reply.text.clone(),
        };
        serde_json::to_vec(&self.message(vec![text], Some(&shaped))).unwrap_or_default()
    }

    /// `message_start`, `content_block_start`, `ping`, one `content_block_delta` per token, then
    /// `content_block_stop`, `message_delta` (stop reason, output tokens) and `message_stop`.
    fn stream(&self, reply: &Reply) -> StreamParts {
        let shaped = self.shape(reply);
        let head = vec![
            event(&StreamEvent::MessageStart {
                message: self.message(Vec::new(), None),
            }),
            event(&StreamEvent::ContentBlockStart {
                index: 0,
                content_block: ContentBlock::Text {
                    text: String::new(),
                },
            }),
            event(&StreamEvent::Ping),
        ];
        let tokens = shaped
            .reply
            .token_pieces()
            .map(|piece| {
                event(&StreamEvent::ContentBlockDelta {
                    index: 0,
                    delta: BlockDelta::TextDelta { text: piece.into() },
                })
            })
            .collect();
        let tail = vec![
            event(&StreamEvent::ContentBlockStop { index: 0 }),
            event(&StreamEvent::MessageDelta {
                delta: MessageDeltaBody {
                    stop_reason: Some(shaped.stop_reason),
                    stop_sequence: shaped.stop_sequence.clone(),
                },
                usage: DeltaUsage {
                    output_tokens: shaped.reply.tokens,
                },
            }),
            event(&StreamEvent::MessageStop),
        ];
        StreamParts { head, tokens, tail }
    }

    fn stream_error(&self, error: &ApiError) -> Bytes {
        Refusal::from_api(error).event()
    }

    fn error(&self, error: ApiError) -> Response {
        Refusal::from_api(&error).into_response(&self.request_id)
    }

    fn rate_limit_headers(&self, headers: &mut HeaderMap, limits: &RateLimitState) {
        add_rate_limit_headers(headers, limits, self.now);
    }

    fn malformed(&self, stream: bool) -> Response {
        let (content_type, body): (&str, &'static [u8]) = if stream {
            (
                "text/event-stream",
                b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_broken\n\n",
            )
        } else {
            (
                "application/json",
                b"{\"id\":\"msg_broken\",\"type\":\"message\",\"content\":[{\"type\":\"text\",\"text\":\"unterminated",
            )
        };
        ([(header::CONTENT_TYPE, content_type)], body).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dialect(stops: &[&str]) -> MessagesDialect {
        MessagesDialect {
            id: "msg_1".into(),
            model: "claude-test".into(),
            input_tokens: 9,
            stop_sequences: stops.iter().map(|s| s.to_string()).collect(),
            request_id: "req_1".into(),
            now: Duration::ZERO,
        }
    }

    fn reply(text: &str, finish_reason: &'static str) -> Reply {
        Reply {
            text: text.into(),
            tokens: approx_tokens(text),
            finish_reason,
        }
    }

    #[test]
    fn the_first_stop_sequence_to_occur_cuts_the_reply() {
        let r = reply("The request was handled by a model.", "stop");
        let s = dialect(&["model", " was", "zzz"]).shape(&r);
        assert_eq!(s.reply.text, "The request");
        assert_eq!(s.reply.tokens, 3);
        assert_eq!(s.stop_reason, StopReason::StopSequence);
        assert_eq!(s.stop_sequence.as_deref(), Some(" was"));
        // The earliest listed wins a tie.
        let s = dialect(&["req", "request"]).shape(&r);
        assert_eq!(s.stop_sequence.as_deref(), Some("req"));
        // A cut at the start still reports a token, as the API never reports 0.
        assert_eq!(dialect(&["The"]).shape(&r).reply.tokens, 1);
    }

    #[test]
    fn a_length_cut_is_max_tokens_and_a_stop_is_end_turn() {
        assert_eq!(
            dialect(&[]).shape(&reply("abcdefgh", "length")).stop_reason,
            StopReason::MaxTokens
        );
        let s = dialect(&["zzz"]).shape(&reply("abcdefgh", "stop"));
        assert_eq!(
            (s.stop_reason, s.stop_sequence),
            (StopReason::EndTurn, None)
        );
    }

    #[test]
    fn the_stream_is_the_answer_in_events() {
        let d = dialect(&[" by"]);
        let r = reply("The request was handled by a model.", "stop");
        let parts = d.stream(&r);
        let names = |v: &[Bytes]| -> Vec<String> {
            v.iter()
                .map(|b| {
                    let t = std::str::from_utf8(b).unwrap();
                    t.lines()
                        .next()
                        .unwrap()
                        .trim_start_matches("event: ")
                        .to_string()
                })
                .collect()
        };
        assert_eq!(
            names(&parts.head),
            ["message_start", "content_block_start", "ping"]
        );
        assert_eq!(
            names(&parts.tail),
            ["content_block_stop", "message_delta", "message_stop"]
        );
        let text: String = parts
            .tokens
            .iter()
            .map(|b| {
                let t = std::str::from_utf8(b).unwrap();
                let data = t.lines().nth(1).unwrap().trim_start_matches("data: ");
                match serde_json::from_str::<StreamEvent>(data).unwrap() {
                    StreamEvent::ContentBlockDelta {
                        delta: BlockDelta::TextDelta { text },
                        ..
                    } => text,
                    other => panic!("{other:?}"),
                }
            })
            .collect();
        let answer: Message = serde_json::from_slice(&d.answer(&r)).unwrap();
        assert_eq!(answer.content, [ContentBlock::Text { text: text.clone() }]);
        assert_eq!(text, "The request was handled");
        assert_eq!(answer.stop_sequence.as_deref(), Some(" by"));
    }
}
