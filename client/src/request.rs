//! Gauntlet's own request and response types, independent of the upstream API version.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gauntlet_wire::openai::responses::{
    FunctionCall, FunctionTool, JsonSchemaFormat, ToolChoiceMode,
};
use gauntlet_wire::openai::{ChatMessage, Usage};
use serde::{Deserialize, Serialize};

/// A chat request as the application sees it. The adapter turns it into whatever API version
/// the upstream speaks, so every other layer works on one shape.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    /// The API route it goes to; part of the cache key, as each route answers differently.
    pub route: Route,
    /// The model to ask for; part of the cache key.
    pub model: String,
    /// The new turn(s); the context layer prepends the system prompt and history.
    pub messages: Vec<ChatMessage>,
    /// Sent upstream as `max_tokens`; part of the cache key, as a lower limit can give a shorter
    /// answer.
    pub max_tokens: Option<u32>,
    /// Sent upstream; part of the cache key, to the thousandth.
    pub temperature: Option<f32>,
    /// Ask for a streamed answer (time to first token is then measured); embeddings do not
    /// stream, so the adapter ignores it there.
    pub stream: bool,
    /// Functions the model may call, sent as each route writes a function tool; part of the
    /// cache key, as the answer is a call to one of them.
    pub tools: Vec<FunctionTool>,
    /// `tool_choice` sent with the tools (`required` for a tool-call request); part of the
    /// cache key.
    pub tool_choice: Option<ToolChoiceMode>,
    /// A JSON Schema the answer must follow (chat's `response_format`, Responses' `text.format`);
    /// part of the cache key.
    pub response_format: Option<JsonSchemaFormat>,
    /// Dialogue session, for the context layer.
    pub session: Option<String>,
    /// End user, for fair sharing of a small quota.
    pub user: Option<String>,
    /// Interactive requests go before batch ones when the limiter queues.
    pub priority: Priority,
    /// The API key (tenant) this request is sent with; `None` uses the transport's default.
    pub api_key: Option<String>,
    /// What happened to this request across layers and attempts; shared with the caller so it
    /// can be read even when the request fails.
    pub trace: Arc<Trace>,
    /// A proxy's caller's own body and stream sink (see [`crate::passthrough`]); `None` for a
    /// request the application built, which the adapter writes from the fields above alone.
    pub passthrough: Option<Arc<crate::passthrough::Passthrough>>,
}

impl ChatRequest {
    /// A one-message user request with defaults.
    pub fn user_text(model: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            route: Route::default(),
            model: model.into(),
            messages: vec![ChatMessage::new("user", text)],
            max_tokens: None,
            temperature: None,
            stream: false,
            tools: Vec::new(),
            tool_choice: None,
            response_format: None,
            session: None,
            user: None,
            priority: Priority::Interactive,
            api_key: None,
            trace: Arc::new(Trace::default()),
            passthrough: None,
        }
    }
}

/// The API a request goes to. One request type serves every route, so every layer (cache,
/// limiter, retry, breaker, fallback) works on all of them; only the adapter tells them apart.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Route {
    /// `POST /v1/chat/completions` (or the legacy `/v1/chat`, as the adapter's `api` says).
    #[default]
    Chat,
    /// `POST /v1/responses`: the messages become `instructions` and `input` items.
    Responses,
    /// `POST /v1/embeddings`: the messages' text is the `input`; the answer has no completion.
    Embeddings,
}

impl Route {
    /// Every route, in declaration order: the one list the workload's mix, the reports' by-route
    /// figures and the adapter's endpoints derive from.
    pub const ALL: [Route; 3] = [Route::Chat, Route::Responses, Route::Embeddings];

    /// Lower-case name, as in `[workload.mix]` and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Chat => "chat",
            Route::Responses => "responses",
            Route::Embeddings => "embeddings",
        }
    }

    /// Position in [`Route::ALL`], for counters kept in arrays.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Whether the route's answer is generated text (and so can stream, call a tool, or follow
    /// a schema); embeddings answer with vectors only.
    pub fn completes(self) -> bool {
        self != Route::Embeddings
    }
}

/// Which class a request waits in while the limiter queues with `priorities` on; no other layer
/// reads it.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// A person is waiting.
    #[default]
    Interactive,
    /// Background work that can wait.
    Batch,
}

