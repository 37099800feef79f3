//! The layer round every route: counts each response for `/_mock/stats` and `/metrics`, and adds
//! `x-request-id` and `openai-processing-ms` as the real API does.
//!
//! A tower layer of its own rather than `axum::middleware::from_fn`, which boxes the route again,
//! boxes the function's future and builds a `Next` for every request: this runs for every request
//! a simulation makes, and those allocations and their drops showed in its profile.

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use futures_util::future::BoxFuture;
use tokio::time::Instant;
use tower::{Layer, Service};

use super::handler::Arrived;
use super::stats::Observation;
use super::{view, FaultTag, MockState, ResetConnection};

const RETRY_COUNT: HeaderName = HeaderName::from_static("x-stainless-retry-count");
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Anthropic's spelling, which `/v1/messages` sets itself (its error bodies carry the id too).
const ROUTE_REQUEST_ID: HeaderName = HeaderName::from_static("request-id");
const PROCESSING_MS: HeaderName = HeaderName::from_static("openai-processing-ms");

/// Wraps each route in [`Observe`].
#[derive(Debug, Clone)]
pub(crate) struct ObserveLayer {
    state: MockState,
}

impl ObserveLayer {
    pub(crate) fn new(state: MockState) -> Self {
        Self { state }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            state: self.state.clone(),
        }
    }
}

/// A route, observed.
#[derive(Debug, Clone)]
pub(crate) struct Observe<S> {
    inner: S,
    state: MockState,
}

impl<S> Service<Request> for Observe<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let started = Instant::now();
        req.extensions_mut().insert(Arrived(started));
        let route = req.extensions().get::<MatchedPath>().cloned();
        let retry_count = req.headers().get(RETRY_COUNT).cloned();
        let mut arrival = view::Arriving::new(&self.state, &req, route.as_ref(), started);
        let call = self.inner.call(req);
        let answer = match &arrival {
            Some(a) => crate::upstream_view::note::scope(a.slot(), call),
            None => crate::upstream_view::note::scope(Default::default(), call),
        };
        let state = self.state.clone();
        Box::pin(async move {
            let Ok(mut resp) = answer.await;
            let processing = started.elapsed();
            let tag = resp.extensions().get::<FaultTag>().copied();
            let reset = resp.extensions().get::<ResetConnection>().is_some();
            let route = route.as_ref().map_or("other", |p| p.as_str());
            if !route.starts_with("/_mock") && route != "/metrics" {
                state.inner.stats.record(&Observation {
                    route,
                    status: (!reset).then(|| resp.status().as_u16()),
                    fault: tag.and_then(|t| t.fault),
                    retry_count: retry_count.as_ref().and_then(|v| v.to_str().ok()),
                    spiked: tag.is_some_and(|t| t.spiked),
                    processing,
                });
            }
            if let Some(a) = arrival.as_mut() {
                resp = a.answered(resp);
            }
            let h = resp.headers_mut();
            // A route that named the request itself keeps that id, so both headers agree.
            if let Some(v) = h.get(ROUTE_REQUEST_ID).cloned() {
                h.insert(REQUEST_ID, v);
            } else {
                let id = bytes::Bytes::from(state.next_request_id());
                if let Ok(v) = HeaderValue::from_maybe_shared(id) {
                    h.insert(REQUEST_ID, v);
                }
            }
            h.insert(
                PROCESSING_MS,
                HeaderValue::from(processing.as_millis() as u64),
            );
            Ok(resp)
        })
    }
}
