//! What every API route does the same way: read the key and the JSON body, pass the concurrency
//! gate, and carry out the engine's decision — latency, refusals, injected failures, pacing —
//! in the route's [`Dialect`].

use std::time::Duration;

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{sleep, Instant};

use super::body::{paced, reset, truncated_json};
use super::concurrency::Admission;
use super::dialect::{paced_parts, Dialect};
use super::errors::ApiError;
use super::stream_faults::{answer_fault, stream_fault};
use super::{FaultTag, MockState, Pacing};
use crate::faults::engine::{Decision, InjectedFailure, LimitResource, Outcome, Route};

/// What [`carry_out`] needs to know about the request besides its dialect.
#[derive(Debug, Clone)]
pub(crate) struct Answering {
    /// Named in a 410 when the route is deprecated.
    pub(crate) route: Route,
    /// Named in a 429's message, as OpenAI does.
    pub(crate) model: String,
    /// Whether the client asked for a stream.
    pub(crate) stream: bool,
    /// From the concurrency gate: whether a slot stays busy when the client goes away.
    pub(crate) finish_abandoned: bool,
    /// Which clock ends the first token's wait and the stream's gaps (the mock's option).
    pub(crate) pacing: Pacing,
    /// Where the configured latency and time to first token are counted from ([`admit`]).
    pub(crate) origin: Instant,
}

/// When a request's head reached the mock, stamped by the outermost layer: the latency a fault
/// file gives is counted from here, so reading and parsing the body, the engine's decision and
/// rendering the answer come out of it instead of adding a millisecond on top.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Arrived(pub(crate) Instant);

/// The bearer token, from `Authorization: Bearer …` or Anthropic's `x-api-key`.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get(header::AUTHORIZATION) {
        let v = v.to_str().ok()?;
        let token = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))?;
        return Some(token.trim()).filter(|t| !t.is_empty());
    }
    let v = headers.get("x-api-key")?.to_str().ok()?;
    Some(v.trim()).filter(|t| !t.is_empty())
}

/// Reads the body (bounded by the fault file's `max_body_bytes`) as `T`; a 400 when the
/// `Content-Type` is not JSON (as the real API answers), a 413 over the limit, or a 400 that
/// names the field at fault.
pub(crate) async fn read_json<T: DeserializeOwned>(
    state: &MockState,
    headers: &HeaderMap,
    body: Body,
) -> Result<T, ApiError> {
    require_json(headers)?;
    let limit = state
        .inner
        .max_body
        .load(std::sync::atomic::Ordering::Relaxed);
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(s) = source {
            if s.is::<http_body_util::LengthLimitError>() {
                return ApiError::too_large(limit);
            }
            source = s.source();
        }
        ApiError::invalid_request(format!("could not read the request body: {e}"), None)
    })?;
    crate::upstream_view::note::body(&bytes);
    if let Ok(value) = serde_json::from_slice(&bytes) {
        return Ok(value);
    }
    // Parse again, slowly, only to name the field at fault.
    let de = &mut serde_json::Deserializer::from_slice(&bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() || path == "." {
            ApiError::invalid_request(
                format!("We could not parse the JSON body of your request: {inner}"),
                None,
            )
        } else {
            ApiError::invalid_request(format!("Invalid value for '{path}': {inner}"), Some(path))
        }
    })
}

/// Refuses a body declared as anything but JSON; a missing `Content-Type` is let through, as
/// curl without `-H` sends none and the real API accepts it.
fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let essence = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json" || essence.ends_with("+json") {
        return Ok(());
    }
    Err(ApiError::invalid_request(
        format!(
            "Invalid Content-Type header ({}), expected application/json.",
            value.to_str().unwrap_or("not text")
        ),
        Some("Content-Type".into()),
    ))
}

/// A slot of the concurrency gate, how many requests were queued before it, and the
/// [`Answering::origin`] of the request.
pub(crate) type Admitted = (Option<OwnedSemaphorePermit>, u32, Instant);

/// Passes the concurrency gate: a slot, or a 503. The origin is the request's arrival moved on by
/// its wait in the gate's queue: a queued request waits for its slot *and then* its latency, as
/// on a saturated server, while the mock's own handling is counted inside the latency.
pub(crate) async fn admit(state: &MockState, parts: &Parts) -> Result<Admitted, ApiError> {
    let before = Instant::now();
    let arrived = parts.extensions.get::<Arrived>().map_or(before, |a| a.0);
    match state.inner.gate.admit().await {
        Admission::Admitted { permit, queued } => Ok((permit, queued, arrived + before.elapsed())),
        Admission::Overloaded => Err(ApiError::server(503, None)),
    }
}

/// The 503 of a full gate (in the route's error shape), tagged for the stats as an overload.
pub(crate) fn overloaded(mut resp: Response) -> Response {
    resp.extensions_mut().insert(FaultTag {
        fault: Some("overload"),
        spiked: false,
    });
    resp
}

/// Spends `d` of work on the tokio clock (a zero delay registers no timer). With
/// `finish_abandoned`, the work runs in its own task holding the concurrency slot, so if the
/// client goes away (and this future is dropped) the slot stays busy until the work is done.
async fn work(d: Duration, permit: &mut Option<OwnedSemaphorePermit>, req: &Answering) {
    let (finish_abandoned, pacing) = (req.finish_abandoned, req.pacing);
    if d.is_zero() {
        return;
    }
    match permit.take() {
        Some(p) if finish_abandoned => {
            let (tx, rx) = tokio::sync::oneshot::channel();
            tokio::spawn(async move {
                pacing.sleep(d).await;
                let _ = tx.send(p);
            });
            *permit = rx.await.ok();
        }
        other => {
            *permit = other;
            pacing.sleep(d).await;
        }
    }
}

