//! The adapter: Gauntlet's `ChatRequest` to the upstream's API version and back, with errors
//! classified. It is the innermost layer: one call is one upstream attempt.
//!
//! A request's [`Route`] picks the endpoint. Chat requests follow `api`: `openai-chat` speaks
//! `/v1/chat/completions`; `legacy` speaks `/v1/chat` with `{prompt}`; `auto` starts on the
//! legacy API and moves to the newer one for good on 410 Gone or 404, the way an integration
//! survives a provider's migration without a redeploy. Responses requests go to `/v1/responses`
//! (see [`responses`]) and embeddings to `/v1/embeddings` (see [`embeddings`]), whatever `api`
//! says: every answer comes back as the one response type, so the other layers never tell the
//! routes apart.

mod chat_asks;
mod embeddings;
mod headers;
mod responses;
mod responses_stream;
mod sse;
pub mod tool_call_stream;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use gauntlet_wire::openai::{ErrorEnvelope, LegacyChatRequest, LegacyChatResponse, StreamOptions};
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tower::Service;

use super::error::ClientError;
use super::observer::{Event, SharedObserver};
use super::request::{ChatRequest, ChatResponse, Outcome, Route};
use super::transport::{Transport, TransportBody, TransportError};
pub use headers::{rate_limit_info, retry_hint, MAX_RETRY_HINT};
use responses_stream::ResponsesStream;
pub use sse::{SseError, SseReader};

/// Which API the upstream speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApiVersion {
    /// `POST /v1/chat/completions`.
    #[default]
    #[serde(rename = "openai-chat")]
    OpenAiChat,
    /// `POST /v1/chat` with `{"prompt": ...}`.
    #[serde(rename = "legacy")]
    Legacy,
    /// Legacy until the upstream says 410 or 404, then `openai-chat` for good.
    #[serde(rename = "auto")]
    Auto,
}

/// `[client.adapter]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdapterConfig {
    /// `openai-chat` (the default), `legacy` or `auto`.
    #[serde(default)]
    pub api: ApiVersion,
    /// Base URL of the upstream (`http://127.0.0.1:8089`); set by the driver for the embedded mock.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Key sent when a request names none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// Largest response body read, a stream's frames counted together: a longer answer is
    /// malformed, so a hostile upstream cannot grow the buffer without bound.
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: usize,
    /// Speak HTTP/2 (prior knowledge for `http://`, ALPN for `https://`) instead of HTTP/1.1.
    #[serde(default)]
    pub http2: bool,
}

fn default_base_url() -> String {
    "http://127.0.0.1:8089".into()
}

fn default_max_response_bytes() -> usize {
    8 * 1024 * 1024
}

impl Default for AdapterConfig {
    fn default() -> Self {
        Self {
            api: ApiVersion::default(),
            base_url: default_base_url(),
            api_key: None,
            max_response_bytes: default_max_response_bytes(),
            http2: false,
        }
    }
}

/// The innermost service: one call, one upstream attempt.
#[derive(Clone, Debug)]
pub struct Adapter {
    transport: Transport,
    config: Arc<AdapterConfig>,
    uris: Arc<Uris>,
    on_new_api: Arc<AtomicBool>,
    observer: SharedObserver,
}

/// Parsed once: the endpoints and the default key's header.
#[derive(Debug)]
struct Uris {
    chat: Result<http::Uri, InvalidBaseUrl>,
    legacy: Result<http::Uri, InvalidBaseUrl>,
    responses: Result<http::Uri, InvalidBaseUrl>,
    embeddings: Result<http::Uri, InvalidBaseUrl>,
    bearer: Option<http::HeaderValue>,
    /// `Host` for plain HTTP/1.1, which the connection pool would otherwise format anew for
    /// every request (`host:port`); `None` where the pool must choose (HTTPS may become h2).
    host: Option<http::HeaderValue>,
}

/// `adapter.base_url` does not make a URL with an endpoint's path appended. Kept, not returned by
/// [`Adapter::new`], so every request fails with it as a connect error that the report shows.
#[derive(Debug, thiserror::Error)]
#[error("base_url {base_url:?}: {source}")]
struct InvalidBaseUrl {
    base_url: String,
    source: http::uri::InvalidUri,
}

/// The request body, borrowing the request's fields instead of copying them.
#[derive(Serialize)]
struct OutgoingChat<'a> {
    model: &'a str,
    messages: &'a [gauntlet_wire::openai::ChatMessage],
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<Vec<gauntlet_wire::openai::Tool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<gauntlet_wire::openai::ToolChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<gauntlet_wire::openai::ResponseFormat>,
}

