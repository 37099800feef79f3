//! Anthropic's Messages API, `POST /v1/messages` (JSON and SSE), on the same fault engine as
//! every other route: its checks ([`check`]), its [`Dialect`](super::dialect::Dialect)
//! ([`answer`]), its refusals ([`refusal`]) and its tool calls ([`tools`]).
//!
//! The key comes from `x-api-key` (or a bearer token); every answer carries `request-id`, the
//! same id as the error body's `request_id` and the mock's `x-request-id`.

mod answer;
mod check;
mod refusal;
mod rfc3339;
mod tools;

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use tokio::time::Instant;

use super::handler::{admit, bearer, carry_out, overloaded, read_json, Answering};
use super::MockState;
use crate::faults::engine::{RequestInfo, Route};
use crate::text;
use answer::MessagesDialect;
use refusal::Refusal;

/// Anthropic's request-id header (the mock's observe layer keeps it as `x-request-id` too).
const REQUEST_ID: HeaderName = HeaderName::from_static("request-id");

/// `POST /v1/messages`.
pub(crate) async fn messages(State(state): State<MockState>, request: Request) -> Response {
    let request_id = state.next_request_id();
    let mut resp = answer(&state, request, &request_id).await;
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    resp
}

async fn answer(state: &MockState, request: Request, request_id: &str) -> Response {
    let (parts, body) = request.into_parts();
    if let Err(r) = check::version(&parts.headers) {
        return r.into_response(request_id);
    }
    let value: serde_json::Value = match read_json(state, &parts.headers, body).await {
        Ok(v) => v,
        Err(e) => return Refusal::from_api(&e).into_response(request_id),
    };
    let req = match check::parse(value).and_then(|r| check::request(&r).map(|()| r)) {
        Ok(r) => r,
        Err(r) => return r.into_response(request_id),
    };
    let calls = match tool_calls(state, &req) {
        Ok(c) => c,
        Err(r) => return r.into_response(request_id),
    };
    let (permit, queued, origin) = match admit(state, &parts).await {
        Ok(a) => a,
        Err(e) => return overloaded(Refusal::from_api(&e).into_response(request_id)),
    };
    let input_tokens = req.input_tokens();
    let info = RequestInfo {
        route: Route::Messages,
        api_key: bearer(&parts.headers),
        model: &req.model,
        prompt_tokens: input_tokens,
        prompt_hash: req.conversation_hash(),
        max_tokens: Some(req.max_tokens),
        queued,
    };
    let decision = state.engine().decide(Instant::now(), &info);
    let dialect = MessagesDialect {
        id: text::hex_id("msg_", state.inner.id_salt, decision.sequence, 8),
        model: req.model.clone(),
        input_tokens,
        stop_sequences: req.stop_sequences.clone().unwrap_or_default(),
        request_id: request_id.to_string(),
        now: Duration::from_secs(state.inner.options.epoch_secs).saturating_add(decision.offset),
        calls,
    };
    let answering = Answering {
        route: Route::Messages,
        stream: req.is_stream(),
        model: req.model,
        finish_abandoned: state.inner.gate.finishes_abandoned(),
        pacing: state.inner.options.pacing,
        origin,
    };
    carry_out(decision, &answering, &dialect, permit).await
}

/// The answer's tool calls, decided from the mock's seed and the conversation (so the same
/// request calls the same tools with the same inputs), before the engine is asked: a bad
/// `tool_choice` is a 400 that costs no rate limit.
fn tool_calls(
    state: &MockState,
    req: &gauntlet_wire::anthropic::MessagesRequest,
) -> Result<Vec<crate::content::ToolCall>, Refusal> {
    if req.tools.is_none() && req.tool_choice.is_none() {
        return Ok(Vec::new());
    }
    let (seed, share) = {
        let engine = state.engine();
        (
            engine.seed(),
            engine.config().spec().tools.auto_call_share.0,
        )
    };
    tools::calls(req, seed ^ req.conversation_hash(), share)
}
