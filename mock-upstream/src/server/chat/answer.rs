//! Chat completions' [`Dialect`]: `n` choices of text, JSON or tool calls, as one
//! `chat.completion` or as `chat.completion.chunk`s the way OpenAI streams them.

use bytes::Bytes;

use super::choices::{Body, ChoicePlan};
use crate::content::{self, ToolCall};
use crate::server::dialect::{sse_data, Dialect, StreamParts};
use crate::text::Reply;
use gauntlet_wire::openai::{
    ChatCompletion, ChatCompletionChunk, ChatMessage, Choice, ChunkChoice, Delta, FunctionCall,
    FunctionCallDelta, MessageContent, ToolCallDelta, Usage,
};
use gauntlet_wire::tokens::CHARS_PER_TOKEN;

/// Content events one stream carries at most: past it (`n` long choices), pieces grow beyond
/// one token, so 128 choices of 8192 tokens stay a stream of bounded size.
pub(crate) const MAX_STREAM_PIECES: usize = 65_536;

/// How a chat completion is written: the ids and echoes of one request, and its choices.
pub(crate) struct ChatDialect {
    pub(crate) id: String,
    pub(crate) created: u64,
    pub(crate) model: String,
    pub(crate) fingerprint: String,
    pub(crate) include_usage: bool,
    pub(crate) prompt_tokens: u32,
    pub(crate) plan: ChoicePlan,
}

impl ChatDialect {
    fn usage(&self, bodies: &[Body]) -> Usage {
        let completion_tokens = bodies
            .iter()
            .map(Body::tokens)
            .fold(0u32, u32::saturating_add);
        Usage {
            prompt_tokens: self.prompt_tokens,
            completion_tokens,
            total_tokens: self.prompt_tokens.saturating_add(completion_tokens),
        }
    }

    fn chunk(&self, choices: Vec<ChunkChoice>, usage: Option<Usage>) -> Bytes {
        sse_data(&ChatCompletionChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk".into(),
            created: self.created,
            model: self.model.clone(),
            choices,
            usage,
            system_fingerprint: Some(self.fingerprint.clone()),
        })
    }

    fn delta(&self, index: u32, delta: Delta, finish: Option<&str>) -> Bytes {
        let choice = ChunkChoice {
            index,
            delta,
            finish_reason: finish.map(str::to_string),
        };
        self.chunk(vec![choice], None)
    }

    /// One choice's content events: a piece per token, or per call an opening delta (id,
    /// type, name, empty arguments) and the arguments in pieces.
    fn pieces(&self, index: u32, body: &Body, chars: usize) -> Vec<Bytes> {
        match body {
            Body::Text { text, .. } => content::pieces(text, chars)
                .into_iter()
                .map(|p| {
                    let delta = Delta {
                        content: Some(p.to_string()),
                        ..Delta::default()
                    };
                    self.delta(index, delta, None)
                })
                .collect(),
            Body::Calls(calls) => calls
                .iter()
                .enumerate()
                .flat_map(|(k, call)| self.call_pieces(index, k as u32, call, chars))
                .collect(),
        }
    }

    fn call_pieces(&self, index: u32, k: u32, call: &ToolCall, chars: usize) -> Vec<Bytes> {
        let tool_delta = |first: bool, arguments: &str| Delta {
            tool_calls: Some(vec![ToolCallDelta {
                index: k,
                id: first.then(|| call.id.clone()),
                kind: first.then(|| "function".to_string()),
                function: Some(FunctionCallDelta {
                    name: first.then(|| call.name.clone()),
                    arguments: Some(arguments.to_string()),
                }),
            }]),
            ..Delta::default()
        };
        let mut out = vec![self.delta(index, tool_delta(true, ""), None)];
        out.extend(
            content::pieces(&call.arguments, chars)
                .into_iter()
                .map(|p| self.delta(index, tool_delta(false, p), None)),
        );
        out
    }
}

