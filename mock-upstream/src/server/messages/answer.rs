//! The Messages API's [`Dialect`]: a `message` object, the named-event stream, Anthropic's error
//! shapes and rate-limit headers, for one request.

use std::time::Duration;

use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::refusal::{add_rate_limit_headers, Refusal};
use super::tools;
use crate::content::ToolCall;
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
    /// The tool calls the answer makes instead of text ([`tools::calls`]); usually none.
    pub(crate) calls: Vec<ToolCall>,
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

    /// How the answer ends: tool calls, or the shaped reply.
    fn ending(&self, shaped: &Shaped) -> Ending {
        if self.calls.is_empty() {
            Ending {
                stop_reason: shaped.stop_reason,
                stop_sequence: shaped.stop_sequence.clone(),
                output_tokens: shaped.reply.tokens,
            }
        } else {
            Ending {
                stop_reason: StopReason::ToolUse,
                stop_sequence: None,
                output_tokens: tools::output_tokens(&self.calls),
            }
        }
    }

    /// The message; without an ending, the skeleton `message_start` carries.
    fn message(&self, content: Vec<ContentBlock>, ending: Option<&Ending>) -> Message {
        Message {
            id: self.id.clone(),
            kind: "message".into(),
            role: Role::Assistant,
            model: self.model.clone(),
            content,
            stop_reason: ending.map(|e| e.stop_reason),
            stop_sequence: ending.and_then(|e| e.stop_sequence.clone()),
            usage: Usage {
                input_tokens: self.input_tokens,
                // `message_start` reports the first output token, as the API does.
                output_tokens: ending.map_or(1, |e| e.output_tokens),
                cache_creation_input_tokens: Some(0),
                cache_read_input_tokens: Some(0),
            },
        }
    }

    /// The content blocks' events: the first block's start, one piece per token (or per four
    /// characters of tool input), and the last block's stop.
    fn blocks(&self, shaped: &Shaped) -> (Bytes, Vec<Bytes>, Bytes) {
        if !self.calls.is_empty() {
            return tools::stream(&self.calls);
        }
        let start = event(&StreamEvent::ContentBlockStart {
            index: 0,
            content_block: ContentBlock::Text {
                text: String::new(),
            },
        });
        let pieces = shaped
            .reply
            .token_pieces()
            .map(|piece| {
                event(&StreamEvent::ContentBlockDelta {
                    index: 0,
                    delta: BlockDelta::TextDelta { text: piece.into() },
                })
            })
            .collect();
        (
            start,
            pieces,
            event(&StreamEvent::ContentBlockStop { index: 0 }),
        )
    }
}

/// What `message_delta` (and the full answer) says about the end.
#[derive(Debug, Clone, PartialEq)]
struct Ending {
    stop_reason: StopReason,
    stop_sequence: Option<String>,
    output_tokens: u32,
}

fn event(e: &StreamEvent) -> Bytes {
    sse_event(e.name(), e)
}

impl Dialect for MessagesDialect {
    fn answer(&self, reply: &Reply) -> Vec<u8> {
        let shaped = self.shape(reply);
        let content = if self.calls.is_empty() {
            vec![ContentBlock::Text {
                text: shaped.reply.text.clone(),
            }]
        } else {
            tools::blocks(&self.calls)
        };
        let ending = self.ending(&shaped);
        serde_json::to_vec(&self.message(content, Some(&ending))).unwrap_or_default()
    }

    /// `message_start`, `content_block_start`, `ping`, one `content_block_delta` per token (or
    /// piece of tool input, each further block's stop and start riding on its first piece), then
    /// `content_block_stop`, `message_delta` (stop reason, output tokens) and `message_stop`.
    fn stream(&self, reply: &Reply) -> StreamParts {
        let shaped = self.shape(reply);
        let ending = self.ending(&shaped);
        let (start, tokens, stop) = self.blocks(&shaped);
        let head = vec![
            event(&StreamEvent::MessageStart {
                message: self.message(Vec::new(), None),
            }),
            start,
            event(&StreamEvent::Ping),
        ];
        let tail = vec![
            stop,
            event(&StreamEvent::MessageDelta {
                delta: MessageDeltaBody {
                    stop_reason: Some(ending.stop_reason),
                    stop_sequence: ending.stop_sequence,
                },
                usage: DeltaUsage {
                    output_tokens: ending.output_tokens,
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
            calls: Vec::new(),
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
