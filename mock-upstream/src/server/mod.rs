//! The HTTP face of the mock: an axum `Router` that carries out the fault engine's decisions.
//!
//! [`router`] builds a plain `Router`, so it can be served over TCP with [`serve`] or called
//! in-process as a tower `Service` (the simulation does that, on a paused clock). Faults that
//! cannot be expressed as a response — a connection reset — are marked with the
//! [`ResetConnection`] response extension: [`serve`] turns it into a closed connection, and an
//! in-process caller must treat it as one.

mod admin;
mod body;
mod catch_panic;
mod chat;
pub mod concurrency;
mod dialect;
mod embeddings;
pub mod errors;
mod handler;
mod head_limits;
mod messages;
pub mod metrics;
mod models;
mod observe;
mod pacing;
mod responses;
mod responses_store;
mod running;
mod serve;
pub mod stats;
mod stream_faults;
mod view;
mod watch;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::time::Instant;

use crate::faults::{FaultConfig, FaultEngine};
use crate::text::hex_id;
use crate::upstream_view::{UpstreamView, ViewSnapshot};
use concurrency::Gate;
use errors::ApiError;
use gauntlet_wire::hash::stable_hash;
use stats::Stats;

pub use head_limits::{MAX_HEADER_BYTES, MAX_URI_BYTES};
pub use pacing::Pacing;
pub use running::RunningMock;
pub use serve::{
    listen, serve, serve_with, ServeError, ServeOptions, DEFAULT_HEADER_READ_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
};

/// Marks a response that must not be sent: the connection is closed instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResetConnection;

/// The fault a response carries, for stats; set by handlers, read by the observe layer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FaultTag {
    pub(crate) fault: Option<&'static str>,
    pub(crate) spiked: bool,
}

/// Settings of a mock instance that are not part of the fault config.
#[derive(Clone, Default)]
pub struct MockOptions {
    /// Overrides the fault file's seed.
    pub seed: Option<u64>,
    /// When set, `/_mock/*` routes need `Authorization: Bearer <token>`.
    pub admin_token: Option<String>,
    /// Unix time of the start, for `created` fields. The library never reads the wall clock;
    /// the binary passes the real time, a simulation a fixed one.
    pub epoch_secs: u64,
    /// Which clock ends the latency and stream-pacing waits: [`Pacing::Precise`] for a mock
    /// whose pacing must come back within a millisecond over real sockets (the binary, a real
    /// run's embedded mock), the default tokio timer on a paused clock.
    pub pacing: Pacing,
}

/// Written by hand so that the admin token never reaches a log through `{:?}`.
impl std::fmt::Debug for MockOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockOptions")
            .field("seed", &self.seed)
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "<redacted>"),
            )
            .field("epoch_secs", &self.epoch_secs)
            .field("pacing", &self.pacing)
            .finish()
    }
}

/// One mock instance's engine, counters and concurrency gate, shared by its handlers; cheap
/// to clone, so a test keeps a handle to read stats and change faults while it serves.
#[derive(Debug, Clone)]
pub struct MockState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    engine: Mutex<FaultEngine>,
    stats: Stats,
    /// What arrived and how it relates to the answers (`upstream_view`).
    view: Arc<UpstreamView>,
    gate: Gate,
    options: MockOptions,
    request_ids: AtomicU64,
    id_salt: u64,
    max_body: AtomicUsize,
    /// What `previous_response_id` continues.
    responses: responses_store::ResponseStore,
}

impl MockState {
    /// A mock whose timeline starts now (`tokio::time::Instant::now()`).
    pub fn new(config: FaultConfig, options: MockOptions) -> Self {
        let gate = Gate::default();
        gate.configure(config.spec().concurrency);
        let engine = FaultEngine::new(config, options.seed, Instant::now());
        let id_salt = stable_hash(&engine.seed().to_le_bytes());
        let max_body = AtomicUsize::new(engine.config().spec().max_body_bytes);
        Self {
            inner: Arc::new(Inner {
                engine: Mutex::new(engine),
                stats: Stats::default(),
                view: Arc::new(UpstreamView::new(Instant::now())),
                gate,
                options,
                request_ids: AtomicU64::new(0),
                id_salt,
                max_body,
                responses: responses_store::ResponseStore::default(),
            }),
        }
    }

