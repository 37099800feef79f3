//! The routes: the three completion routes through the stack, `/v1/models` passed through, and
//! the operational endpoints. Every answer carries `x-request-id` and `x-gauntlet-attempts`
//! (and `x-gauntlet-outcome`; a fallback or stale answer `x-gauntlet-fallback: true`).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use gauntlet_client::passthrough::UpstreamAnswer;
use gauntlet_client::transport::TransportError;
use gauntlet_client::{ChatRequest, ChatResponse, ClientError, Outcome, RateLimitInfo, Route};
use http_body_util::BodyExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::access_log::{write_line, AccessLine};
use super::metrics::BODY_TOO_LARGE;
use super::routes_error::{ProxyError, TLS_PREFIX};
use super::routes_parse::parse;
use super::server::App;
use super::{routes_answer, stream, stream_replay};

/// Frames a stream may hold between the adapter and a slow caller before the read waits.
const SINK_FRAMES: usize = 64;

/// Largest `/v1/models` answer passed through.
const MAX_MODELS_BYTES: usize = 1 << 20;

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

/// The path of `route`, as metrics and the access log name it.
fn path(route: Route) -> &'static str {
    match route {
        Route::Chat => "/v1/chat/completions",
        Route::Responses => "/v1/responses",
        Route::Embeddings => "/v1/embeddings",
    }
}

/// What one request's log line and metrics need, gathered as it goes.
#[derive(Debug, Clone)]
struct Done {
    app: Arc<App>,
    id: String,
    route: Route,
    caller: Option<String>,
    started: Instant,
    stream: bool,
}

impl Done {
    fn record(&self, status: u16, outcome: &str, attempts: u32) {
        let latency = self.started.elapsed();
        record(
            &self.app,
            AccessLine {
                request_id: &self.id,
                route: path(self.route),
                caller: self.caller.as_deref(),
                status,
                outcome,
                attempts,
                latency,
                stream: self.stream,
                prompt: None,
            },
        );
    }
}

/// One finished request: counted in `/metrics` and written as an access line on stderr (the
/// prompt never: the proxy has no setting that logs it).
fn record(app: &App, line: AccessLine<'_>) {
    app.metrics
        .request_done(line.route, line.outcome, line.status, line.latency);
    let _ = write_line(&mut std::io::stderr().lock(), &line);
}

/// Whether the upstream gave this request an HTTP answer (success or error status), for
/// `/readyz`: a body the adapter kept, an answer the stack says came from upstream, or an error
/// that only an upstream's answer gives (a status, a stream's error event or its cut-off after
/// the head). Connect, reset, timeouts and `malformed` (which the transport also uses for a
/// response it could not parse as HTTP) do not count.
fn upstream_spoke(
    answer: Option<&UpstreamAnswer>,
    result: Result<&ChatResponse, &ClientError>,
) -> bool {
    answer.is_some()
        || match result {
            Ok(r) => r.outcome == Outcome::Upstream,
            Err(e) => matches!(
                e,
                ClientError::RateLimited { .. }
                    | ClientError::QuotaExhausted
                    | ClientError::Server { .. }
                    | ClientError::Client { .. }
                    | ClientError::StreamError(_)
                    | ClientError::StreamUnfinished
                    | ClientError::StreamBroken { .. }
            ),
        }
}

/// What the upstream said about its quota, when the stack's answer carried the headers.
fn quota(app: &App, rate_limit: Option<RateLimitInfo>) {
    if let Some(rl) = rate_limit {
        app.metrics
            .upstream_quota(rl.remaining_requests, rl.remaining_tokens);
    }
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
    app.identify(&headers, &mut parsed.request);
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

fn refuse(done: &Done, e: ProxyError, attempts: u32) -> Response {
    done.record(e.status, e.outcome, attempts);
    let outcome = e.outcome;
    mark(e.into_response(), &done.id, attempts, outcome, None)
}

/// The headers every answer carries.
fn mark(mut r: Response, id: &str, attempts: u32, outcome: &str, how: Option<Outcome>) -> Response {
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(id) {
        h.insert("x-request-id", v);
    }
    h.insert("x-gauntlet-attempts", HeaderValue::from(attempts));
    if let Ok(v) = HeaderValue::from_str(outcome) {
        h.insert("x-gauntlet-outcome", v);
    }
    if matches!(how, Some(Outcome::Fallback | Outcome::Stale)) {
        h.insert("x-gauntlet-fallback", HeaderValue::from_static("true"));
    }
    r
}

/// `GET /v1/models`.
pub async fn models(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    pass_get(app, "/v1/models".into(), headers).await
}

/// `GET /v1/models/{id}`.
pub async fn model(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if id.is_empty()
        || id.len() > 256
        || !id
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'/' && b != b'?' && b != b'#')
    {
        return ProxyError::bad_request("the model id is not valid".into(), Some("model"))
            .into_response();
    }
    pass_get(app, format!("/v1/models/{id}"), headers).await
}

