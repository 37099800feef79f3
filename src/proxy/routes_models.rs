//! `GET /v1/models` and `GET /v1/models/{id}`: passed to the upstream as they are, counted and
//! logged under `/v1/models`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use gauntlet_client::transport::TransportError;
use gauntlet_client::Outcome;
use http_body_util::BodyExt;
use tokio::time::Instant;

use super::access_log::AccessLine;
use super::routes_error::ProxyError;
use super::routes_mark::{mark, record};
use super::server::App;

/// Largest `/v1/models` answer passed through.
const MAX_MODELS_BYTES: usize = 1 << 20;

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
        Ok(Err(TransportError::Tls(m))) => return Err(upstream_error(m, "tls")),
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
