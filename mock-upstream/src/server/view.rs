//! Feeds the upstream's view from the observe layer: what the request carried when it arrived,
//! then what the answer said, and (for a stream) when its body ended.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use bytes::Bytes;
use tokio::time::{Duration, Instant};

use super::{MockState, ResetConnection};
use crate::upstream_view::note::Note;
use crate::upstream_view::{Arrival, Departure};

/// An API request in the mock, until its answer is recorded.
#[derive(Debug)]
pub(crate) struct Arriving {
    at: Instant,
    /// `Authorization` (true) or `x-api-key` (false); a shared copy of the header, not a new
    /// allocation.
    key: Option<(HeaderValue, bool)>,
    retry_count: Option<u32>,
    concurrency: u32,
    departure: Departure,
}

impl Arriving {
    /// Counts an API request in flight; `None` for the mock's own routes.
    pub(crate) fn new(state: &MockState, req: &Request, at: Instant) -> Option<Self> {
        let path = req.uri().path();
        if path.starts_with("/_mock") || path == "/metrics" {
            return None;
        }
        let h = req.headers();
        let key = h
            .get(header::AUTHORIZATION)
            .map(|v| (v.clone(), true))
            .or_else(|| h.get("x-api-key").map(|v| (v.clone(), false)));
        let retry_count = h
            .get("x-stainless-retry-count")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let (concurrency, departure) = state.inner.view.arrive(at);
        Some(Self {
            at,
            key,
            retry_count,
            concurrency,
            departure,
        })
    }

    /// Records the answer; a stream stays in flight until its body ends.
    pub(crate) fn answered(
        self,
        state: &MockState,
        route: &str,
        note: Note,
        resp: Response,
    ) -> Response {
        let h = resp.headers();
        let reset = resp.extensions().get::<ResetConnection>().is_some();
        state.inner.view.record(&Arrival {
            arrived: self.at,
            sent: Instant::now(),
            key: self.key.as_ref().and_then(|(v, auth)| token(v, *auth)),
            route,
            retry_count: self.retry_count,
            note,
            status: (!reset).then(|| resp.status().as_u16()),
            retry_after: retry_after(h),
            should_retry: h
                .get("x-should-retry")
                .and_then(|v| v.to_str().ok())
                .map(|v| !v.eq_ignore_ascii_case("false")),
            concurrency: self.concurrency,
        });
        let stream = h
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        if stream {
            let departure = self.departure;
            resp.map(|inner| {
                Body::new(Departing {
                    inner,
                    _departure: departure,
                })
            })
        } else {
            resp
        }
    }
}

/// The bearer token, as the handlers read it.
fn token(v: &HeaderValue, authorization: bool) -> Option<&str> {
    let v = v.to_str().ok()?;
    let t = if authorization {
        v.strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))?
    } else {
        v
    };
    Some(t.trim()).filter(|t| !t.is_empty())
}

/// The wait the answer asked for: `retry-after-ms` when sent (finer), else `retry-after`
/// seconds; absurd values clamp to a day.
fn retry_after(h: &HeaderMap) -> Option<Duration> {
    let read = |name: &str| -> Option<f64> {
        h.get(name)?
            .to_str()
            .ok()?
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    let secs = read("retry-after-ms")
        .map(|ms| ms / 1e3)
        .or_else(|| read("retry-after"))?;
    Some(Duration::from_secs_f64(secs.min(86_400.0)))
}

/// A stream's body, which holds its attempt in flight until it ends or is dropped.
struct Departing {
    inner: Body,
    _departure: Departure,
}

impl http_body::Body for Departing {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
