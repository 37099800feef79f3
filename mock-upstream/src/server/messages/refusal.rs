//! Anthropic's refusals: the error body, the status each error type goes with, `retry-after`,
//! and the `anthropic-ratelimit-*` headers.
//!
//! The engine and the shared handler speak in OpenAI-shaped [`ApiError`]s; [`Refusal::from_api`]
//! turns each into what the Messages API answers in its place, so a fault file means the same
//! thing on every route while a client of Anthropic sees Anthropic's statuses: 529
//! `overloaded_error` for an overload (where OpenAI says 503), and a 400 that must not be
//! retried for a spent quota (Anthropic's "credit balance is too low").

use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::rfc3339::format_utc;
use crate::faults::buckets::BucketView;
use crate::faults::engine::{RateLimitState, Route};
use crate::server::dialect::sse_event;
use crate::server::errors::ApiError;
use gauntlet_wire::anthropic::{ErrorObject, ErrorResponse, ErrorType, StreamEvent};

/// The 529 Anthropic answers when it is overloaded: no `http::StatusCode` constant names it.
const OVERLOADED: u16 = 529;

/// The message of a spent quota, as the API words it: a 400, so no client retries it.
const CREDIT_BALANCE: &str = "Your credit balance is too low to access the Anthropic API. \
                              Please go to Plans & Billing to upgrade or purchase credits.";

/// One error as the Messages API answers it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Refusal {
    /// The HTTP status (529 included).
    pub(crate) status: u16,
    /// `error.type`.
    pub(crate) kind: ErrorType,
    /// `error.message`; names the field at fault for `invalid_request_error`.
    pub(crate) message: String,
    /// `retry-after` to send (429s).
    pub(crate) retry_after: Option<Duration>,
}

impl Refusal {
    /// A 400 `invalid_request_error`; `message` starts with the field at fault.
    pub(crate) fn invalid(message: String) -> Self {
        Self {
            status: 400,
            kind: ErrorType::InvalidRequestError,
            message,
            retry_after: None,
        }
    }

    /// What the Messages API answers where the shared code refuses with `e`.
    pub(crate) fn from_api(e: &ApiError) -> Self {
        let status = e.status.as_u16();
        let (status, kind, message) = match status {
            400 => (400, ErrorType::InvalidRequestError, e.body.message.clone()),
            401 => (401, ErrorType::AuthenticationError, auth_message(e).into()),
            403 => (403, ErrorType::PermissionError, e.body.message.clone()),
            404 => (404, ErrorType::NotFoundError, e.body.message.clone()),
            410 => (
                410,
                ErrorType::InvalidRequestError,
                format!(
                    "{} has been deprecated and no longer serves requests.",
                    Route::Messages.path()
                ),
            ),
            413 => (413, ErrorType::RequestTooLarge, e.body.message.clone()),
            429 if e.body.kind == "insufficient_quota" => {
                (400, ErrorType::InvalidRequestError, CREDIT_BALANCE.into())
            }
            429 => (429, ErrorType::RateLimitError, rate_limit_message(e)),
            503 => (OVERLOADED, ErrorType::OverloadedError, "Overloaded".into()),
            504 => (504, ErrorType::TimeoutError, "Request timed out".into()),
            500..=599 => (status, ErrorType::ApiError, "Internal server error".into()),
            _ => (
                status,
                ErrorType::InvalidRequestError,
                e.body.message.clone(),
            ),
        };
        Self {
            status,
            kind,
            message,
            retry_after: e.retry_after.filter(|_| status == 429),
        }
    }

    fn object(&self) -> ErrorObject {
        ErrorObject {
            kind: self.kind,
            message: self.message.clone(),
        }
    }

