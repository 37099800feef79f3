//! `/_mock/*`: health, stats, live fault changes and reset; and `/metrics`.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use tokio::time::Instant;

use super::errors::ApiError;
use super::stats::StatsSnapshot;
use super::{metrics as prom, MockState};
use crate::faults::engine::KeyUsage;
use crate::faults::{parse_json, parse_toml};

pub(crate) fn routes(state: MockState) -> Router<MockState> {
    Router::new()
        .route("/_mock/health", get(health))
        .route("/_mock/stats", get(stats))
        .route("/_mock/faults", get(get_faults).put(put_faults))
        .route("/_mock/reset", post(reset))
        .route_layer(middleware::from_fn_with_state(state, require_admin_token))
}

async fn require_admin_token(State(state): State<MockState>, req: Request, next: Next) -> Response {
    if let Some(token) = &state.inner.options.admin_token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !given.is_some_and(|g| same_secret(g.as_bytes(), token.as_bytes())) {
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                Some("invalid_admin_token"),
                "The /_mock routes need `Authorization: Bearer <admin token>`.".into(),
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// Compares in a time that depends on the lengths alone, so a remote caller cannot find the
/// admin token byte by byte from how fast it is refused (its length may still show).
fn same_secret(given: &[u8], token: &[u8]) -> bool {
    given.len() == token.len()
        && given
            .iter()
            .zip(token)
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

async fn health() -> Response {
    Json(serde_json::json!({"status": "ok"})).into_response()
}

/// `GET /_mock/stats`.
#[derive(Debug, Serialize)]
struct StatsBody {
    #[serde(flatten)]
    counters: StatsSnapshot,
    seed: u64,
    uptime_ms: u64,
    in_queue: u32,
    tokens: TokenTotals,
    keys: Vec<KeyUsage>,
    /// What arrived and how it relates to what was answered (`crate::upstream_view`).
    upstream_view: crate::upstream_view::ViewSnapshot,
}

#[derive(Debug, Serialize)]
struct TokenTotals {
    prompt: u64,
    completion: u64,
}

async fn stats(State(state): State<MockState>) -> Response {
    let now = Instant::now();
    let (seed, uptime, keys) = {
        let e = state.engine();
        (
            e.seed(),
            now.saturating_duration_since(e.start()),
            e.key_usage(now),
        )
    };
    let body = StatsBody {
        counters: state.stats(),
        seed,
        uptime_ms: uptime.as_millis() as u64,
        in_queue: state.inner.gate.waiting(),
        tokens: TokenTotals {
            prompt: keys.iter().map(|k| k.prompt_tokens).sum(),
            completion: keys.iter().map(|k| k.completion_tokens).sum(),
        },
        keys,
        upstream_view: state.upstream_view(),
    };
    Json(body).into_response()
}

async fn get_faults(State(state): State<MockState>) -> Response {
    Json(state.config()).into_response()
}

/// Replaces the fault config: TOML when the content type says so, JSON otherwise. A bad config
/// gets 400 naming the field, and the old one stays.
async fn put_faults(State(state): State<MockState>, headers: HeaderMap, body: Body) -> Response {
    let bytes = match axum::body::to_bytes(body, 4 * 1024 * 1024).await {
        Ok(b) => b,
        Err(e) => {
            return ApiError::invalid_request(format!("could not read the body: {e}"), None)
                .into_response()
        }
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return ApiError::invalid_request("the body is not UTF-8".into(), None).into_response();
    };
    let is_toml = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("toml"));
    let parsed = if is_toml {
        parse_toml(text, "request body")
    } else {
        parse_json(text, "request body")
    };
    match parsed {
        Ok(config) => {
            state.set_config(config.clone());
            Json(config).into_response()
        }
        Err(e) => ApiError::invalid_request(e.to_string(), None).into_response(),
    }
}

async fn reset(State(state): State<MockState>) -> Response {
    state.reset();
    Json(serde_json::json!({"status": "reset"})).into_response()
}

/// `GET /metrics` in Prometheus' text format.
pub(crate) async fn metrics(State(state): State<MockState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        prom::render(&state.stats()),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_match_only_whole() {
        assert!(same_secret(b"s3cret", b"s3cret"));
        assert!(!same_secret(b"s3cres", b"s3cret"));
        assert!(!same_secret(b"s3cre", b"s3cret"));
        assert!(!same_secret(b"", b"s3cret"));
    }
}
