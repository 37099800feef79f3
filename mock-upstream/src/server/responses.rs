//! The Responses API (`POST /v1/responses`, JSON and SSE): its request checks, the context a
//! `previous_response_id` brings, and its [`Dialect`](super::dialect::Dialect).
//!
//! Every fault of the fault file applies as on chat completions, through the same
//! [`carry_out`]; only the shapes differ.

mod checks;
mod dialect;
mod output;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use super::errors::ApiError;
use super::handler::{admit, bearer, carry_out, overloaded, read_json, Answering};
use super::responses_store::Conversation;
use super::MockState;
use crate::faults::engine::{Outcome, RequestInfo, Route};
use crate::text;
use dialect::ResponsesDialect;
use gauntlet_wire::hash::stable_hash;
use gauntlet_wire::openai::responses::{
    ResponseInput, ResponseRequest, ResponseStatus, TextConfig, TextFormat,
};

/// Hex digits after the 16 of the salt in `resp_…` and `msg_…` ids: 48 in
/// all, as long as the API's.
const ID_DIGITS: usize = 32;

/// `POST /v1/responses`.
pub(crate) async fn create_response(State(state): State<MockState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let req: ResponseRequest = match read_json(&state, &parts.headers, body).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let input = match checks::check(&req) {
        Ok(input) => input,
        Err(e) => return e.into_response(),
    };
    let earlier = match earlier_turns(&state, &req) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let prompt_hash = prompt_hash(&req, input, earlier);
    let draw = {
        let engine = state.engine();
        checks::Draw {
            seed: engine.seed() ^ prompt_hash,
            auto_call_share: engine.config().spec().tools.auto_call_share.0,
        }
    };
    let output = match checks::output(&req, draw) {
        Ok(o) => o,
        Err(e) => return e.into_response(),
    };
    let (permit, queued, origin) = match admit(&state, &parts).await {
        Ok(a) => a,
        Err(e) => return overloaded(e.into_response()),
    };
    let input_tokens = req.input_tokens().saturating_add(earlier.tokens);
    let info = RequestInfo {
        route: Route::Responses,
        api_key: bearer(&parts.headers),
        model: &req.model,
        prompt_tokens: input_tokens,
        prompt_hash,
        max_tokens: req.max_output_tokens,
        queued,
    };
    let decision = state.engine().decide(Instant::now(), &info);
    let salt = state.inner.id_salt;
    let seq = decision.sequence;
    let id = text::hex_id("resp_", salt, seq, ID_DIGITS);
    let dialect = ResponsesDialect::new(
        template(&req, id.clone(), state.created(&decision)),
        output,
        text::hex_id("msg_", salt, seq, ID_DIGITS),
        input_tokens,
    );
    // Only a response that is answered is stored; its reply is rendered again for that (the
    // plan is a pure function of the seed and the prompt, so the text is the one sent).
    let stored = (req.is_stored() && decision.outcome == Outcome::Serve)
        .then_some(decision.reply)
        .flatten();
    let answering = Answering {
        route: Route::Responses,
        model: req.model.clone(),
        stream: req.is_stream(),
        finish_abandoned: state.inner.gate.finishes_abandoned(),
        pacing: state.inner.options.pacing,
        origin,
    };
    let resp = carry_out(decision, &answering, &dialect, permit).await;
    if let Some(plan) = stored {
        let conversation = (dialect.turns(&plan.render()).iter())
            .fold(earlier.with_input(input), |c, (role, text)| {
                c.with_turn(role, text)
            });
        state.inner.responses.insert(&id, conversation);
    }
    resp
}

/// The conversation `previous_response_id` continues (none without it), or the API's 400 when
/// that response is not stored.
fn earlier_turns(state: &MockState, req: &ResponseRequest) -> Result<Conversation, ApiError> {
    let Some(id) = req.previous_response_id.as_deref() else {
        return Ok(Conversation::default());
    };
    state.inner.responses.get(id).ok_or_else(|| {
        let mut e = ApiError::invalid_request(
            format!("Previous response with id '{id}' not found."),
            Some("previous_response_id".into()),
        );
        e.body.code = Some("previous_response_not_found".into());
        e
    })
}

/// The hash that fixes the answer: earlier turns, then the instructions (as a `system` turn),
/// then the input, and the model — so without earlier turns it is chat completions' hash of the
/// same conversation.
fn prompt_hash(req: &ResponseRequest, input: &ResponseInput, earlier: Conversation) -> u64 {
    let mut c = earlier;
    if let Some(i) = &req.instructions {
        c = c.with_turn("system", i);
    }
    c.with_input(input).hash ^ stable_hash(req.model.as_bytes())
}

/// The response as first announced: the request's settings echoed with the API's defaults,
/// `in_progress`, no output and no usage.
fn template(
    req: &ResponseRequest,
    id: String,
    created_at: u64,
) -> gauntlet_wire::openai::responses::Response {
    gauntlet_wire::openai::responses::Response {
        id,
        object: "response".into(),
        created_at,
        status: ResponseStatus::InProgress,
        error: None,
        incomplete_details: None,
        instructions: req.instructions.clone(),
        max_output_tokens: req.max_output_tokens,
        metadata: req.metadata.clone().unwrap_or_default(),
        model: req.model.clone(),
        output: Vec::new(),
        parallel_tool_calls: req.parallel_tool_calls.unwrap_or(true),
        previous_response_id: req.previous_response_id.clone(),
        store: req.is_stored(),
        temperature: Some(req.temperature.unwrap_or(1.0)),
        text: TextConfig {
            format: Some(
                req.text
                    .as_ref()
                    .and_then(|t| t.format.clone())
                    .unwrap_or(TextFormat::Text),
            ),
        },
        tool_choice: req.tool_choice.clone().unwrap_or_default(),
        tools: req.tools.clone(),
        top_p: Some(1.0),
        truncation: "disabled".into(),
        usage: None,
    }
}