    /// The JSON answer: `{"type":"error","error":{...},"request_id":...}` with its status,
    /// `retry-after` (whole seconds, rounded up) on a 429, and `x-should-retry: false` on a 400
    /// as the API sends it.
    pub(crate) fn into_response(self, request_id: &str) -> Response {
        let body = serde_json::to_vec(&ErrorResponse {
            kind: "error".into(),
            error: self.object(),
            request_id: Some(request_id.to_string()),
        })
        .unwrap_or_default();
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
        let h = resp.headers_mut();
        if let Some(wait) = self.retry_after {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        if self.status == 400 {
            h.insert("x-should-retry", HeaderValue::from_static("false"));
        }
        resp
    }

    /// The `event: error` a stream ends with when this strikes after the 200.
    pub(crate) fn event(&self) -> Bytes {
        let event = StreamEvent::Error {
            error: self.object(),
        };
        sse_event(event.name(), &event)
    }
}

/// Whether the 401 is about a key that was sent (and is wrong) or about no key at all; the
/// shared [`ApiError::unauthorized`] words the two apart.
fn auth_message(e: &ApiError) -> &'static str {
    if e.body.message.starts_with("You didn't provide") {
        "x-api-key header is required"
    } else {
        "invalid x-api-key"
    }
}

/// The 429's message, by the limit it is about (the shared error's `type` says which).
fn rate_limit_message(e: &ApiError) -> String {
    let what = if e.body.kind == "tokens" {
        "tokens per minute"
    } else {
        "requests per minute"
    };
    format!(
        "This request would exceed your organization's rate limit of {what}. For details, \
         refer to: https://docs.claude.com/en/api/rate-limits. You can see the response \
         headers for current usage. Please reduce the prompt length or the maximum tokens \
         requested, or try again later."
    )
}

/// `anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}`, built once. The mock's one
/// token bucket counts input and output together, which is what `tokens-*` reports (the most
/// restrictive token limit); it has no separate `input-tokens-*` / `output-tokens-*` buckets.
const RATE_LIMIT_HEADERS: [[HeaderName; 3]; 2] = [
    [
        HeaderName::from_static("anthropic-ratelimit-requests-limit"),
        HeaderName::from_static("anthropic-ratelimit-requests-remaining"),
        HeaderName::from_static("anthropic-ratelimit-requests-reset"),
    ],
    [
        HeaderName::from_static("anthropic-ratelimit-tokens-limit"),
        HeaderName::from_static("anthropic-ratelimit-tokens-remaining"),
        HeaderName::from_static("anthropic-ratelimit-tokens-reset"),
    ],
];

/// The rate-limit headers for the buckets in force; `now` is the request's arrival since the
/// Unix epoch, so `reset` is the RFC 3339 time each bucket is full again (rounded up to the
/// second, so a client that waits until then is never early).
pub(crate) fn add_rate_limit_headers(h: &mut HeaderMap, limits: &RateLimitState, now: Duration) {
    for (names, view) in RATE_LIMIT_HEADERS
        .iter()
        .zip([limits.requests, limits.tokens])
    {
        let Some(v) = view else { continue };
        h.insert(names[0].clone(), HeaderValue::from(v.limit));
        h.insert(names[1].clone(), HeaderValue::from(v.remaining));
        if let Ok(value) = HeaderValue::from_str(&format_utc(reset_secs(now, &v))) {
            h.insert(names[2].clone(), value);
        }
    }
}