/// The parts of a `chat.completion` the client uses; the rest is skipped unread.
#[derive(Deserialize)]
struct IncomingChat {
    choices: Vec<IncomingChoice>,
    #[serde(default)]
    usage: Option<gauntlet_wire::openai::Usage>,
}

#[derive(Deserialize)]
struct IncomingChoice {
    message: IncomingMessage,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct IncomingMessage {
    #[serde(default)]
    content: Option<gauntlet_wire::openai::MessageContent>,
    #[serde(default)]
    tool_calls: Option<Vec<gauntlet_wire::openai::ToolCall>>,
}

impl Adapter {
    /// An adapter over `transport`; a `base_url` that does not parse fails each request instead of
    /// this.
    pub fn new(transport: Transport, config: AdapterConfig, observer: SharedObserver) -> Self {
        let on_new_api = config.api != ApiVersion::Legacy && config.api != ApiVersion::Auto;
        let base = config.base_url.trim_end_matches('/');
        let parse = |path: &str| {
            format!("{base}{path}")
                .parse::<http::Uri>()
                .map_err(|source| InvalidBaseUrl {
                    base_url: config.base_url.clone(),
                    source,
                })
        };
        let chat = parse("/v1/chat/completions");
        let host = chat
            .as_ref()
            .ok()
            .filter(|u| u.scheme() == Some(&http::uri::Scheme::HTTP) && !config.http2)
            .and_then(|u| {
                let host = u.host()?;
                let value = match u.port_u16() {
                    Some(port) if port != 80 => format!("{host}:{port}"),
                    _ => host.to_string(),
                };
                http::HeaderValue::try_from(value).ok()
            });
        let uris = Uris {
            chat,
            legacy: parse("/v1/chat"),
            responses: parse("/v1/responses"),
            embeddings: parse("/v1/embeddings"),
            bearer: config
                .api_key
                .as_ref()
                .and_then(|k| http::HeaderValue::try_from(format!("Bearer {k}")).ok()),
            host,
        };
        Self {
            transport,
            uris: Arc::new(uris),
            config: Arc::new(config),
            on_new_api: Arc::new(AtomicBool::new(on_new_api)),
            observer,
        }
    }

    /// Whether requests currently go to `/v1/chat/completions`.
    pub fn uses_chat_completions(&self) -> bool {
        self.on_new_api.load(Ordering::Relaxed)
    }

    /// The endpoint of `req` on its route, as [`Adapter::wire`] picks it.
    fn uri(&self, req: &ChatRequest, new_api: bool) -> &Result<http::Uri, InvalidBaseUrl> {
        match req.route {
            Route::Chat if new_api => &self.uris.chat,
            Route::Chat => &self.uris.legacy,
            Route::Responses => &self.uris.responses,
            Route::Embeddings => &self.uris.embeddings,
        }
    }

    /// The endpoint and the body of `req` on its route (`new_api`: chat goes to
    /// `/v1/chat/completions` rather than the legacy `/v1/chat`).
    fn wire(
        &self,
        req: &ChatRequest,
        new_api: bool,
    ) -> (
        &Result<http::Uri, InvalidBaseUrl>,
        serde_json::Result<Vec<u8>>,
    ) {
        match req.route {
            Route::Chat => self.chat_wire(req, new_api),
            Route::Responses => (
                &self.uris.responses,
                serde_json::to_vec(&responses::body(req)),
            ),
            Route::Embeddings => (
                &self.uris.embeddings,
                serde_json::to_vec(&embeddings::body(req)),
            ),
        }
    }

    fn chat_wire(
        &self,
        req: &ChatRequest,
        new_api: bool,
    ) -> (
        &Result<http::Uri, InvalidBaseUrl>,
        serde_json::Result<Vec<u8>>,
    ) {
        if new_api {
            let wire = OutgoingChat {
                model: &req.model,
                messages: &req.messages,
                stream: req.stream.then_some(true),
                max_tokens: req.max_tokens,
                temperature: req.temperature,
                stream_options: req.stream.then_some(StreamOptions {
                    include_usage: true,
                }),
                tools: chat_asks::tools(req),
                tool_choice: chat_asks::tool_choice(req),
                response_format: chat_asks::response_format(req),
            };
            // Sized up front: `to_vec` starts small and copies the body as it grows.
            let estimate = 128
                + req.model.len()
                + req
                    .messages
                    .iter()
                    .map(|m| 48 + m.text_ref().len())
                    .sum::<usize>();
            let mut buf = Vec::with_capacity(estimate);
            (
                &self.uris.chat,
                serde_json::to_writer(&mut buf, &wire).map(|()| buf),
            )
        } else {
            let prompt = req
                .messages
                .iter()
                .map(|m| m.text())
                .collect::<Vec<_>>()
                .join("\n");
            (
                &self.uris.legacy,
                serde_json::to_vec(&LegacyChatRequest { prompt }),
            )
        }
    }

