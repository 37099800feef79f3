//! The OpenAI routes: `/v1/chat/completions` (JSON and SSE), the legacy `/v1/chat`, and
//! `/v1/models`. Each parses, asks the engine, and carries the decision out.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{sleep, Instant};

use super::body::{paced, reset, truncated_json};
use super::concurrency::Admission;
use super::errors::ApiError;
use super::{FaultTag, MockState};
use crate::faults::engine::{
    Decision, InjectedFailure, LimitResource, Outcome, RateLimitState, RequestInfo, Route,
};
use crate::text::{self, Reply};
use gauntlet_wire::duration::format_openai_duration;
use gauntlet_wire::openai::{
    ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ChatMessage, Choice, ChunkChoice,
    Delta, LegacyChatRequest, LegacyChatResponse, Model, ModelList, Usage,
};
use gauntlet_wire::{hash, tokens};

/// What a handler knows about the request when it carries out a decision.
struct Ctx {
    route: Route,
    model: String,
    stream: bool,
    include_usage: bool,
    prompt_tokens: u32,
    created: u64,
    id: String,
    finish_abandoned: bool,
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = v
        .strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))?;
    Some(token.trim()).filter(|t| !t.is_empty())
}

async fn read_json<T: DeserializeOwned>(state: &MockState, body: Body) -> Result<T, Response> {
    let limit = state
        .inner
        .max_body
        .load(std::sync::atomic::Ordering::Relaxed);
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(s) = source {
            if s.is::<http_body_util::LengthLimitError>() {
                return ApiError::too_large(limit).into_response();
            }
            source = s.source();
        }
        ApiError::invalid_request(format!("could not read the request body: {e}"), None)
            .into_response()
    })?;
    if let Ok(value) = serde_json::from_slice(&bytes) {
        return Ok(value);
    }
    // Parse again, slowly, only to name the field at fault.
    let de = &mut serde_json::Deserializer::from_slice(&bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let (message, param) = if inner.is_syntax() || inner.is_eof() || path == "." {
            (
                format!("We could not parse the JSON body of your request: {inner}"),
                None,
            )
        } else {
            (format!("Invalid value for '{path}': {inner}"), Some(path))
        };
        ApiError::invalid_request(message, param).into_response()
    })
}

async fn admit(state: &MockState) -> Result<(Option<OwnedSemaphorePermit>, u32), Response> {
    match state.inner.gate.admit().await {
        Admission::Admitted { permit, queued } => Ok((permit, queued)),
        Admission::Overloaded => {
            let mut resp = ApiError::server(503, None).into_response();
            resp.extensions_mut().insert(FaultTag {
                fault: Some("overload"),
                spiked: false,
            });
            Err(resp)
        }
    }
}

/// `POST /v1/chat/completions`.
pub(crate) async fn chat_completions(State(state): State<MockState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let req: ChatCompletionRequest = match read_json(&state, body).await {
        Ok(r) => r,
        Err(resp) => return resp,
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
        Err(resp) => return resp,
    };
    let prompt_tokens = tokens::prompt_tokens(&req.messages);
    let info = RequestInfo {
        route: Route::ChatCompletions,
        api_key: bearer(headers),
        prompt_tokens,
        prompt_hash: hash::conversation_hash(&req.messages)
            ^ hash::stable_hash(req.model.as_bytes()),
        max_tokens: req.token_limit(),
        queued,
    };
    let now = Instant::now();
    let decision = state.engine().decide(now, &info);
    let ctx = Ctx {
        route: Route::ChatCompletions,
        model: req.model.clone(),
        stream: req.is_stream(),
        include_usage: req.stream_options.as_ref().is_some_and(|o| o.include_usage),
        prompt_tokens,
        created: state.created(&decision),
        id: text::hex_id("chatcmpl-", state.inner.id_salt, decision.sequence, 8),
        finish_abandoned: state.inner.gate.finishes_abandoned(),
    };
    carry_out(decision, &ctx, permit).await
}

/// `POST /v1/chat`: the older API, one prompt in, one reply out.
pub(crate) async fn legacy_chat(State(state): State<MockState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let req: LegacyChatRequest = match read_json(&state, body).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let (permit, queued) = match admit(&state).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let messages = [ChatMessage::new("user", req.prompt.clone())];
    let prompt_tokens = tokens::legacy_prompt_tokens(&req.prompt);
    let info = RequestInfo {
        route: Route::LegacyChat,
        api_key: bearer(headers),
        prompt_tokens,
        prompt_hash: hash::conversation_hash(&messages),
        max_tokens: None,
        queued,
    };
    let now = Instant::now();
    let decision = state.engine().decide(now, &info);
    let ctx = Ctx {
        route: Route::LegacyChat,
        model: "legacy".into(),
        stream: false,
        include_usage: false,
        prompt_tokens,
        created: state.created(&decision),
        id: String::new(),
        finish_abandoned: state.inner.gate.finishes_abandoned(),
    };
    carry_out(decision, &ctx, permit).await
}