impl Priority {
    /// Every class, the one list that reports and metric names derive from.
    pub const ALL: [Priority; 2] = [Priority::Interactive, Priority::Batch];

    /// Lower-case name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Interactive => "interactive",
            Priority::Batch => "batch",
        }
    }
}

/// Per-request record written by the layers (attempts, waits) and read by the driver.
#[derive(Debug, Default)]
pub struct Trace {
    attempts: AtomicU32,
    limiter_wait_us: AtomicU64,
    retry_wait_us: AtomicU64,
    /// Content chunks of the stream being read now: a timeout that drops the attempt reads it
    /// to tell a stalled stream that broke after content from one that never started.
    stream_chunks: AtomicU32,
    /// Told when each streamed content chunk arrives (a load driver's inter-token latency).
    tokens: Option<Arc<dyn TokenObserver>>,
    /// The model that answered, when the model chain moved past the one asked for.
    answered_by: std::sync::OnceLock<String>,
    /// Set when a batch request's deferral ran out, so the fallback's queue step (and any
    /// retry) does not make it wait for spare quota a second time.
    deferral_expired: std::sync::atomic::AtomicBool,
}

/// Told the arrival time of a streamed answer's content chunks, as the adapter reads them, so a
/// caller can measure inter-token latency without the client keeping any of it.
pub trait TokenObserver: Send + Sync + std::fmt::Debug {
    /// `count` content chunks of attempt `attempt` (1 = first) arrived together at `at`.
    fn on_tokens(&self, attempt: u32, count: u32, at: tokio::time::Instant);
}

impl Trace {
    /// A trace that tells `tokens` when streamed content arrives.
    pub fn with_tokens(tokens: Arc<dyn TokenObserver>) -> Self {
        Self {
            tokens: Some(tokens),
            ..Self::default()
        }
    }

    /// Where streamed content arrivals go, if anywhere.
    pub fn tokens(&self) -> Option<&dyn TokenObserver> {
        self.tokens.as_deref()
    }

    /// Called by the innermost service (the adapter, or a test double) as each attempt starts;
    /// returns its number (1 = first) for [`Event::Attempt`](crate::Event::Attempt).
    pub fn add_attempt(&self) -> u32 {
        self.stream_chunks.store(0, Ordering::Relaxed);
        self.attempts.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Set by the adapter as a stream's content arrives, and back to 0 when it has been read.
    pub fn set_stream_chunks(&self, n: u32) {
        self.stream_chunks.store(n, Ordering::Relaxed);
    }

    /// Content chunks of the stream being read when the attempt was dropped (0 when none was).
    pub fn stream_chunks(&self) -> u32 {
        self.stream_chunks.load(Ordering::Relaxed)
    }

    /// Adds time spent waiting in the limiter.
    pub fn add_limiter_wait(&self, d: Duration) {
        self.limiter_wait_us
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    /// Adds time spent in retry backoff.
    pub fn add_retry_wait(&self, d: Duration) {
        self.retry_wait_us
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    /// Upstream attempts so far: 0 when the cache or a local layer answered.
    pub fn attempts(&self) -> u32 {
        self.attempts.load(Ordering::Relaxed)
    }

    /// Total time spent waiting in the limiter.
    pub fn limiter_wait(&self) -> Duration {
        Duration::from_micros(self.limiter_wait_us.load(Ordering::Relaxed))
    }

    /// Total time spent in retry backoff.
    pub fn retry_wait(&self) -> Duration {
        Duration::from_micros(self.retry_wait_us.load(Ordering::Relaxed))
    }

    /// Set by the model chain when a model other than the one asked for answered (the first
    /// such model is kept).
    pub fn set_answered_by(&self, model: &str) {
        let _ = self.answered_by.set(model.to_string());
    }

    /// The model that answered instead of the one asked for; `None` when it was the one asked
    /// for (or no chain is configured).
    pub fn answered_by(&self) -> Option<String> {
        self.answered_by.get().cloned()
    }

    /// Called by the limiter when this request's deferral ran out.
    pub fn expire_deferral(&self) {
        self.deferral_expired.store(true, Ordering::Relaxed);
    }

    /// Whether this request already waited its deferral out.
    pub fn deferral_expired(&self) -> bool {
        self.deferral_expired.load(Ordering::Relaxed)
    }
}

/// How a response was produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Answered by the upstream.
    Upstream,
    /// Served from the cache.
    CacheHit,
    /// Shared the answer of an identical request in flight.
    Coalesced,
    /// An expired cache entry served because the upstream failed.
    Stale,
    /// A local answer, because the upstream path failed.
    Fallback,
    /// Accepted while the upstream was unavailable and answered later.
    Queued,
    /// Answered by a model after the preferred one in `[client.models] chain`, because the
    /// preferred one was rate-limited or out of quota (the request's trace names which).
    Degraded,
    /// Served from the semantic cache: a cached answer to a prompt whose embedding was within
    /// `[client.cache.semantic] threshold` of this one's.
    SemanticHit,
}

impl Outcome {
    /// Every outcome in declaration order: the one list that reports' outcome counters, columns
    /// and colours derive from (the toolkit's recorded outcome adds "error" after these).
    pub const ALL: [Outcome; 8] = [
        Outcome::Upstream,
        Outcome::CacheHit,
        Outcome::Coalesced,
        Outcome::Stale,
        Outcome::Fallback,
        Outcome::Queued,
        Outcome::Degraded,
        Outcome::SemanticHit,
    ];

    /// Position in [`Outcome::ALL`], for counters kept in arrays.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// snake_case name, as in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Upstream => "upstream",
            Outcome::CacheHit => "cache_hit",
            Outcome::Coalesced => "coalesced",
            Outcome::Stale => "stale",
            Outcome::Fallback => "fallback",
            Outcome::Queued => "queued",
            Outcome::Degraded => "degraded",
            Outcome::SemanticHit => "semantic_hit",
        }
    }
}

