//! Chat completions (`POST /v1/chat/completions`, JSON and SSE) and the legacy `POST /v1/chat`:
//! their request checks and their [`Dialect`]s.

mod answer;
mod checks;
mod choices;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tokio::time::Instant;

use super::dialect::{Dialect, StreamParts};
use super::handler::{admit, bearer, carry_out, overloaded, read_json, Answering};
use super::MockState;
use crate::faults::engine::{RequestInfo, Route};
use crate::text::{self, Reply};
use answer::ChatDialect;
use choices::{choice_seed, ChoicePlan};
use gauntlet_wire::openai::{
    ChatCompletionRequest, ChatMessage, LegacyChatRequest, LegacyChatResponse,
};
use gauntlet_wire::{hash, tokens};

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
    if let Err(e) = checks::check(&req) {
        return e.into_response();
    }
    let (permit, queued, origin) = match admit(&state, &parts).await {
        Ok(a) => a,
        Err(e) => return overloaded(e.into_response()),
    };
    let prompt_tokens = tokens::prompt_tokens(&req.messages);
    // The request's `seed` is part of what the answer is drawn from.
    let seed_mix = req.seed.map_or(0, |s| hash::stable_hash(&s.to_le_bytes()));
    let prompt_hash =
        hash::conversation_hash(&req.messages) ^ hash::stable_hash(req.model.as_bytes()) ^ seed_mix;
    let info = RequestInfo {
        route: Route::ChatCompletions,
        api_key: bearer(&parts.headers),
        model: &req.model,
        prompt_tokens,
        prompt_hash,
        max_tokens: req.token_limit(),
        queued,
    };
    let decision = state.engine().decide(Instant::now(), &info);
    let dialect = ChatDialect {
        id: text::hex_id("chatcmpl-", state.inner.id_salt, decision.sequence, 8),
        created: state.created(&decision),
        model: req.model.clone(),
        fingerprint: format!("fp_{:010x}", state.inner.id_salt >> 24),
        include_usage: req.stream_options.as_ref().is_some_and(|o| o.include_usage),
        prompt_tokens,
        plan: plan(&state, &req, prompt_hash),
    };
    let answering = Answering {
        route: Route::ChatCompletions,
        model: req.model,
        stream: req.stream.unwrap_or(false),
        finish_abandoned: state.inner.gate.finishes_abandoned(),
        pacing: state.inner.options.pacing,
        origin,
    };
    carry_out(decision, &answering, &dialect, permit).await
}

/// The choices' tool calls, format and extra replies, drawn from the mock's seed and the
/// prompt's hash (which holds the request's `seed`).
fn plan(state: &MockState, req: &ChatCompletionRequest, prompt_hash: u64) -> ChoicePlan {
    let n = req.n.unwrap_or(1).clamp(1, checks::MAX_CHOICES);
    let base = state.inner.id_salt ^ prompt_hash.rotate_left(23);
    // The engine's lock is taken a second time only for what needs it (not on the hot path
    // of one plain choice without tools).
    let has_tools = req.tools.as_ref().is_some_and(|t| !t.is_empty());
    let (seed, length, share) = if n > 1 || has_tools {
        let engine = state.engine();
        let spec = engine.config().spec();
        (
            engine.seed(),
            (n > 1).then(|| spec.reply.distribution()),
            spec.tools.auto_call_share.0,
        )
    } else {
        (0, None, 0.0)
    };
    let other_replies = match length {
        Some(length) => (1..n)
            .map(|i| {
                let hash = choice_seed(prompt_hash, i);
                text::plan_reply(seed, hash, &length, req.token_limit()).render()
            })
            .collect(),
        None => Vec::new(),
    };
    ChoicePlan {
        calls: choices::tool_calls(req, n, base, share),
        format: choices::format(req),
        other_replies,
        stops: req
            .stop
            .as_ref()
            .map(|s| s.sequences().to_vec())
            .unwrap_or_default(),
        limit: req.token_limit(),
        seeds: (0..n)
            .map(|i| choice_seed(base.rotate_left(11), i))
            .collect(),
    }
}

/// `POST /v1/chat`: the older API, one prompt in, one reply out.
pub(crate) async fn legacy_chat(State(state): State<MockState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let req: LegacyChatRequest = match read_json(&state, &parts.headers, body).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let (permit, queued, origin) = match admit(&state, &parts).await {
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
        pacing: state.inner.options.pacing,
        origin,
    };
    carry_out(decision, &answering, &LegacyDialect, permit).await
}