    fn build(&self, req: &ChatRequest, new_api: bool) -> Result<http::Request<Bytes>, ClientError> {
        let (uri, body) = match unchanged_body(req, new_api) {
            Some(raw) => (self.uri(req, new_api), raw),
            None => {
                let (uri, body) = self.wire(req, new_api);
                let body = body
                    .and_then(|b| passthrough_body(req, new_api, b))
                    .map_err(|e| ClientError::Malformed(format!("request encoding: {e}")))?;
                (uri, Bytes::from(body))
            }
        };
        let uri = uri
            .as_ref()
            .map_err(|e| ClientError::Connect(e.to_string()))?
            .clone();
        const JSON: http::HeaderValue = http::HeaderValue::from_static("application/json");
        const RETRY_COUNT: http::HeaderName =
            http::HeaderName::from_static("x-stainless-retry-count");
        // Built in place rather than with `http::request::Builder`, which moves the whole
        // request head through a `Result` at every header: this runs once per attempt.
        let mut request = http::Request::new(body);
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = uri;
        let headers = request.headers_mut();
        headers.reserve(4);
        if let Some(host) = &self.uris.host {
            headers.insert(http::header::HOST, host.clone());
        }
        headers.insert(http::header::CONTENT_TYPE, JSON);
        match (&req.api_key, &self.uris.bearer) {
            (Some(key), _) => {
                let bearer = http::HeaderValue::try_from(format!("Bearer {key}"))
                    .map_err(|e| ClientError::Malformed(format!("request: api key: {e}")))?;
                headers.insert(http::header::AUTHORIZATION, bearer);
            }
            (None, Some(bearer)) => {
                headers.insert(http::header::AUTHORIZATION, bearer.clone());
            }
            (None, None) => {}
        }
        let attempt = req.trace.attempts().saturating_sub(1);
        headers.insert(RETRY_COUNT, http::HeaderValue::from(attempt));
        Ok(request)
    }

    async fn attempt(mut self, req: ChatRequest) -> Result<ChatResponse, ClientError> {
        let number = req.trace.add_attempt();
        self.observer.on_event(&Event::Attempt { number });
        let started = Instant::now();
        let new_api = self.uses_chat_completions();
        let resp = self.send(&req, new_api).await?;
        let status = resp.status().as_u16();
        let migrating = req.route == Route::Chat && self.config.api == ApiVersion::Auto;
        if !new_api && (status == 410 || status == 404) && migrating {
            self.on_new_api.store(true, Ordering::Relaxed);
            self.observer
                .on_event(&Event::ApiSwitched { to: "openai-chat" });
            let resp = self.send(&req, true).await?;
            return self.read(resp, &req, true, started).await;
        }
        self.read(resp, &req, new_api, started).await
    }

    async fn send(
        &mut self,
        req: &ChatRequest,
        new_api: bool,
    ) -> Result<http::Response<TransportBody>, ClientError> {
        let request = self.build(req, new_api)?;
        self.transport.call(request).await.map_err(|e| match e {
            TransportError::Connect(m) => ClientError::Connect(m),
            TransportError::Tls(m) => ClientError::Tls(m),
            TransportError::Reset(m) => ClientError::Reset(m),
            TransportError::Other(m) => ClientError::Connect(m),
            TransportError::Malformed(m) => ClientError::Malformed(m),
        })
    }