/// Rate-limit figures the upstream reported (`x-ratelimit-*`), for adaptive limiting and quota
/// reports.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RateLimitInfo {
    /// `x-ratelimit-limit-requests`.
    pub limit_requests: Option<u64>,
    /// `x-ratelimit-remaining-requests`.
    pub remaining_requests: Option<u64>,
    /// `x-ratelimit-reset-requests`.
    pub reset_requests: Option<Duration>,
    /// `x-ratelimit-limit-tokens`.
    pub limit_tokens: Option<u64>,
    /// `x-ratelimit-remaining-tokens`.
    pub remaining_tokens: Option<u64>,
    /// `x-ratelimit-reset-tokens`.
    pub reset_tokens: Option<Duration>,
}

/// An answer, with how it was produced.
#[derive(Debug, Clone)]
pub struct ChatResponse {
    /// The assistant's text; for a streamed answer, its deltas joined.
    pub text: String,
    /// Token usage, when the upstream reported it.
    pub usage: Option<Usage>,
    /// `stop`, `length`, `tool_calls`, ...; `None` for embeddings, which finish nothing.
    pub finish_reason: Option<String>,
    /// The functions the model called, in order (a chat answer's `tool_calls` are read into the
    /// same shape as Responses' `function_call` items).
    pub tool_calls: Vec<FunctionCall>,
    /// An embeddings answer's vectors, one per input, in input order.
    pub embeddings: Vec<Vec<f32>>,
    /// Who answered (the upstream, the cache, the fallback, ...), which reports break answers down
    /// by.
    pub outcome: Outcome,
    /// Time to first token of a streamed answer, from the start of the successful attempt.
    pub ttft: Option<Duration>,
    /// The upstream's rate-limit headers on this answer.
    pub rate_limit: Option<RateLimitInfo>,
    /// Upstream attempts this request made (set by the stack).
    pub attempts: u32,
    /// Time it waited in the limiter (set by the stack).
    pub limiter_wait: Duration,
}

impl ChatResponse {
    /// A local answer (fallback or test double).
    pub fn local(text: impl Into<String>, outcome: Outcome) -> Self {
        Self {
            text: text.into(),
            usage: None,
            finish_reason: Some("stop".into()),
            tool_calls: Vec::new(),
            embeddings: Vec::new(),
            outcome,
            ttft: None,
            rate_limit: None,
            attempts: 0,
            limiter_wait: Duration::ZERO,
        }
    }
}
