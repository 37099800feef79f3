//! The operational endpoints: `/metrics`, `/healthz` and `/readyz`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::server::App;

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
