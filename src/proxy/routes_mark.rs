//! What every answer carries and leaves behind: the `x-request-id`, `x-gauntlet-attempts`,
//! `x-gauntlet-outcome` (and on a fallback or stale answer `x-gauntlet-fallback: true`) headers,
//! the access line, the metrics, and what `/readyz` learns from it.

use std::sync::Arc;

use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use gauntlet_client::passthrough::UpstreamAnswer;
use gauntlet_client::{ChatResponse, ClientError, Outcome, RateLimitInfo, Route};
use tokio::time::Instant;

use super::access_log::{write_line, AccessLine};
use super::routes_error::ProxyError;
use super::server::App;

/// The path of `route`, as metrics and the access log name it.
pub fn path(route: Route) -> &'static str {
    match route {
        Route::Chat => "/v1/chat/completions",
        Route::Responses => "/v1/responses",
        Route::Embeddings => "/v1/embeddings",
    }
}

/// What one request's log line and metrics need, gathered as it goes.
#[derive(Debug, Clone)]
pub struct Done {
    pub app: Arc<App>,
    pub id: String,
    pub route: Route,
    pub caller: Option<String>,
    pub started: Instant,
    pub stream: bool,
}

impl Done {
    pub fn record(&self, status: u16, outcome: &str, attempts: u32) {
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
pub fn record(app: &App, line: AccessLine<'_>) {
    app.metrics
        .request_done(line.route, line.outcome, line.status, line.latency);
    let _ = write_line(&mut std::io::stderr().lock(), &line);
}

/// Whether the upstream gave this request an HTTP answer (success or error status), for
/// `/readyz`: a body the adapter kept, an answer the stack says came from upstream, or an error
/// that only an upstream's answer gives (a status, a stream's error event or its cut-off after
/// the head). Connect, reset, timeouts and `malformed` (which the transport also uses for a
/// response it could not parse as HTTP) do not count.
pub fn upstream_spoke(
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
pub fn quota(app: &App, rate_limit: Option<RateLimitInfo>) {
    if let Some(rl) = rate_limit {
        app.metrics
            .upstream_quota(rl.remaining_requests, rl.remaining_tokens);
    }
}

pub fn refuse(done: &Done, e: ProxyError, attempts: u32) -> Response {
    done.record(e.status, e.outcome, attempts);
    let outcome = e.outcome;
    mark(e.into_response(), &done.id, attempts, outcome, None)
}

/// The headers every answer carries.
pub fn mark(
    mut r: Response,
    id: &str,
    attempts: u32,
    outcome: &str,
    how: Option<Outcome>,
) -> Response {
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