/// A GET passed to the upstream as it is (with the key the proxy sends), its status and body
/// back as they came; counted and logged under `/v1/models`.
async fn pass_get(app: Arc<App>, path: String, headers: HeaderMap) -> Response {
    let id = app.request_id(&headers);
    let started = Instant::now();
    let (r, outcome) = match fetch(&app, &path, &headers).await {
        Ok(r) => (r, Outcome::Upstream.as_str()),
        Err(e) => {
            let outcome = e.outcome;
            (e.into_response(), outcome)
        }
    };
    record(
        &app,
        AccessLine {
            request_id: &id,
            route: "/v1/models",
            caller: None,
            status: r.status().as_u16(),
            outcome,
            attempts: 1,
            latency: started.elapsed(),
            stream: false,
            prompt: None,
        },
    );
    mark(r, &id, 1, outcome, None)
}

/// The upstream's answer to `GET path`, or why there is none.
async fn fetch(app: &App, path: &str, headers: &HeaderMap) -> Result<Response, ProxyError> {
    let upstream_error =
        |m: String, outcome| ProxyError::own(502, m, "upstream_error", None, outcome);
    let uri = format!("{}{path}", app.config.upstream.trim_end_matches('/'));
    let mut req = http::Request::new(Bytes::new());
    *req.uri_mut() = uri
        .parse()
        .map_err(|_| upstream_error("bad upstream URL".into(), "connect"))?;
    if let Some(key) = app.key_for(headers) {
        if let Ok(v) = HeaderValue::from_str(&format!("Bearer {key}")) {
            req.headers_mut().insert(header::AUTHORIZATION, v);
        }
    }
    let call = tower::ServiceExt::oneshot(app.transport.clone(), req);
    let limit = app
        .config
        .upstream_timeout
        .unwrap_or(Duration::from_secs(60));
    let resp = match tokio::time::timeout(limit, call).await {
        Ok(Ok(r)) => r,
        Ok(Err(TransportError::Connect(m))) if m.starts_with(TLS_PREFIX) => {
            return Err(upstream_error(m, "connect"))
        }
        Ok(Err(e)) => return Err(upstream_error(format!("upstream: {e}"), "connect")),
        Err(_) => {
            return Err(ProxyError::own(
                504,
                "upstream timeout".into(),
                "timeout",
                Some("timeout"),
                "timeout_total",
            ))
        }
    };
    app.health.upstream_answered();
    let (parts, body) = resp.into_parts();
    let body = capped(body, MAX_MODELS_BYTES)
        .await
        .map_err(|m| upstream_error(format!("upstream body: {m}"), "reset"))?;
    let mut r = (parts.status, body).into_response();
    if let Some(ct) = parts.headers.get(header::CONTENT_TYPE) {
        r.headers_mut().insert(header::CONTENT_TYPE, ct.clone());
    }
    Ok(r)
}

/// A body read whole, up to `limit` bytes.
async fn capped(
    mut body: gauntlet_client::transport::TransportBody,
    limit: usize,
) -> Result<Bytes, String> {
    let mut buf = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| e.to_string())?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                return Err(format!("over {limit} bytes"));
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}

/// `GET /metrics`.
pub async fn metrics(State(app): State<Arc<App>>) -> Response {
    let mut r = app.metrics.render(&app.stack).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}

/// `GET /healthz`: the process serves.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: 200 when the upstream answered recently or the breaker is closed.
pub async fn readyz(State(app): State<Arc<App>>) -> Response {
    if app.health.ready(app.stack.breaker_state()) {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the breaker is open\n",
        )
            .into_response()
    }
}
