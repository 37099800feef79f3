//! OpenAI-shaped error responses. SDKs choose their exception class and retry policy from the
//! status, `error.type`, `error.code` and a few headers, so these follow the provider exactly.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::faults::engine::LimitResource;
use gauntlet_wire::duration::format_openai_duration;
use gauntlet_wire::openai::{ErrorBody, ErrorEnvelope};

/// An error response with OpenAI's body and headers, so a client's error parsing meets what
/// the provider sends.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// The body's `error` object.
    pub body: ErrorBody,
    /// `retry-after` to send, if any.
    pub retry_after: Option<Duration>,
    /// Send `x-should-retry: false` (quota exhaustion).
    pub no_retry: bool,
}

impl ApiError {
    /// A bare error with this status and body.
    pub fn new(status: StatusCode, kind: &str, code: Option<&str>, message: String) -> Self {
        Self {
            status,
            body: ErrorBody {
                message,
                kind: kind.to_string(),
                param: None,
                code: code.map(str::to_string),
            },
            retry_after: None,
            no_retry: false,
        }
    }

    /// 400 `invalid_request_error` naming the field at fault.
    pub fn invalid_request(message: String, param: Option<String>) -> Self {
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            None,
            message,
        );
        e.body.param = param;
        e
    }

    /// 401, as OpenAI answers a missing or wrong key.
    pub fn unauthorized(provided: bool) -> Self {
        let message = if provided {
            "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys."
        } else {
            "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        };
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            Some("invalid_api_key"),
            message.to_string(),
        )
    }

    /// 429 `rate_limit_exceeded` with OpenAI's message and `retry-after`.
    pub fn rate_limited(
        model: &str,
        resource: LimitResource,
        limit: u32,
        used: u32,
        requested: u32,
        retry_after: Duration,
    ) -> Self {
        let (kind, what) = match resource {
            LimitResource::Requests => ("requests", "requests per min (RPM)"),
            LimitResource::Tokens => ("tokens", "tokens per min (TPM)"),
        };
        let message = format!(
            "Rate limit reached for {model} in organization org-mock on {what}: Limit {limit}, \
             Used {used}, Requested {requested}. Please try again in {}. Visit \
             https://platform.openai.com/account/rate-limits to learn more.",
            format_openai_duration(retry_after)
        );
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            kind,
            Some("rate_limit_exceeded"),
            message,
        );
        e.retry_after = Some(retry_after);
        e
    }

    /// 429 `insufficient_quota`: not retryable, and says so.
    pub fn quota_exhausted() -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "insufficient_quota",
            Some("insufficient_quota"),
            "You exceeded your current quota, please check your plan and billing details. For \
             more information on this error, read the docs: \
             https://platform.openai.com/docs/guides/error-codes/api-errors."
                .to_string(),
        );
        e.no_retry = true;
        e
    }

    /// A server-side failure (500/502/503/504, or an injected 429) with the provider's body.
    pub fn server(status: u16, retry_after: Option<Duration>) -> Self {
        let (kind, code, message) = match status {
            429 => (
                "requests",
                Some("rate_limit_exceeded"),
                "Rate limit reached: too many requests. Please slow down.",
            ),
            502 => ("server_error", None, "Bad gateway."),
            503 => (
                "server_error",
                None,
                "The server is overloaded or not ready yet.",
            ),
            504 => ("server_error", None, "Gateway timeout."),
            _ => (
                "server_error",
                None,
                "The server had an error while processing your request. Sorry about that!",
            ),
        };
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut e = Self::new(status, kind, code, message.to_string());
        if status == StatusCode::TOO_MANY_REQUESTS {
            e.retry_after = Some(retry_after.unwrap_or(Duration::from_secs(1)));
        }
        e
    }

    /// 410: the route is deprecated.
    pub fn gone(path: &str) -> Self {
        Self::new(
            StatusCode::GONE,
            "invalid_request_error",
            Some("endpoint_deprecated"),
            format!(
                "{path} has been deprecated and no longer serves requests.{}",
                successor(path)
            ),
        )
    }

    /// 404 `model_not_found`, as OpenAI answers a model that does not exist (or that the key
    /// may not use), naming the `model` field.
    pub fn model_not_found(model: &str) -> Self {
        let mut e = Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("model_not_found"),
            format!("The model `{model}` does not exist or you do not have access to it."),
        );
        e.body.param = Some("model".into());
        e
    }

    /// 404 for an unknown route.
    pub fn not_found(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("unknown_url"),
            format!("Unknown request URL: {path}. Please check the URL for typos."),
        )
    }

    /// 405 for a known route and the wrong method.
    pub fn method_not_allowed(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request_error",
            Some("method_not_supported"),
            format!("Invalid method for URL ({method} {path})."),
        )
    }

    /// 413 for a body over the limit.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            Some("request_too_large"),
            format!("Request body is larger than the limit of {limit} bytes."),
        )
    }

    /// 414 for a request target over the mock's limit (`len` bytes against `limit`).
    pub fn uri_too_long(len: usize, limit: usize) -> Self {
        Self::new(
            StatusCode::URI_TOO_LONG,
            "invalid_request_error",
            Some("uri_too_long"),
            format!("Request URI is {len} bytes, over the limit of {limit} bytes."),
        )
    }

    /// 431 for a header section over the mock's limit (`len` bytes against `limit`).
    pub fn headers_too_large(len: usize, limit: usize) -> Self {
        Self::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "invalid_request_error",
            Some("request_header_fields_too_large"),
            format!("Request headers are {len} bytes, over the limit of {limit} bytes."),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, Json(ErrorEnvelope { error: self.body })).into_response();
        let h = resp.headers_mut();
        if let Some(wait) = self.retry_after {
            let secs = wait.as_secs_f64().ceil().max(0.0) as u64;
            let ms = wait.as_millis().max(1) as u64;
            h.insert("retry-after", HeaderValue::from(secs.max(1)));
            h.insert("retry-after-ms", HeaderValue::from(ms));
        }
        // OpenAI marks the answers a retry cannot change, and its SDKs obey the header.
        if self.no_retry || matches!(self.status.as_u16(), 400 | 401 | 404) {
            h.insert("x-should-retry", HeaderValue::from_static("false"));
        }
        resp
    }
}

/// Where a deprecation points callers: the legacy chat API's successor is chat completions;
/// the other routes have none to name.
fn successor(path: &str) -> &'static str {
    if path == "/v1/chat" {
        " Use POST /v1/chat/completions instead."
    } else {
        ""
    }
}