    async fn read(
        &mut self,
        resp: http::Response<TransportBody>,
        req: &ChatRequest,
        new_api: bool,
        started: Instant,
    ) -> Result<ChatResponse, ClientError> {
        let (parts, body) = resp.into_parts();
        let rate_limit = rate_limit_info(&parts.headers);
        if let Some(info) = rate_limit {
            self.observer.on_event(&Event::RateLimitSeen {
                remaining_requests: info.remaining_requests,
                limit_requests: info.limit_requests,
            });
        }
        let status = parts.status.as_u16();
        if !parts.status.is_success() {
            let bytes = collect(body, 64 * 1024).await.unwrap_or_default();
            if let Some(p) = &req.passthrough {
                p.keep_answer(status, bytes.clone());
            }
            return Err(classify_status(status, &parts.headers, &bytes));
        }
        let streams = match req.route {
            Route::Chat => new_api,
            Route::Responses => true,
            Route::Embeddings => false,
        };
        let streamed = streams
            && req.stream
            && parts
                .headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/event-stream"));
        let limit = self.config.max_response_bytes;
        if streamed {
            let read = match req.route {
                Route::Responses => {
                    let reader = ResponsesStream::default();
                    read_events(body, started, limit, req, reader).await
                }
                _ => read_events(body, started, limit, req, SseReader::default()).await,
            };
            // Read to its end: a timeout from now on is not this stream's.
            req.trace.set_stream_chunks(0);
            let mut reply = read?;
            reply.rate_limit = rate_limit;
            return Ok(reply);
        }
        let bytes = collect(body, limit).await?;
        if bytes.is_empty() {
            return Err(ClientError::Malformed("empty body".into()));
        }
        if let Some(p) = &req.passthrough {
            p.keep_answer(status, bytes.clone());
        }
        let mut reply = match req.route {
            Route::Chat => read_chat(&bytes, new_api)?,
            Route::Responses => responses::answer(&bytes)?,
            Route::Embeddings => embeddings::answer(&bytes, embeddings::inputs(req))?,
        };
        reply.rate_limit = rate_limit;
        Ok(reply)
    }
}

/// The body to send when the request carries a caller's own (a proxy's): the caller's with what
/// the stack changed put in; `generated` as it is otherwise, and for the legacy API, whose body
/// has no fields to carry.
fn passthrough_body(
    req: &ChatRequest,
    new_api: bool,
    generated: Vec<u8>,
) -> serde_json::Result<Vec<u8>> {
    match &req.passthrough {
        Some(p) if new_api || req.route != Route::Chat => {
            let generated = serde_json::from_slice(&generated)?;
            serde_json::to_vec(&p.outgoing(req.route, &req.messages, req.max_tokens, generated))
        }
        _ => Ok(generated),
    }
}

/// The caller's own bytes, when `req` carries them and the stack changed nothing that
/// [`passthrough_body`] would put in: sent as they came, neither parsed nor serialised again.
fn unchanged_body(req: &ChatRequest, new_api: bool) -> Option<Bytes> {
    let p = req.passthrough.as_ref()?;
    if !new_api && req.route == Route::Chat {
        return None;
    }
    p.unchanged(&req.model, &req.messages, req.max_tokens)
}

/// A chat answer's body: a `chat.completion`, or (`new_api` false) the legacy `{reply}`.
fn read_chat(bytes: &[u8], new_api: bool) -> Result<ChatResponse, ClientError> {
    let reply = if new_api {
        let c: IncomingChat = serde_json::from_slice(bytes)
            .map_err(|e| ClientError::Malformed(format!("chat.completion: {e}")))?;
        let choice = c
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| ClientError::Malformed("no choices".into()))?;
        let tool_calls = chat_asks::calls(choice.message.tool_calls);
        let text = match choice.message.content {
            Some(gauntlet_wire::openai::MessageContent::Text(t)) => t,
            Some(parts) => gauntlet_wire::openai::ChatMessage {
                content: Some(parts),
                ..Default::default()
            }
            .text(),
            None => String::new(),
        };
        ChatResponse {
            usage: c.usage,
            finish_reason: choice.finish_reason,
            tool_calls,
            ..ChatResponse::local(text, Outcome::Upstream)
        }
    } else {
        let c: LegacyChatResponse = serde_json::from_slice(bytes)
            .map_err(|e| ClientError::Malformed(format!("legacy reply: {e}")))?;
        ChatResponse::local(c.reply, Outcome::Upstream)
    };
    Ok(reply)
}

impl Service<ChatRequest> for Adapter {
    type Response = ChatResponse;
    type Error = ClientError;
    type Future = BoxFuture<'static, Result<ChatResponse, ClientError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: ChatRequest) -> Self::Future {
        Box::pin(self.clone().attempt(req))
    }
}

