//! Feeds the upstream's view from the observe layer: what the request carried when it arrived,
//! then what the answer said, and (for a stream) when its body ended.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use bytes::Bytes;
use tokio::time::{Duration, Instant};

use super::{MockState, ResetConnection};
use crate::upstream_view::note::{Judge, Slot};
use crate::upstream_view::{key_hash, Arrival, Departure, UpstreamView};

/// An API request in the mock, until its answer is recorded — or, when the client goes away
/// first (a timeout), until it is dropped, which records it as an attempt left unanswered.
#[derive(Debug)]
pub(crate) struct Arriving {
    at: Instant,
    route: Option<MatchedPath>,
    /// `Authorization` (true) or `x-api-key` (false); a shared copy of the header, not a new
    /// allocation.
    key: Option<(HeaderValue, bool)>,
    retry_count: Option<u32>,
    concurrency: u32,
    view: Arc<UpstreamView>,
    slot: Arc<Slot>,
    recorded: bool,
    /// Taken by a stream's body, which holds the attempt in flight until it ends.
    departure: Option<Departure>,
}

impl Arriving {
    /// Counts an API request in flight; `None` for the mock's own routes.
    pub(crate) fn new(
        state: &MockState,
        req: &Request,
        route: Option<&MatchedPath>,
        at: Instant,
    ) -> Option<Self> {
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
        let view = state.inner.view.clone();
        let (concurrency, departure) = view.arrive(at);
        let slot = Arc::new(Slot::judged(Judge {
            view: view.clone(),
            key: key_hash(key.as_ref().and_then(|(v, auth)| token(v, *auth))),
            at,
            retry_count,
        }));
        Some(Self {
            at,
            route: route.cloned(),
            key,
            retry_count,
            concurrency,
            view,
            slot,
            recorded: false,
            departure: Some(departure),
        })
    }

    /// Where the route's handler notes the body and tokens.
    pub(crate) fn slot(&self) -> Arc<Slot> {
        self.slot.clone()
    }

    fn record(&mut self, answer: Option<&Response>) {
        self.recorded = true;
        let h = answer.map(Response::headers);
        let reset = answer.is_some_and(|r| r.extensions().get::<ResetConnection>().is_some());
        self.view.record_classified(
            &Arrival {
                arrived: self.at,
                sent: Instant::now(),
                key: self.key.as_ref().and_then(|(v, auth)| token(v, *auth)),
                route: self.route.as_ref().map_or("other", |p| p.as_str()),
                retry_count: self.retry_count,
                note: self.slot.get(),
                status: answer.filter(|_| !reset).map(|r| r.status().as_u16()),
                retry_after: h.and_then(retry_after),
                should_retry: h
                    .and_then(|h| h.get("x-should-retry"))
                    .and_then(|v| v.to_str().ok())
                    .map(|v| !v.eq_ignore_ascii_case("false")),
                concurrency: self.concurrency,
                abandoned: answer.is_none(),
            },
            self.slot.classified(),
        );
    }

    /// Records the answer; a stream stays in flight until its body ends.
    pub(crate) fn answered(&mut self, resp: Response) -> Response {
        self.record(Some(&resp));
        let stream = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        match self.departure.take() {
            Some(departure) if stream => resp.map(|inner| {
                Body::new(Departing {
                    inner,
                    _departure: departure,
                })
            }),
            // Dropped here: the answer is out.
            _ => resp,
        }
    }
}

impl Drop for Arriving {
    fn drop(&mut self) {
        if !self.recorded {
            self.record(None);
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
