//! What the stack decided, said to the caller as the API would say it. The mapping:
//!
//! | stack's error | status | body |
//! |---|---|---|
//! | limiter full (`rejected_limiter`) | 429 | OpenAI's `rate_limit_exceeded`, `retry-after` and `retry-after-ms` |
//! | breaker open (`rejected_breaker_open`) | 503 | `server_error` / `breaker_open`, `retry-after` = the breaker's `open_for` |
//! | fallback queue timed out | 503 | `server_error` / `queue_timeout` |
//! | filtered prompt | 400 | `invalid_request_error` / `content_filter`, `param: messages` |
//! | upstream 429, quota, 4xx, 5xx | the upstream's status | the upstream's own body (its `retry-after` hint kept) |
//! | attempt or total timeout | 504 | `timeout` |
//! | TLS handshake failed (kind `tls`, never retried, not a breaker failure) | 502 | `upstream_error`, code `upstream_tls`, the message the transport's `TLS: <reason> (host:port)` |
//! | connect, reset, malformed, unfinished stream | 502 | `upstream_error` naming the cause |

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use gauntlet_client::passthrough::UpstreamAnswer;
use gauntlet_client::{ClientError, Rejection};
use serde_json::json;

use super::metrics::BAD_REQUEST;

/// An answer the proxy gives in place of a success.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyError {
    /// HTTP status.
    pub status: u16,
    /// `error.message`.
    pub message: String,
    /// `error.type`.
    pub kind: &'static str,
    /// `error.param`.
    pub param: Option<String>,
    /// `error.code`.
    pub code: Option<&'static str>,
    /// Sent as `retry-after` (whole seconds, rounded up) and `retry-after-ms`.
    pub retry_after: Option<Duration>,
    /// The upstream's own body, sent instead of one made here.
    pub upstream_body: Option<Bytes>,
    /// The stack's error kind (or `bad_request`, ...), for logs and metrics.
    pub outcome: &'static str,
}

impl ProxyError {
    /// A 400 `invalid_request_error` naming `param`.
    pub fn bad_request(message: String, param: Option<&str>) -> Self {
        Self::own(400, message, "invalid_request_error", None, BAD_REQUEST).param(param)
    }

    /// One the proxy makes itself.
    pub fn own(
        status: u16,
        message: String,
        kind: &'static str,
        code: Option<&'static str>,
        outcome: &'static str,
    ) -> Self {
        Self {
            status,
            message,
            kind,
            param: None,
            code,
            retry_after: None,
            upstream_body: None,
            outcome,
        }
    }

    fn param(mut self, param: Option<&str>) -> Self {
        self.param = param.map(str::to_string);
        self
    }