/// When `v` is full again, in whole seconds since the epoch, rounded up.
fn reset_secs(now: Duration, v: &BucketView) -> u64 {
    let at = now.saturating_add(v.reset_after);
    at.as_secs()
        .saturating_add(u64::from(at.subsec_nanos() > 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::engine::LimitResource;

    async fn body(resp: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await;
        serde_json::from_slice(&bytes.unwrap()).unwrap()
    }

    #[test]
    fn every_shared_refusal_gets_anthropics_type_and_status() {
        let cases = [
            (
                ApiError::invalid_request("bad".into(), None),
                400,
                ErrorType::InvalidRequestError,
            ),
            (
                ApiError::unauthorized(false),
                401,
                ErrorType::AuthenticationError,
            ),
            (ApiError::too_large(10), 413, ErrorType::RequestTooLarge),
            (ApiError::not_found("/x"), 404, ErrorType::NotFoundError),
            (
                ApiError::gone("/v1/messages"),
                410,
                ErrorType::InvalidRequestError,
            ),
            (
                ApiError::quota_exhausted(),
                400,
                ErrorType::InvalidRequestError,
            ),
            (ApiError::server(429, None), 429, ErrorType::RateLimitError),
            (ApiError::server(500, None), 500, ErrorType::ApiError),
            (ApiError::server(502, None), 502, ErrorType::ApiError),
            (ApiError::server(503, None), 529, ErrorType::OverloadedError),
            (ApiError::server(504, None), 504, ErrorType::TimeoutError),
        ];
        for (e, status, kind) in cases {
            let r = Refusal::from_api(&e);
            assert_eq!((r.status, r.kind), (status, kind), "{e:?}");
        }
        let quota = Refusal::from_api(&ApiError::quota_exhausted());
        assert!(quota.message.starts_with("Your credit balance is too low"));
    }

    #[test]
    fn the_401_says_whether_a_key_was_sent() {
        assert_eq!(
            Refusal::from_api(&ApiError::unauthorized(false)).message,
            "x-api-key header is required"
        );
        assert_eq!(
            Refusal::from_api(&ApiError::unauthorized(true)).message,
            "invalid x-api-key"
        );
    }

    #[tokio::test]
    async fn a_429_keeps_its_wait_rounded_up_and_names_its_limit() {
        let e = ApiError::rate_limited(
            "m",
            LimitResource::Tokens,
            100,
            90,
            20,
            Duration::from_millis(1500),
        );
        let r = Refusal::from_api(&e);
        assert!(r.message.contains("tokens per minute"), "{}", r.message);
        let resp = r.into_response("req_1");
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()["retry-after"], "2");
        assert!(resp.headers().get("retry-after-ms").is_none());
        let v = body(resp).await;
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], "rate_limit_error");
        assert_eq!(v["request_id"], "req_1");
    }

    #[tokio::test]
    async fn a_400_says_not_to_retry_and_a_529_is_sent_as_529() {
        let resp = Refusal::invalid("max_tokens: Field required".into()).into_response("req_2");
        assert_eq!(resp.headers()["x-should-retry"], "false");
        let resp = Refusal::from_api(&ApiError::server(503, None)).into_response("req_3");
        assert_eq!(resp.status().as_u16(), 529);
        assert!(resp.headers().get("x-should-retry").is_none());
        assert_eq!(body(resp).await["error"]["message"], "Overloaded");
    }

    #[test]
    fn the_stream_error_is_an_error_event() {
        let bytes = Refusal::from_api(&ApiError::server(503, None)).event();
        assert_eq!(
            &bytes[..],
            b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"
        );
    }

    #[test]
    fn reset_is_the_time_the_bucket_is_full_rounded_up() {
        let view = BucketView {
            limit: 2,
            remaining: 0,
            reset_after: Duration::from_millis(59_001),
        };
        let limits = RateLimitState {
            requests: Some(view),
            tokens: None,
        };
        let mut h = HeaderMap::new();
        add_rate_limit_headers(&mut h, &limits, Duration::from_secs(1_700_000_000));
        assert_eq!(h["anthropic-ratelimit-requests-limit"], "2");
        assert_eq!(h["anthropic-ratelimit-requests-remaining"], "0");
        assert_eq!(
            h["anthropic-ratelimit-requests-reset"],
            "2023-11-14T22:14:20Z"
        );
        assert!(h.get("anthropic-ratelimit-tokens-limit").is_none());
        let far = BucketView {
            reset_after: Duration::MAX,
            ..view
        };
        assert_eq!(reset_secs(Duration::from_secs(5), &far), u64::MAX);
    }
}
