//! Chat completions (`POST /v1/chat/completions`, JSON and SSE) and the legacy `POST /v1/chat`:
//! their request checks and their [`Dialect`]s.

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tokio::time::Instant;

use super::dialect::{sse_data, Dialect, StreamParts};
use super::errors::ApiError;
use super::handler::{admit, bearer, carry_out, overloaded, read_json, Answering};
use super::MockState;
use crate::faults::engine::{RequestInfo, Route};
use crate::text::{self, Reply};
use gauntlet_wire::openai::{
    ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ChatMessage, Choice, ChunkChoice,
    Delta, LegacyChatRequest, LegacyChatResponse, Usage,
};
use gauntlet_wire::{hash, tokens};

/// How a chat completion is written: the ids and echoes of one request.
struct ChatDialect {
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
    prompt_tokens: u32,
}

impl ChatDialect {
    fn usage(&self, reply: &Reply) -> Usage {
        Usage {
            prompt_tokens: self.prompt_tokens,
            completion_tokens: reply.tokens,
            total_tokens: self.prompt_tokens + reply.tokens,
        }
    }

    fn chunk(&self, delta: Delta, finish: Option<&str>, usage: Option<Usage>) -> Bytes {
        sse_data(&ChatCompletionChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk".into(),
            created: self.created,
            model: self.model.clone(),
            choices: if usage.is_some() {
                vec![]
            } else {
                vec![ChunkChoice {
                    index: 0,
                    delta,
                    finish_reason: finish.map(str::to_string),
                }]
            },
            usage,
        })
    }
}

impl Dialect for ChatDialect {
    fn answer(&self, reply: &Reply) -> Vec<u8> {
        serde_json::to_vec(&ChatCompletion {
            id: self.id.clone(),
            object: "chat.completion".into(),
            created: self.created,
            model: self.model.clone(),
            choices: vec![Choice {
                index: 0,
                message: ChatMessage::new("assistant", reply.text.clone()),
                finish_reason: Some(reply.finish_reason.into()),
            }],
            usage: self.usage(reply),
        })
        .unwrap_or_default()
    }

    /// A role chunk, one content chunk per token, a finish chunk, an optional usage chunk, then
    /// `[DONE]`.
    fn stream(&self, reply: &Reply) -> StreamParts {
        let role = Delta {
            role: Some("assistant".into()),
            content: Some(String::new()),
        };
        let tokens = reply
            .token_pieces()
            .map(|piece| {
                let delta = Delta {
                    role: None,
                    content: Some(piece.to_string()),
                };
                self.chunk(delta, None, None)
            })
            .collect();
        let mut tail = vec![self.chunk(Delta::default(), Some(reply.finish_reason), None)];
        if self.include_usage {
            tail.push(self.chunk(Delta::default(), None, Some(self.usage(reply))));
        }
        tail.push(Bytes::from_static(b"data: [DONE]\n\n"));
        StreamParts {
            head: vec![self.chunk(role, None, None)],
            tokens,
            tail,
        }
    }
}

/// The older API's shape: `{"reply": "..."}`, never streamed.
struct LegacyDialect;

impl Dialect for LegacyDialect {
    fn answer(&self, reply: &Reply) -> Vec<u8> {
        serde_json::to_vec(&LegacyChatResponse {
            reply: reply.text.clone(),
        })
        .unwrap_or_default()
    }

    fn stream(&self, reply: &Reply) -> StreamParts {
        StreamParts {
            head: Vec::new(),
            tokens: Vec::new(),
            tail: vec![Bytes::from(self.answer(reply))],
        }
    }
}

/// `POST /v1/chat/completions`.
pub(crate) async fn chat_completions(State(state): State<MockState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let req: ChatCompletionRequest = match read_json(&state, &parts.headers, body).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    if req.messages.is_empty() {
        return ApiError::invalid_request(
            "Invalid 'messages': empty array. Expected an array with minimum length 1.".into(),
            Some("messages".into()),
        )
        .into_response();
    }
    let (permit, queued) = match admit(&state).await {
        Ok(a) => a,
        Err(e) => return overloaded(e.into_response()),
    };
    let prompt_tokens = tokens::prompt_tokens(&req.messages);
    let info = RequestInfo {
        route: Route::ChatCompletions,
        api_key: bearer(&parts.headers),
        model: &req.model,
        prompt_tokens,
        prompt_hash: hash::conversation_hash(&req.messages)
            ^ hash::stable_hash(req.model.as_bytes()),
        max_tokens: req.token_limit(),
        queued,
    };
    let decision = state.engine().decide(Instant::now(), &info);
    let dialect = ChatDialect {
        id: text::hex_id("chatcmpl-", state.inner.id_salt, decision.sequence, 8),
        created: state.created(&decision),
        model: req.model.clone(),
        include_usage: req.stream_options.as_ref().is_some_and(|o| o.include_usage),
        prompt_tokens,
    };
    let answering = Answering {
        route: Route::ChatCompletions,
        model: req.model,
        stream: req.stream.unwrap_or(false),
        finish_abandoned: state.inner.gate.finishes_abandoned(),
    };
    carry_out(decision, &answering, &dialect, permit).await
}

/// `POST /v1/chat`: the older API, one prompt in, one reply out.
pub(crate) async fn legacy_chat(State(state): State<MockState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let req: LegacyChatRequest = match read_json(&state, &parts.headers, body).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let (permit, queued) = match admit(&state).await {
        Ok(a) => a,
        Err(e) => return overloaded(e.into_response()),
    };
    let messages = [ChatMessage::new("user", req.prompt.clone())];
    let info = RequestInfo {
        route: Route::LegacyChat,
        api_key: bearer(&parts.headers),
        model: "",
        prompt_tokens: tokens::legacy_prompt_tokens(&req.prompt),
        prompt_hash: hash::conversation_hash(&messages),
        max_tokens: None,
        queued,
    };
    let decision = state.engine().decide(Instant::now(), &info);
    let answering = Answering {
        route: Route::LegacyChat,
        model: "legacy".into(),
        stream: false,
        finish_abandoned: state.inner.gate.finishes_abandoned(),
    };
    carry_out(decision, &answering, &LegacyDialect, permit).await
}