fn message(body: &Body) -> ChatMessage {
    match body {
        Body::Text { text, .. } => ChatMessage {
            role: "assistant".into(),
            content: Some(MessageContent::Text(text.clone())),
            ..ChatMessage::default()
        },
        Body::Calls(calls) => ChatMessage {
            role: "assistant".into(),
            content: None,
            tool_calls: Some(
                calls
                    .iter()
                    .map(|c| gauntlet_wire::openai::ToolCall {
                        id: c.id.clone(),
                        kind: "function".into(),
                        function: FunctionCall {
                            name: c.name.clone(),
                            arguments: c.arguments.clone(),
                        },
                    })
                    .collect(),
            ),
            ..ChatMessage::default()
        },
    }
}

/// Characters per content event: one token's, or more when the choices together would exceed
/// [`MAX_STREAM_PIECES`].
fn piece_chars(bodies: &[Body]) -> usize {
    let chars: usize = bodies
        .iter()
        .map(|b| match b {
            Body::Text { text, .. } => text.len(),
            Body::Calls(calls) => calls.iter().map(|c| c.arguments.len()).sum(),
        })
        .sum();
    let pieces = chars.div_ceil(CHARS_PER_TOKEN);
    CHARS_PER_TOKEN * pieces.div_ceil(MAX_STREAM_PIECES).max(1)
}

/// Interleaves the choices' pieces, one of each in turn, as OpenAI streams `n` choices.
fn round_robin(per_choice: Vec<Vec<Bytes>>) -> Vec<Bytes> {
    let total = per_choice.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(total);
    let mut iters: Vec<_> = per_choice.into_iter().map(Vec::into_iter).collect();
    while out.len() < total {
        for it in &mut iters {
            out.extend(it.next());
        }
    }
    out
}

impl Dialect for ChatDialect {
    fn answer(&self, reply: &Reply) -> Vec<u8> {
        let bodies = self.plan.bodies(reply);
        serde_json::to_vec(&ChatCompletion {
            id: self.id.clone(),
            object: "chat.completion".into(),
            created: self.created,
            model: self.model.clone(),
            choices: bodies
                .iter()
                .enumerate()
                .map(|(i, b)| Choice {
                    index: i as u32,
                    message: message(b),
                    finish_reason: Some(b.finish().into()),
                })
                .collect(),
            usage: self.usage(&bodies),
            system_fingerprint: Some(self.fingerprint.clone()),
        })
        .unwrap_or_default()
    }

    /// Per choice a role chunk, then the choices' content pieces interleaved, then per choice
    /// a finish chunk, an optional usage chunk, and `[DONE]`.
    fn stream(&self, reply: &Reply) -> StreamParts {
        let bodies = self.plan.bodies(reply);
        let head = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let delta = Delta {
                    role: Some("assistant".into()),
                    content: matches!(b, Body::Text { .. }).then(String::new),
                    ..Delta::default()
                };
                self.delta(i as u32, delta, None)
            })
            .collect();
        let chars = piece_chars(&bodies);
        let tokens = round_robin(
            bodies
                .iter()
                .enumerate()
                .map(|(i, b)| self.pieces(i as u32, b, chars))
                .collect(),
        );
        let mut tail: Vec<Bytes> = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| self.delta(i as u32, Delta::default(), Some(b.finish())))
            .collect();
        if self.include_usage {
            tail.push(self.chunk(Vec::new(), Some(self.usage(&bodies))));
        }
        tail.push(Bytes::from_static(b"data: [DONE]\n\n"));
        StreamParts { head, tokens, tail }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_grow_only_past_the_stream_bound() {
        let text = |chars: usize| Body::Text {
            text: "x".repeat(chars),
            finish: "stop",
        };
        assert_eq!(piece_chars(&[text(100), text(7)]), CHARS_PER_TOKEN);
        let at_bound = CHARS_PER_TOKEN * MAX_STREAM_PIECES;
        assert_eq!(piece_chars(&[text(at_bound)]), CHARS_PER_TOKEN);
        assert_eq!(piece_chars(&[text(at_bound), text(1)]), 2 * CHARS_PER_TOKEN);
    }
}
