//! The layer that turns a panicking handler into a 500 with OpenAI's error body.
//!
//! Without it a panic unwinds hyper's connection task: the client sees a closed connection, a
//! fault the config never asked for, and nothing counts it. With it the client gets a
//! well-formed `server_error`, the observe layer around it counts the 500 as usual, and
//! `panics` in `/_mock/stats` (`mock_upstream_panics_total` on `/metrics`) says it happened.

use std::any::Any;
use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use tower::{Layer, Service};

use super::errors::ApiError;
use super::MockState;

/// Wraps each route in [`CatchPanic`].
#[derive(Debug, Clone)]
pub(crate) struct CatchPanicLayer {
    state: MockState,
}

impl CatchPanicLayer {
    pub(crate) fn new(state: MockState) -> Self {
        Self { state }
    }
}

impl<S> Layer<S> for CatchPanicLayer {
    type Service = CatchPanic<S>;

    fn layer(&self, inner: S) -> CatchPanic<S> {
        CatchPanic {
            inner,
            state: self.state.clone(),
        }
    }
}

/// A route whose panics become 500s.
#[derive(Debug, Clone)]
pub(crate) struct CatchPanic<S> {
    inner: S,
    state: MockState,
}

impl<S> Service<Request> for CatchPanic<S>
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

    fn call(&mut self, req: Request) -> Self::Future {
        let state = self.state.clone();
        // `call` itself may panic before there is a future (an extractor run eagerly, say).
        let answer = match std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(req))) {
            Ok(answer) => answer,
            Err(payload) => {
                let resp = panic_response(&state, payload.as_ref());
                return Box::pin(async move { Ok(resp) });
            }
        };
        Box::pin(async move {
            match AssertUnwindSafe(answer).catch_unwind().await {
                Ok(result) => result,
                Err(payload) => Ok(panic_response(&state, payload.as_ref())),
            }
        })
    }
}

/// Counts the panic and answers 500 `server_error` with the panic's message, so the test that
/// hit it can say what went wrong.
fn panic_response(state: &MockState, payload: &(dyn Any + Send)) -> Response {
    state.inner.stats.record_panic();
    let what = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        None,
        format!(
            "The server had an error while processing your request. Sorry about that! \
             (mock-upstream: the handler panicked: {what})"
        ),
    )
    .into_response()
}