/// `GET /v1/models`.
pub(crate) async fn models(State(state): State<MockState>, headers: HeaderMap) -> Response {
    let headers = &headers;
    let now = Instant::now();
    let info = RequestInfo {
        route: Route::Models,
        api_key: bearer(headers),
        prompt_tokens: 0,
        prompt_hash: 0,
        max_tokens: None,
        queued: 0,
    };
    let (decision, names) = {
        let mut engine = state.engine();
        (
            engine.decide(now, &info),
            engine.config().spec().models.clone(),
        )
    };
    if decision.outcome != Outcome::Serve {
        let ctx = Ctx {
            route: Route::Models,
            model: String::new(),
            stream: false,
            include_usage: false,
            prompt_tokens: 0,
            created: 0,
            id: String::new(),
            finish_abandoned: false,
        };
        return carry_out(decision, &ctx, None).await;
    }
    let created = state.inner.options.epoch_secs;
    Json(ModelList {
        object: "list".into(),
        data: names
            .into_iter()
            .map(|id| Model {
                id,
                object: "model".into(),
                created,
                owned_by: "mock-upstream".into(),
            })
            .collect(),
    })
    .into_response()
}

/// Spends `d` of work on the tokio clock (a zero delay registers no timer). With `finish_abandoned`, the work runs in its own task holding the
/// concurrency slot, so if the client goes away (and this future is dropped) the slot stays
/// busy until the work is done.
async fn work(d: Duration, permit: &mut Option<OwnedSemaphorePermit>, finish_abandoned: bool) {
    if d.is_zero() {
        return;
    }
    match permit.take() {
        Some(p) if finish_abandoned => {
            let (tx, rx) = tokio::sync::oneshot::channel();
            tokio::spawn(async move {
                sleep(d).await;
                let _ = tx.send(p);
            });
            *permit = rx.await.ok();
        }
        other => {
            *permit = other;
            sleep(d).await;
        }
    }
}

async fn carry_out(
    decision: Decision,
    ctx: &Ctx,
    mut permit: Option<OwnedSemaphorePermit>,
) -> Response {
    let tag = FaultTag {
        fault: decision.outcome.fault_label(),
        spiked: decision.spiked,
    };
    let mut resp = match decision.outcome {
        Outcome::Serve | Outcome::Fail(_) if decision.reply.is_none() => {
            // Only `/v1/models` gets here, and it answers itself.
            StatusCode::OK.into_response()
        }
        Outcome::Serve => {
            let reply = &decision.reply.expect("checked above").render();
            if ctx.stream {
                work(
                    decision.stream.first_token,
                    &mut permit,
                    ctx.finish_abandoned,
                )
                .await;
                stream_response(ctx, reply, decision.stream.per_token, None, permit)
            } else {
                work(decision.delay, &mut permit, ctx.finish_abandoned).await;
                success_json(ctx, reply)
            }
        }
        Outcome::Unauthorized { provided } => ApiError::unauthorized(provided).into_response(),
        Outcome::Gone => ApiError::gone(ctx.route.path()).into_response(),
        Outcome::Outage(status) => ApiError::server(status, None).into_response(),
        Outcome::OutageReset => reset(),
        Outcome::QuotaExhausted => ApiError::quota_exhausted().into_response(),
        Outcome::RateLimited {
            resource,
            retry_after,
            limit,
            requested,
        } => {
            let view = match resource {
                LimitResource::Requests => decision.rate_limits.requests,
                LimitResource::Tokens => decision.rate_limits.tokens,
            };
            let used = limit.saturating_sub(view.map(|v| v.remaining).unwrap_or(0));
            ApiError::rate_limited(&ctx.model, resource, limit, used, requested, retry_after)
                .into_response()
        }
        Outcome::Fail(failure) => {
            let reply = &decision.reply.expect("checked above").render();
            let wait = if ctx.stream {
                decision.stream.first_token
            } else {
                decision.delay
            };
            work(wait, &mut permit, ctx.finish_abandoned).await;
            match failure {
                InjectedFailure::Status(s) => ApiError::server(s, None).into_response(),
                InjectedFailure::Reset => reset(),
                InjectedFailure::Hang(d) => {
                    sleep(d).await;
                    reset()
                }
                InjectedFailure::Truncate if ctx.stream => {
                    let pieces = reply.tokens as usize;
                    stream_response(
                        ctx,
                        reply,
                        decision.stream.per_token,
                        Some(1 + pieces / 2),
                        permit,
                    )
                }
                InjectedFailure::Truncate => truncated_json(success_bytes(ctx, reply)),
                InjectedFailure::Malformed => malformed(ctx),
                InjectedFailure::Empty => empty(ctx),
            }
        }
    };
    add_rate_limit_headers(resp.headers_mut(), &decision.rate_limits);
    if tag.fault.is_some() || tag.spiked {
        resp.extensions_mut().insert(tag);
    }
    resp
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

fn add_rate_limit_headers(h: &mut HeaderMap, limits: &RateLimitState) {
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

fn usage(ctx: &Ctx, reply: &Reply) -> Usage {
    Usage {
        prompt_tokens: ctx.prompt_tokens,
        completion_tokens: reply.tokens,
        total_tokens: ctx.prompt_tokens + reply.tokens,
    }
}

fn success_bytes(ctx: &Ctx, reply: &Reply) -> Vec<u8> {
    let result = if ctx.route == Route::LegacyChat {
        serde_json::to_vec(&LegacyChatResponse {
            reply: reply.text.clone(),
        })
    } else {
        serde_json::to_vec(&ChatCompletion {
            id: ctx.id.clone(),
            object: "chat.completion".into(),
            created: ctx.created,
            model: ctx.model.clone(),
            choices: vec![Choice {
                index: 0,
                message: ChatMessage::new("assistant", reply.text.clone()),
                finish_reason: Some(reply.finish_reason.into()),
            }],
            usage: usage(ctx, reply),
        })
    };
    result.unwrap_or_default()
}

fn success_json(ctx: &Ctx, reply: &Reply) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        success_bytes(ctx, reply),
    )
        .into_response()
}

