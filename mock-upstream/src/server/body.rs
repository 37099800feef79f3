//! Response bodies that misbehave on purpose: paced streams, and bodies cut half-way.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tokio::sync::OwnedSemaphorePermit;

use super::{Pacing, ResetConnection};

/// The error a cut body ends with; hyper aborts the connection on it.
#[derive(Debug, thiserror::Error)]
#[error("mock-upstream cut the body on purpose")]
pub(crate) struct BodyCut;

/// A body sent piece by piece, each piece after its delay; with `cut_at`, the body breaks off
/// before that piece. The concurrency permit is held until the body ends.
pub(crate) fn paced(
    pieces: Vec<(Duration, Bytes)>,
    cut_at: Option<usize>,
    permit: Option<OwnedSemaphorePermit>,
    pacing: Pacing,
) -> Body {
    // Each piece is due at an absolute time (the start plus the delays so far): the timer's
    // millisecond rounding then does not add up over hundreds of tokens.
    let start = tokio::time::Instant::now();
    let stream = futures_util::stream::unfold(
        (pieces.into_iter().enumerate(), cut_at, permit, start),
        move |(mut it, cut_at, permit, due)| async move {
            let (i, (delay, bytes)) = it.next()?;
            let due = due + delay;
            if !delay.is_zero() {
                pacing.until(due).await;
            }
            if cut_at == Some(i) {
                // Let what was sent reach the socket first: hyper flushes while the body is
                // pending, and drops unflushed bytes when it aborts.
                tokio::task::yield_now().await;
                return Some((
                    Err(BodyCut),
                    (Vec::new().into_iter().enumerate(), None, None, due),
                ));
            }
            Some((Ok::<_, BodyCut>(bytes), (it, cut_at, permit, due)))
        },
    );
    Body::from_stream(stream)
}

/// A 200 JSON response that declares its full length and sends half of it.
pub(crate) fn truncated_json(full: Vec<u8>) -> Response {
    let len = full.len();
    let half = Bytes::from(full).slice(..len / 2);
    let body = paced(
        vec![(Duration::ZERO, half), (Duration::ZERO, Bytes::new())],
        Some(1),
        None,
        Pacing::Tokio,
    );
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    resp
}

/// A response that is never sent: the connection is closed instead.
pub(crate) fn reset() -> Response {
    let mut resp = StatusCode::INTERNAL_SERVER_ERROR.into_response();
    resp.extensions_mut().insert(ResetConnection);
    resp
}