async fn collect(mut body: TransportBody, limit: usize) -> Result<Bytes, ClientError> {
    // Most bodies arrive as one frame: kept as they are, without a copy.
    let mut first: Option<Bytes> = None;
    let mut buf = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ClientError::Reset(format!("body cut off: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let held = first.as_ref().map_or(0, Bytes::len) + buf.len();
        if held + data.len() > limit {
            return Err(ClientError::Malformed(format!(
                "response body over {limit} bytes"
            )));
        }
        match first.take() {
            None if buf.is_empty() => first = Some(data),
            None => buf.extend_from_slice(&data),
            Some(f) => {
                buf.extend_from_slice(&f);
                buf.extend_from_slice(&data);
            }
        }
    }
    Ok(first.unwrap_or_else(|| buf.freeze()))
}

/// What reads one route's event stream: bytes in, whether output arrived (for time to first
/// token), and the answer at the end.
trait EventReader {
    /// Feeds bytes as they arrive; whether content came in them.
    fn feed(&mut self, bytes: &[u8]) -> Result<bool, ClientError>;
    /// Content events so far: after the first, a failure is a broken stream.
    fn content_chunks(&self) -> u32;
    /// The answer once the body has ended, or how the stream ended short of it.
    fn finish(self) -> Result<ChatResponse, ClientError>;
}

/// Chat completions: `chat.completion.chunk`s, then `[DONE]`.
impl EventReader for SseReader {
    fn feed(&mut self, bytes: &[u8]) -> Result<bool, ClientError> {
        SseReader::feed(self, bytes).map_err(|e| e.into_client_error())
    }

    fn content_chunks(&self) -> u32 {
        self.content_chunks
    }

    fn finish(self) -> Result<ChatResponse, ClientError> {
        SseReader::finish(&self)?;
        let calls = self.tool_calls.finish();
        Ok(ChatResponse {
            usage: self.usage,
            finish_reason: self.finish_reason,
            tool_calls: chat_asks::calls((!calls.is_empty()).then_some(calls)),
            ..ChatResponse::local(self.text, Outcome::Upstream)
        })
    }
}

/// Responses: typed events, ended by a terminal one.
impl EventReader for ResponsesStream {
    fn feed(&mut self, bytes: &[u8]) -> Result<bool, ClientError> {
        ResponsesStream::feed(self, bytes)
    }

    fn content_chunks(&self) -> u32 {
        self.content_chunks
    }

    fn finish(self) -> Result<ChatResponse, ClientError> {
        ResponsesStream::finish(self)
    }
}

/// Reads a streamed answer to its end. The stream counts against `limit` like a body does, so
/// an endless stream, or one `data:` line of many megabytes, ends as malformed instead of
/// growing the buffer without bound; a stream that sends nothing at all is for the attempt
/// timeout to end.
///
/// With a [`Passthrough`](crate::passthrough::Passthrough) sink, each frame that read well goes
/// to it as it arrives; from the first one on, a failure is a broken stream whatever came
/// before, and the trace counts the stream as started (so a timeout that drops the attempt
/// does not retry it either): the caller already holds those frames.
async fn read_events(
    mut body: TransportBody,
    started: Instant,
    limit: usize,
    req: &ChatRequest,
    mut reader: impl EventReader,
) -> Result<ChatResponse, ClientError> {
    let trace = &req.trace;
    let sink = req.passthrough.as_deref().filter(|p| p.streams());
    let mut ttft = None;
    let mut read = 0usize;
    // Every failure goes through `broken`: after the first content chunk (or forwarded frame)
    // it is a broken stream, not one more failed attempt (see `sse`).
    let broken = |e: ClientError, chunks: u32| match e {
        e @ ClientError::StreamBroken { .. } => e,
        e if chunks == 0 && sink.is_some_and(|p| p.forwarded()) => ClientError::StreamBroken {
            cause: Box::new(e),
            tokens: 0,
        },
        e => e.after_tokens(chunks),
    };
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            broken(
                ClientError::Reset(format!("stream cut off: {e}")),
                reader.content_chunks(),
            )
        })?;
        if let Ok(data) = frame.into_data() {
            read = read.saturating_add(data.len());
            if read > limit {
                return Err(broken(
                    ClientError::Malformed(format!("response stream over {limit} bytes")),
                    reader.content_chunks(),
                ));
            }
            let before = reader.content_chunks();
            let content = reader
                .feed(&data)
                .map_err(|e| broken(e, reader.content_chunks()))?;
            if content {
                trace.set_stream_chunks(reader.content_chunks());
                ttft = ttft.or_else(|| Some(started.elapsed()));
                if let Some(t) = trace.tokens() {
                    let n = reader.content_chunks().saturating_sub(before);
                    t.on_tokens(trace.attempts(), n, Instant::now());
                }
            }
            if let Some(p) = sink {
                p.forward(data).await;
                trace.set_stream_chunks(reader.content_chunks().max(1));
            }
        }
    }
    let chunks = reader.content_chunks();
    let mut reply = reader.finish().map_err(|e| broken(e, chunks))?;
    reply.ttft = ttft;
    Ok(reply)
}