    /// The caller's answer for the stack's `error`; `answer` is the upstream's last body (used
    /// when it is the answer the error came from), `limiter_hint` and `breaker_hint` the
    /// `retry-after` the local refusals advertise.
    pub fn from_client(
        error: &ClientError,
        answer: Option<UpstreamAnswer>,
        limiter_hint: Duration,
        breaker_hint: Duration,
    ) -> Self {
        let outcome = error.kind();
        let upstream = |status: u16| {
            answer
                .clone()
                .filter(|a| a.status == status)
                .map(|a| a.body)
        };
        let mut e = match error {
            ClientError::Rejected(Rejection::LimiterFull) => Self {
                retry_after: Some(limiter_hint),
                ..Self::own(429, "Rate limit reached for requests: the proxy's limiter is full; retry after the time in `retry-after`".into(), "requests", Some("rate_limit_exceeded"), outcome)
            },
            ClientError::Rejected(Rejection::BreakerOpen) => Self {
                retry_after: Some(breaker_hint),
                ..Self::own(503, "The upstream is failing and the proxy's circuit breaker is open; retry later".into(), "server_error", Some("breaker_open"), outcome)
            },
            ClientError::Rejected(Rejection::QueueTimeout) => Self::own(503, "The upstream is unavailable and the request could not be answered in time".into(), "server_error", Some("queue_timeout"), outcome),
            ClientError::Rejected(Rejection::Filtered) => Self::own(400, "The prompt was refused by the proxy's input filter".into(), "invalid_request_error", Some("content_filter"), outcome).param(Some("messages")),
            ClientError::RateLimited { retry_after } => Self {
                retry_after: *retry_after,
                upstream_body: upstream(429),
                ..Self::own(429, "Rate limited by the upstream".into(), "requests", Some("rate_limit_exceeded"), outcome)
            },
            ClientError::QuotaExhausted => Self {
                upstream_body: upstream(429),
                ..Self::own(429, "The upstream quota is exhausted".into(), "insufficient_quota", Some("insufficient_quota"), outcome)
            },
            ClientError::Server { status } => Self {
                upstream_body: upstream(*status),
                ..Self::own(*status, format!("The upstream answered {status}"), "server_error", None, outcome)
            },
            ClientError::Client { status, message } => Self {
                upstream_body: upstream(*status),
                ..Self::own(*status, message.clone(), "invalid_request_error", None, outcome)
            },
            ClientError::Timeout { .. } => Self::own(504, format!("The upstream did not answer in time ({error})"), "timeout", Some("timeout"), outcome),
            // The transport's own words (`TLS: invalid peer certificate: UnknownIssuer (host:port)`)
            // name the cause an operator fixes, often with `upstream_ca`.
            ClientError::Tls(m) => Self::own(502, format!("{m}; a TLS configuration error, not retried: check the upstream's certificate or [proxy] upstream_ca"), "upstream_error", Some("upstream_tls"), outcome),
            other => Self::own(502, format!("Bad answer from the upstream: {other}"), "upstream_error", None, outcome),
        };
        if e.upstream_body.is_none() && e.status == 429 && e.retry_after.is_none() {
            e.retry_after = Some(limiter_hint);
        }
        e
    }

    /// The `{"error": {...}}` body this error is sent with (the upstream's own when it has one).
    pub fn body(&self) -> Bytes {
        if let Some(b) = &self.upstream_body {
            return b.clone();
        }
        let v = json!({"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}});
        Bytes::from(v.to_string())
    }
}

impl IntoResponse for ProxyError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_GATEWAY);
        let mut resp = (status, self.body()).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(d) = self.retry_after {
            let secs = d.as_millis().div_ceil(1000).max(1);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs as u64));
            headers.insert(
                "retry-after-ms",
                HeaderValue::from(d.as_millis().max(1) as u64),
            );
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_refusals_and_upstream_errors_map_as_documented() {
        let hint = Duration::from_millis(1500);
        let e = ProxyError::from_client(
            &ClientError::Rejected(Rejection::LimiterFull),
            None,
            hint,
            hint,
        );
        assert_eq!(
            (e.status, e.code, e.retry_after),
            (429, Some("rate_limit_exceeded"), Some(hint))
        );
        let resp = e.into_response();
        assert_eq!(resp.headers()["retry-after"], "2");
        assert_eq!(resp.headers()["retry-after-ms"], "1500");
        let e = ProxyError::from_client(
            &ClientError::Rejected(Rejection::BreakerOpen),
            None,
            hint,
            hint,
        );
        assert_eq!(e.status, 503);
        let answer = UpstreamAnswer {
            status: 500,
            body: Bytes::from_static(b"{\"error\":{}}"),
        };
        let e = ProxyError::from_client(
            &ClientError::Server { status: 500 },
            Some(answer.clone()),
            hint,
            hint,
        );
        assert_eq!((e.status, e.body()), (500, answer.body.clone()));
        // An answer from another attempt is not this error's body.
        let e = ProxyError::from_client(
            &ClientError::Server { status: 503 },
            Some(answer),
            hint,
            hint,
        );
        assert_ne!(e.body(), Bytes::from_static(b"{\"error\":{}}"));
        let e = ProxyError::from_client(&ClientError::Connect("refused".into()), None, hint, hint);
        assert_eq!(e.status, 502);
    }
}