/// Answers as the engine decided, in the route's dialect, with its rate-limit headers and the
/// fault tag the stats read.
pub(crate) async fn carry_out(
    decision: Decision,
    req: &Answering,
    dialect: &dyn Dialect,
    mut permit: Option<OwnedSemaphorePermit>,
) -> Response {
    // The latency is counted from the request's origin (see [`Arrived`]): what the mock spends
    // on the request comes out of it rather than on top of it.
    let left = |d: Duration| d.saturating_sub(req.origin.elapsed());
    let tag = FaultTag {
        fault: decision.outcome.fault_label(),
        spiked: decision.spiked,
    };
    let charged = decision
        .reply
        .as_ref()
        .map(|r| u64::from(decision.prompt_tokens) + u64::from(r.tokens));
    crate::upstream_view::note::decided(decision.prompt_tokens, charged);
    let mut resp = match decision.outcome.clone() {
        Outcome::Serve | Outcome::Fail(_) if decision.reply.is_none() => {
            // Only routes without a reply (`/v1/models`) get here, and they answer themselves.
            StatusCode::OK.into_response()
        }
        Outcome::Serve => {
            let reply = &decision.reply.expect("checked above").render();
            // The answer is built before the wait, so building it does not add to the time
            // the fault file gave (200 ms of TTFT is 200 ms from the decision, not 202).
            if req.stream {
                let pieces = paced_parts(dialect.stream(reply), decision.stream.per_token);
                work(left(decision.stream.first_token), &mut permit, req).await;
                stream_response(paced(pieces, None, permit, req.pacing))
            } else {
                let body = dialect.answer(reply);
                work(left(decision.delay), &mut permit, req).await;
                json_response(body)
            }
        }
        Outcome::Fail(failure) => {
            let reply = &decision.reply.expect("checked above").render();
            let wait = if req.stream {
                decision.stream.first_token
            } else {
                decision.delay
            };
            work(left(wait), &mut permit, req).await;
            fail(
                failure,
                req,
                dialect,
                reply,
                decision.stream.per_token,
                permit,
            )
            .await
        }
        refusal => refuse(refusal, &decision, req, dialect),
    };
    dialect.rate_limit_headers(resp.headers_mut(), &decision.rate_limits);
    if tag.fault.is_some() || tag.spiked {
        resp.extensions_mut().insert(tag);
    }
    resp
}

/// The answers that need no reply: 401, 404 `model_not_found`, 410, outages, quota and rate
/// limits.
fn refuse(
    outcome: Outcome,
    decision: &Decision,
    req: &Answering,
    dialect: &dyn Dialect,
) -> Response {
    let error = match outcome {
        Outcome::Unauthorized { provided } => ApiError::unauthorized(provided),
        Outcome::Gone => ApiError::gone(req.route.path()),
        Outcome::Outage(status) => ApiError::server(status, None),
        Outcome::OutageReset => return reset(),
        Outcome::QuotaExhausted => ApiError::quota_exhausted(),
        Outcome::ModelNotFound => ApiError::model_not_found(&req.model),
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
            ApiError::rate_limited(&req.model, resource, limit, used, requested, retry_after)
        }
        Outcome::Serve | Outcome::Fail(_) => {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    };
    dialect.error(error)
}

/// An injected failure, after the latency was spent; the mid-stream ones are
/// [`super::stream_faults`]'.
async fn fail(
    failure: InjectedFailure,
    req: &Answering,
    dialect: &dyn Dialect,
    reply: &crate::text::Reply,
    per_token: Duration,
    permit: Option<OwnedSemaphorePermit>,
) -> Response {
    match failure {
        InjectedFailure::Status(s) => dialect.error(ApiError::server(s, None)),
        InjectedFailure::Reset => reset(),
        InjectedFailure::Hang(d) => {
            sleep(d).await;
            reset()
        }
        InjectedFailure::Truncate if req.stream => {
            let parts = dialect.stream(reply);
            let cut = parts.head.len() + parts.tokens.len() / 2;
            stream_response(paced(
                paced_parts(parts, per_token),
                Some(cut),
                permit,
                req.pacing,
            ))
        }
        InjectedFailure::Truncate => truncated_json(dialect.answer(reply)),
        InjectedFailure::Malformed => dialect.malformed(req.stream),
        InjectedFailure::Empty => dialect.empty(req.stream),
        InjectedFailure::StreamError { .. }
        | InjectedFailure::Stall { .. }
        | InjectedFailure::Unfinished { .. }
        | InjectedFailure::EarlyLength { .. } => {
            let carried = if req.stream {
                stream_fault(failure, dialect, reply, per_token, permit, req.pacing)
            } else {
                answer_fault(failure, dialect, reply).await
            };
            carried.unwrap_or_else(|| StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
    }
}

/// A 200 JSON answer.
pub(crate) fn json_response(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A 200 `text/event-stream` answer.
pub(crate) fn stream_response(body: Body) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}