    fn engine(&self) -> MutexGuard<'_, FaultEngine> {
        self.inner.engine.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The counters since start or the last reset, as `/_mock/stats` reports them; a test
    /// reads them in-process to check what its client made the mock do.
    pub fn stats(&self) -> stats::StatsSnapshot {
        self.inner.stats.snapshot()
    }

    /// The upstream's view since start or the last reset, as `/_mock/stats` reports it under
    /// `upstream_view`: what a system under test did to the upstream.
    pub fn upstream_view(&self) -> ViewSnapshot {
        self.inner.view.snapshot()
    }

    /// Sets the width of the view's intervals (and starts it over), so a reader's intervals
    /// line up with the view's.
    pub fn set_view_interval(&self, interval: std::time::Duration) {
        self.inner.view.reset(Instant::now(), Some(interval));
    }

    /// Usage per key (requests, tokens, daily quota used), as `/_mock/stats` shows it.
    pub fn key_usage(&self) -> Vec<crate::faults::engine::KeyUsage> {
        self.engine().key_usage(Instant::now())
    }

    /// The fault config in force, which a live `PUT /_mock/faults` may have replaced.
    pub fn config(&self) -> FaultConfig {
        self.engine().config().clone()
    }

    /// Replaces the fault config live (buckets and timeline start stay).
    pub fn set_config(&self, config: FaultConfig) {
        self.inner.gate.configure(config.spec().concurrency);
        self.inner
            .max_body
            .store(config.spec().max_body_bytes, Ordering::Relaxed);
        self.engine().set_config(config);
    }

    /// Starts over: counters zeroed, buckets full, timeline from now, no stored responses.
    pub fn reset(&self) {
        self.engine().reset(Instant::now());
        self.inner.stats.reset();
        self.inner.view.reset(Instant::now(), None);
        self.inner.request_ids.store(0, Ordering::Relaxed);
        self.inner.responses.clear();
    }

    fn created(&self, decision: &crate::faults::Decision) -> u64 {
        self.inner.options.epoch_secs + decision.offset.as_secs()
    }

    fn next_request_id(&self) -> String {
        let n = self.inner.request_ids.fetch_add(1, Ordering::Relaxed);
        hex_id("req_", self.inner.id_salt, n, 16)
    }
}

/// The mock's routes: the OpenAI API, Anthropic's Messages API, `/_mock/*` control, and
/// `/metrics`.
pub fn router(state: MockState) -> Router {
    let api = Router::new()
        .route("/v1/chat/completions", post(chat::chat_completions))
        .route("/v1/chat", post(chat::legacy_chat))
        .route("/v1/responses", post(responses::create_response))
        .route("/v1/messages", post(messages::messages))
        .route("/v1/models", get(models::models))
        .route("/v1/models/{id}", get(models::model))
        .route("/v1/embeddings", post(embeddings::embeddings));
    #[cfg(test)]
    let api = api.route("/_test/panic", get(tests::panics));
    let admin = admin::routes(state.clone());
    Router::new()
        .merge(api)
        .merge(admin)
        .route("/metrics", get(admin::metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Inside the observe layer, so the 500 a panic becomes is counted and gets its
        // `x-request-id` like any other answer.
        .layer(catch_panic::CatchPanicLayer::new(state.clone()))
        // Before any handler, inside the observe layer, so a 414 / 431 is counted like any
        // other answer and carries `x-request-id`.
        .layer(head_limits::HeadLimitsLayer)
        .layer(observe::ObserveLayer::new(state.clone()))
        .with_state(state)
}

async fn not_found(req: Request) -> Response {
    ApiError::not_found(req.uri().path()).into_response()
}

async fn method_not_allowed(req: Request) -> Response {
    ApiError::method_not_allowed(req.method().as_str(), req.uri().path()).into_response()
}

#[cfg(test)]
mod tests;