/// Maps a non-2xx answer to the error classification. A status outside 4xx and 5xx (a 1xx or
/// 3xx as the final answer, or 600 to 999, which `http` accepts) is not an answer this client
/// can use: malformed. An unknown 5xx such as 599 stays a server error (RFC 9110 reads an
/// unknown code as its class), which is not retried: only 500, 502, 503 and 504 are.
pub fn classify_status(status: u16, headers: &http::HeaderMap, body: &[u8]) -> ClientError {
    let envelope: Option<ErrorEnvelope> = serde_json::from_slice(body).ok();
    let kind = envelope.as_ref().map(|e| e.error.kind.as_str());
    let code = envelope.as_ref().and_then(|e| e.error.code.as_deref());
    match status {
        429 if kind == Some("insufficient_quota") || code == Some("insufficient_quota") => {
            ClientError::QuotaExhausted
        }
        429 => ClientError::RateLimited {
            retry_after: retry_hint(headers),
        },
        500..=599 => ClientError::Server { status },
        400..=499 => ClientError::Client {
            status,
            message: envelope
                .map(|e| e.error.message)
                .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect()),
        },
        _ => ClientError::Malformed(format!("unexpected status {status}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gauntlet_wire::openai::ChatMessage;
    use http_body_util::{BodyExt, StreamBody};

    fn body_of(frames: &[&'static str]) -> TransportBody {
        let frames: Vec<Result<http_body::Frame<Bytes>, super::super::transport::BoxError>> =
            frames
                .iter()
                .map(|f| Ok(http_body::Frame::data(Bytes::from_static(f.as_bytes()))))
                .collect();
        StreamBody::new(futures_util::stream::iter(frames)).boxed_unsync()
    }

    #[tokio::test]
    async fn a_body_is_read_whole_however_it_is_framed() {
        assert_eq!(
            collect(body_of(&["{\"a\":1}"]), 100).await.unwrap(),
            "{\"a\":1}"
        );
        assert_eq!(
            collect(body_of(&["{\"a\"", ":", "1}"]), 100).await.unwrap(),
            "{\"a\":1}"
        );
        assert_eq!(collect(body_of(&[]), 100).await.unwrap(), "");
        assert_eq!(collect(body_of(&["", "x"]), 100).await.unwrap(), "x");
    }

    #[tokio::test]
    async fn a_bad_base_url_fails_each_request_as_a_connect_error_naming_it() {
        let transport =
            Transport::new(|_| async { Err(TransportError::Other("never called".into())) });
        let config = AdapterConfig {
            base_url: "http://bad host".into(),
            ..AdapterConfig::default()
        };
        let mut adapter = Adapter::new(transport, config, Arc::new(crate::NoopObserver));
        let err = adapter
            .call(ChatRequest::user_text("m", "q"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ClientError::Connect(m) if m.starts_with("base_url \"http://bad host\": ")),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused_in_any_frame() {
        for frames in [
            &["0123456789"][..],
            &["01234", "56789"],
            &["0", "1", "23456789"],
        ] {
            let err = collect(body_of(frames), 9).await.unwrap_err();
            assert!(matches!(err, ClientError::Malformed(m) if m.contains("over 9 bytes")));
        }
        assert!(collect(body_of(&["01234", "5678"]), 9).await.is_ok());
    }

    /// An adapter over a transport that answers `status`, `content_type` and `frames`.
    fn answering(
        status: u16,
        content_type: &'static str,
        frames: Vec<Bytes>,
        max_response_bytes: usize,
    ) -> Adapter {
        let transport = Transport::new(move |_| {
            let frames = frames.clone();
            async move {
                let frames: Vec<
                    Result<http_body::Frame<Bytes>, super::super::transport::BoxError>,
                > = frames
                    .into_iter()
                    .map(|f| Ok(http_body::Frame::data(f)))
                    .collect();
                let body = StreamBody::new(futures_util::stream::iter(frames)).boxed_unsync();
                let mut resp = http::Response::new(body);
                *resp.status_mut() = http::StatusCode::from_u16(status).unwrap();
                resp.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static(content_type),
                );
                Ok(resp)
            }
        });
        let config = AdapterConfig {
            max_response_bytes,
            ..AdapterConfig::default()
        };
        Adapter::new(transport, config, Arc::new(crate::NoopObserver))
    }

    async fn kind_of(adapter: &mut Adapter, stream: bool) -> &'static str {
        let req = ChatRequest {
            stream,
            ..ChatRequest::user_text("m", "q")
        };
        match adapter.call(req).await {
            Ok(_) => "ok",
            Err(e) => e.kind(),
        }
    }

    #[tokio::test]
    async fn malformed_answers_are_classified_never_a_panic() {
        let json = "application/json";
        let big_line = format!("data: {{\"x\":\"{}\"}}\n\n", "a".repeat(10 << 20));
        let cases: Vec<(u16, &str, Vec<Bytes>, bool, &str)> = vec![
            (
                200,
                json,
                vec![Bytes::from_static(b"<html>busy</html>")],
                false,
                "malformed",
            ),
            (
                200,
                json,
                vec![Bytes::from_static(b"{\"choices\":{}}")],
                false,
                "malformed",
            ),
            (
                200,
                json,
                vec![Bytes::from_static(b"[1,2]")],
                false,
                "malformed",
            ),
            (
                200,
                json,
                vec![Bytes::from_static(b"{\"choices\":[]}")],
                false,
                "malformed",
            ),
            (
                200,
                json,
                vec![Bytes::from("[".repeat(100_000))],
                false,
                "malformed",
            ),
            (200, json, vec![], false, "malformed"),
            (204, json, vec![], false, "malformed"),
            (101, json, vec![], false, "malformed"),
            (199, json, vec![], false, "malformed"),
            (302, json, vec![], false, "malformed"),
            (999, json, vec![], false, "malformed"),
            (
                599,
                json,
                vec![Bytes::from_static(b"\xff")],
                false,
                "server_error",
            ),
            (
                429,
                json,
                vec![Bytes::from_static(b"{\"error\": 5}")],
                false,
                "rate_limited",
            ),
            (
                200,
                "text/event-stream",
                vec![Bytes::from_static(b"data: nope\n\n")],
                true,
                "malformed",
            ),
            (
                200,
                "text/event-stream",
                vec![Bytes::from_static(b"garbage\n\n")],
                true,
                "stream_unfinished",
            ),
            (
                200,
                "text/event-stream",
                vec![Bytes::from(big_line.clone())],
                true,
                "malformed",
            ),
            (
                200,
                "text/event-stream",
                vec![Bytes::from(big_line)],
                false,
                "malformed",
            ),
        ];
        for (status, content_type, frames, stream, want) in cases {
            let shown = format!("{status} {:?}", frames.first().map(|f| f.len()));
            let mut adapter = answering(status, content_type, frames, 8 << 20);
            assert_eq!(kind_of(&mut adapter, stream).await, want, "{shown}");
        }
    }

    #[tokio::test]
    async fn the_body_limit_bounds_a_stream_however_it_is_framed() {
        let chunk = Bytes::from_static(b": keep-alive\n\n");
        let mut adapter = answering(200, "text/event-stream", vec![chunk; 100], 14 * 99);
        let err = adapter
            .call(ChatRequest {
                stream: true,
                ..ChatRequest::user_text("m", "q")
            })
            .await
            .unwrap_err();
        assert_eq!(
            err,
            ClientError::Malformed(format!("response stream over {} bytes", 14 * 99))
        );
    }

    /// Each request's path and JSON body, as a test transport saw them.
    type Seen = Arc<std::sync::Mutex<Vec<(String, serde_json::Value)>>>;

    /// An adapter whose transport records each request's path and answers `content_type` and
    /// `body`.
    fn recording(content_type: &'static str, body: String) -> (Adapter, Seen) {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        let transport = Transport::new(move |req: http::Request<Bytes>| {
            let body = body.clone();
            let json = serde_json::from_slice(req.body()).unwrap_or(serde_json::Value::Null);
            log.lock()
                .unwrap()
                .push((req.uri().path().to_string(), json));
            async move {
                let frames: Vec<
                    Result<http_body::Frame<Bytes>, super::super::transport::BoxError>,
                > = vec![Ok(http_body::Frame::data(Bytes::from(body)))];
                let mut resp = http::Response::new(
                    StreamBody::new(futures_util::stream::iter(frames)).boxed_unsync(),
                );
                resp.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static(content_type),
                );
                Ok(resp)
            }
        });
        let adapter = Adapter::new(
            transport,
            AdapterConfig::default(),
            Arc::new(crate::NoopObserver),
        );
        (adapter, seen)
    }

    #[tokio::test]
    async fn the_callers_bytes_go_as_sent_unless_the_stack_changed_the_body() {
        use crate::passthrough::Passthrough;
        let sent = Arc::new(std::sync::Mutex::new(Vec::<Bytes>::new()));
        let log = sent.clone();
        let answer = r#"{"choices":[{"message":{"content":"hi"},"finish_reason":"stop"}]}"#;
        let transport = Transport::new(move |req: http::Request<Bytes>| {
            log.lock().unwrap().push(req.body().clone());
            async move {
                let frames: Vec<
                    Result<http_body::Frame<Bytes>, super::super::transport::BoxError>,
                > = vec![Ok(http_body::Frame::data(Bytes::from_static(
                    answer.as_bytes(),
                )))];
                Ok(http::Response::new(
                    StreamBody::new(futures_util::stream::iter(frames)).boxed_unsync(),
                ))
            }
        });
        let mut adapter = Adapter::new(
            transport,
            AdapterConfig::default(),
            Arc::new(crate::NoopObserver),
        );
        let raw = Bytes::from_static(
            br#"{ "model": "a",  "messages": [{"role":"user","content":"q"}], "top_p": 0.5 }"#,
        );
        let request = |raw: Option<Bytes>| {
            let body = serde_json::from_slice::<serde_json::Value>(&raw_of(&raw)).unwrap();
            let serde_json::Value::Object(body) = body else {
                unreachable!()
            };
            let req = ChatRequest::user_text("a", "q");
            let p = Passthrough::new(body, req.messages.clone(), None);
            let p = match raw {
                Some(r) => p.with_raw(r),
                None => p,
            };
            ChatRequest {
                passthrough: Some(Arc::new(p)),
                ..req
            }
        };
        fn raw_of(raw: &Option<Bytes>) -> Bytes {
            raw.clone().unwrap_or_else(|| {
                Bytes::from_static(br#"{"model":"a","messages":[{"role":"user","content":"q"}]}"#)
            })
        }
        adapter.call(request(Some(raw.clone()))).await.unwrap();
        let changed_model = ChatRequest {
            model: "b".into(),
            ..request(Some(raw.clone()))
        };
        adapter.call(changed_model).await.unwrap();
        let mut changed_messages = request(Some(raw.clone()));
        changed_messages
            .messages
            .insert(0, ChatMessage::new("system", "s"));
        adapter.call(changed_messages).await.unwrap();
        adapter.call(request(None)).await.unwrap();

        let sent = sent.lock().unwrap().clone();
        assert_eq!(sent[0], raw, "nothing changed: the caller's bytes");
        let json = |b: &Bytes| serde_json::from_slice::<serde_json::Value>(b).unwrap();
        assert_ne!(sent[1], raw);
        assert_eq!(json(&sent[1])["model"], "b");
        assert_eq!(json(&sent[1])["top_p"], 0.5);
        assert_eq!(json(&sent[2])["messages"][0]["role"], "system");
        assert_eq!(json(&sent[2])["model"], "a");
        assert_eq!(
            json(&sent[3]),
            serde_json::json!({"model": "a", "messages": [{"role": "user", "content": "q"}]}),
            "no bytes kept: built as before"
        );
    }

    #[tokio::test]
    async fn each_route_goes_to_its_endpoint_and_reads_its_answer() {
        let embedding = r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5]}],"model":"m","usage":{"prompt_tokens":3,"total_tokens":3}}"#;
        let (mut adapter, seen) = recording("application/json", embedding.into());
        let req = ChatRequest {
            route: Route::Embeddings,
            stream: true,
            ..ChatRequest::user_text("m", "q")
        };
        let r = adapter.call(req).await.unwrap();
        assert_eq!(r.embeddings, vec![vec![0.5]]);
        assert_eq!(r.usage.map(|u| u.completion_tokens), Some(0));
        let (path, body) = seen.lock().unwrap()[0].clone();
        assert_eq!(path, "/v1/embeddings");
        assert_eq!(body["input"], "q");

        let completed = r#"{"type":"response.completed","sequence_number":2,"response":{"id":"resp_1","object":"response","created_at":1,"status":"completed","error":null,"incomplete_details":null,"instructions":null,"max_output_tokens":null,"metadata":{},"model":"m","output":[{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hi","annotations":[]}]}],"parallel_tool_calls":true,"previous_response_id":null,"store":false,"temperature":1.0,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":1.0,"truncation":"disabled","usage":{"input_tokens":5,"input_tokens_details":{"cached_tokens":0},"output_tokens":1,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":6}}}"#;
        let stream = format!(
            "event: response.output_text.delta\ndata: {}\n\nevent: response.completed\ndata: {completed}\n\n",
            r#"{"type":"response.output_text.delta","sequence_number":1,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"}"#
        );
        let (mut adapter, seen) = recording("text/event-stream", stream);
        let req = ChatRequest {
            route: Route::Responses,
            stream: true,
            ..ChatRequest::user_text("m", "q")
        };
        let r = adapter.call(req).await.unwrap();
        assert_eq!(
            (r.text.as_str(), r.finish_reason.as_deref()),
            ("Hi", Some("stop"))
        );
        assert!(r.ttft.is_some());
        assert_eq!(r.usage.map(|u| u.total_tokens), Some(6));
        let (path, body) = seen.lock().unwrap()[0].clone();
        assert_eq!(path, "/v1/responses");
        assert_eq!(body["input"][0]["content"], "q");
        assert_eq!(body["stream"], true);
    }
}