fn chunk(ctx: &Ctx, delta: Delta, finish: Option<&str>, usage: Option<Usage>) -> Bytes {
    let c = ChatCompletionChunk {
        id: ctx.id.clone(),
        object: "chat.completion.chunk".into(),
        created: ctx.created,
        model: ctx.model.clone(),
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
    };
    let mut line = b"data: ".to_vec();
    line.extend(serde_json::to_vec(&c).unwrap_or_default());
    line.extend(b"\n\n");
    Bytes::from(line)
}

/// The SSE answer: a role chunk, one content chunk per token, a finish chunk, an optional usage
/// chunk, then `[DONE]`; `cut_at` breaks it off before that piece.
fn stream_response(
    ctx: &Ctx,
    reply: &Reply,
    per_token: Duration,
    cut_at: Option<usize>,
    permit: Option<OwnedSemaphorePermit>,
) -> Response {
    let mut pieces = Vec::with_capacity(reply.tokens as usize + 4);
    let role = Delta {
        role: Some("assistant".into()),
        content: Some(String::new()),
    };
    pieces.push((Duration::ZERO, chunk(ctx, role, None, None)));
    for (i, piece) in reply.token_pieces().enumerate() {
        let delay = if i == 0 { Duration::ZERO } else { per_token };
        let delta = Delta {
            role: None,
            content: Some(piece.to_string()),
        };
        pieces.push((delay, chunk(ctx, delta, None, None)));
    }
    pieces.push((
        Duration::ZERO,
        chunk(ctx, Delta::default(), Some(reply.finish_reason), None),
    ));
    if ctx.include_usage {
        pieces.push((
            Duration::ZERO,
            chunk(ctx, Delta::default(), None, Some(usage(ctx, reply))),
        ));
    }
    pieces.push((Duration::ZERO, Bytes::from_static(b"data: [DONE]\n\n")));
    let body = paced(pieces, cut_at, permit);
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

fn malformed(ctx: &Ctx) -> Response {
    let (content_type, body): (&str, &'static [u8]) = if ctx.stream {
        ("text/event-stream", b"data: {\"id\":\"chatcmpl-broken\",\"choices\":[{\"delta\":{\"content\":\"unterminated\n\n")
    } else {
        ("application/json", b"{\"id\":\"chatcmpl-broken\",\"object\":\"chat.completion\",\"choices\":[{\"message\":{\"content\":\"unterminated")
    };
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

fn empty(ctx: &Ctx) -> Response {
    let content_type = if ctx.stream {
        "text/event-stream"
    } else {
        "application/json"
    };
    ([(header::CONTENT_TYPE, content_type)], Body::empty()).into_response()
}
