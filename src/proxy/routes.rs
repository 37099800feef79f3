//! The three completion routes through the stack: the caller's body read and parsed, sent
//! through the stack, and the answer (plain, streamed, or replayed as a stream) or refusal sent
//! back. `/v1/models` is passed through ([`super::routes_models`]) and the operational endpoints
//! are in [`super::routes_ops`]; the headers and records every answer carries are in
//! [`super::routes_mark`].

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use gauntlet_client::{ChatRequest, ChatResponse, Outcome, Route};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::metrics::BODY_TOO_LARGE;
use super::routes_error::ProxyError;
use super::routes_mark::{mark, quota, refuse, upstream_spoke, Done};
use super::routes_parse::parse;
use super::server::App;
use super::{routes_answer, stream, stream_replay};

pub use super::routes_models::{model, models};
pub use super::routes_ops::{healthz, metrics, readyz};

/// Frames a stream may hold between the adapter and a slow caller before the read waits.
const SINK_FRAMES: usize = 64;

/// `POST /v1/chat/completions`.
pub async fn chat(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    complete(app, Route::Chat, headers, body).await
}

/// `POST /v1/responses`.
pub async fn responses(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    complete(app, Route::Responses, headers, body).await
}

/// `POST /v1/embeddings`.
pub async fn embeddings(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    complete(app, Route::Embeddings, headers, body).await
}

async fn complete(app: Arc<App>, route: Route, headers: HeaderMap, body: Body) -> Response {
    let id = app.request_id(&headers);
    let mut done = Done {
        app: app.clone(),
        id: id.clone(),
        route,
        caller: None,
        started: Instant::now(),
        stream: false,
    };
    let bytes = match axum::body::to_bytes(body, app.config.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => {
            let e = ProxyError::own(
                413,
                format!(
                    "The request body is over the proxy's limit of {} bytes",
                    app.config.max_body_bytes
                ),
                "invalid_request_error",
                Some("request_too_large"),
                BODY_TOO_LARGE,
            );
            return refuse(&done, e, 0);
        }
    };
    let parsed = match parse(route, &bytes) {
        Ok(p) => p,
        Err(e) => return refuse(&done, *e, 0),
    };
    let mut parsed = parsed;
    if let Err(e) = app.identify(&headers, &mut parsed.request) {
        return refuse(&done, *e, 0);
    }
    done.caller = parsed.request.user.clone();
    done.stream = parsed.request.stream;
    let model = parsed.request.model.clone();
    if done.stream {
        let (tx, rx) = mpsc::channel(SINK_FRAMES);
        let req = parsed.into_request(Some(tx));
        streamed(done, req, rx, model).await
    } else {
        let req = parsed.into_request(None);
        plain(done, req, model).await
    }
}

/// The stack's send, bounded by `upstream_timeout` when one is set.
async fn send(app: &App, req: ChatRequest) -> Result<ChatResponse, gauntlet_client::ClientError> {
    let call = app.stack.send(req);
    match app.config.upstream_timeout {
        Some(d) => tokio::time::timeout(d, call).await.unwrap_or(Err(
            gauntlet_client::ClientError::Timeout {
                scope: gauntlet_client::TimeoutScope::Total,
            },
        )),
        None => call.await,
    }
}

async fn plain(done: Done, req: ChatRequest, model: String) -> Response {
    let app = done.app.clone();
    let passthrough = req.passthrough.clone();
    let trace = req.trace.clone();
    let result = send(&app, req).await;
    let answer = passthrough.as_ref().and_then(|p| p.answer());
    if upstream_spoke(answer.as_ref(), result.as_ref()) {
        app.health.upstream_answered();
    }
    match result {
        Ok(resp) => {
            let body = match (&answer, resp.outcome) {
                (Some(a), Outcome::Upstream | Outcome::Queued)
                    if (200..300).contains(&a.status) =>
                {
                    a.body.clone()
                }
                _ => Bytes::from(
                    routes_answer::body(done.route, &model, &done.id, &resp).to_string(),
                ),
            };
            quota(&app, resp.rate_limit);
            done.record(200, resp.outcome.as_str(), resp.attempts);
            let mut r = (StatusCode::OK, body).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            mark(
                r,
                &done.id,
                resp.attempts,
                resp.outcome.as_str(),
                Some(resp.outcome),
            )
        }
        Err(e) => {
            let err = ProxyError::from_client(&e, answer, app.hints.0, app.hints.1);
            refuse(&done, err, trace.attempts())
        }
    }
}

async fn streamed(
    done: Done,
    req: ChatRequest,
    mut rx: mpsc::Receiver<Bytes>,
    model: String,
) -> Response {
    let app = done.app.clone();
    let trace = req.trace.clone();
    let passthrough = req.passthrough.clone();
    let stack = app.clone();
    let mut running: stream::Running = tokio::spawn(async move { send(&stack, req).await });
    let first = tokio::select! {
        biased;
        Some(frame) = rx.recv() => Ok(frame),
        r = &mut running => Err(r.unwrap_or_else(|e| Err(gauntlet_client::ClientError::Reset(format!("proxy task: {e}"))))),
    };
    match first {
        Ok(frame) => {
            app.health.upstream_answered();
            let attempts = trace.attempts();
            let log = done.clone();
            let on_end: stream::OnEnd = Box::new(move |outcome, rate_limit| {
                quota(&log.app, rate_limit);
                log.record(200, outcome, attempts);
            });
            let body = stream::pass_through(frame, rx, running, done.route, app.hints, on_end);
            let r = sse(Body::from_stream(body));
            mark(r, &done.id, attempts, "upstream", Some(Outcome::Upstream))
        }
        Err(Ok(resp)) => {
            // Answered without a stream to this caller: replayed as one.
            if resp.outcome == Outcome::Upstream {
                app.health.upstream_answered();
            }
            quota(&app, resp.rate_limit);
            let frames = stream_replay::frames(done.route, &model, &done.id, &resp);
            done.record(200, resp.outcome.as_str(), resp.attempts);
            let body = futures_util::stream::iter(
                frames.into_iter().map(Ok::<_, std::convert::Infallible>),
            );
            let r = sse(Body::from_stream(body));
            mark(
                r,
                &done.id,
                resp.attempts,
                resp.outcome.as_str(),
                Some(resp.outcome),
            )
        }
        Err(Err(e)) => {
            let answer = passthrough.as_ref().and_then(|p| p.answer());
            if upstream_spoke(answer.as_ref(), Err(&e)) {
                app.health.upstream_answered();
            }
            let err = ProxyError::from_client(&e, answer, app.hints.0, app.hints.1);
            refuse(&done, err, trace.attempts())
        }
    }
}

fn sse(body: Body) -> Response {
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}
