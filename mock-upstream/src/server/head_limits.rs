//! The mock's own limits on a request head, answered with OpenAI's JSON error body.
//!
//! hyper enforces its limits (its read buffer, `max_buf_size`) by writing a bare `431` or `414`
//! with no body, which an SDK reports as an unparseable error. So serve gives hyper a generous
//! buffer ([`HYPER_MAX_BUF_SIZE`]) and this layer enforces the documented, smaller limits
//! ([`MAX_HEADER_BYTES`], [`MAX_URI_BYTES`]) itself, before the handler runs, where the answer
//! can be JSON and the observe layer around it counts it like any other.

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use futures_util::future::Either;
use tower::{Layer, Service};

use super::errors::ApiError;

/// The header section a request may have, counted as `name: value\r\n` per field: far above
/// what any SDK sends (a few hundred bytes), like the 8–64 KiB limits of common proxies.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// The request target (path and query, or the absolute URI) a request may have: common
/// proxies' and servers' default of 8 KiB.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// hyper's read buffer for a request head: well above [`MAX_HEADER_BYTES`], so that a head up
/// to 1 MiB reaches this layer and gets a JSON answer; beyond it, hyper's bare 431 remains the
/// bound on what one connection can make the mock buffer.
pub(crate) const HYPER_MAX_BUF_SIZE: usize = 1024 * 1024 + 64 * 1024;

/// Wraps each route in [`HeadLimits`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HeadLimitsLayer;

impl<S> Layer<S> for HeadLimitsLayer {
    type Service = HeadLimits<S>;

    fn layer(&self, inner: S) -> HeadLimits<S> {
        HeadLimits { inner }
    }
}

/// A route that answers 414 / 431 JSON to heads over the limits instead of running.
#[derive(Debug, Clone)]
pub(crate) struct HeadLimits<S> {
    inner: S,
}

impl<S> Service<Request> for HeadLimits<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    /// No box: this runs for every request, and the refusal is ready at once.
    type Future = Either<Ready<Result<Response, Infallible>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        match check(req.uri(), req.headers()) {
            Some(refusal) => Either::Left(ready(Ok(refusal.into_response()))),
            None => Either::Right(self.inner.call(req)),
        }
    }
}

/// The refusal a head over a limit gets; the URI first, as a server reads it first.
fn check(uri: &Uri, headers: &HeaderMap) -> Option<ApiError> {
    let target = target_len(uri);
    if target > MAX_URI_BYTES {
        return Some(ApiError::uri_too_long(target, MAX_URI_BYTES));
    }
    let section = header_bytes(headers);
    if section > MAX_HEADER_BYTES {
        return Some(ApiError::headers_too_large(section, MAX_HEADER_BYTES));
    }
    None
}

/// The request target's length as sent: path and query (origin form), or the whole absolute
/// URI (absolute form), without allocating it as a string.
fn target_len(uri: &Uri) -> usize {
    uri.scheme_str().map_or(0, |s| s.len() + "://".len())
        + uri.authority().map_or(0, |a| a.as_str().len())
        + uri.path_and_query().map_or(0, |p| p.as_str().len())
}

/// The header section's size as sent: `name: value\r\n` per field.
fn header_bytes(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + ": \r\n".len())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderValue, StatusCode};

    #[test]
    fn targets_and_header_sections_over_the_limits_are_refused() {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("x"));
        let small: Uri = "/v1/models?x=1".parse().unwrap();
        assert!(check(&small, &headers).is_none());
        assert_eq!(target_len(&small), "/v1/models?x=1".len());
        assert_eq!(header_bytes(&headers), "host: x\r\n".len());

        let long: Uri = format!("/v1/models?q={}", "a".repeat(MAX_URI_BYTES))
            .parse()
            .unwrap();
        let refusal = check(&long, &headers).unwrap();
        assert_eq!(refusal.status, StatusCode::URI_TOO_LONG);

        let big = HeaderValue::from_str(&"b".repeat(MAX_HEADER_BYTES)).unwrap();
        headers.insert("x-big", big);
        let refusal = check(&small, &headers).unwrap();
        assert_eq!(refusal.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    }

    #[test]
    fn an_absolute_target_counts_scheme_and_authority() {
        let uri: Uri = "http://example.com/v1/models".parse().unwrap();
        assert_eq!(target_len(&uri), "http://example.com/v1/models".len());
    }
}
