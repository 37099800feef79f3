//! One classification of everything that can go wrong, and whether retrying can help.

use std::time::Duration;

/// Why a request failed. Every layer speaks this enum, so the retry policy, the breaker, the
/// fallback and the reports all agree on what a failure was.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClientError {
    /// 429 rate limit; `retry_after` from `retry-after-ms`, `retry-after` or `x-ratelimit-reset-*`.
    #[error("rate limited by the upstream (retry after {retry_after:?})")]
    RateLimited {
        /// When the upstream said to come back.
        retry_after: Option<Duration>,
    },
    /// 429 `insufficient_quota`: the budget is spent; retrying cannot help.
    #[error("upstream quota exhausted")]
    QuotaExhausted,
    /// 5xx from the upstream.
    #[error("upstream server error {status}")]
    Server {
        /// The 5xx status: 500, 502, 503 and 504 are retried, the others not.
        status: u16,
    },
    /// A timeout fired.
    #[error("{scope} timeout")]
    Timeout {
        /// An attempt timeout is retried; the total one ends the request.
        scope: TimeoutScope,
    },
    /// No connection to the upstream (refused, DNS, a `base_url` that does not parse);
    /// retried.
    #[error("connect error: {0}")]
    Connect(String),
    /// The TLS handshake with the upstream failed (a certificate not trusted, expired or for
    /// another name): a configuration error, fixed by trusting the right CA, not by waiting.
    /// Never retried and not counted by the breaker: the upstream may be healthy. The message
    /// begins `TLS: ` with rustls' reason and the origin.
    #[error("{0}")]
    Tls(String),
    /// The connection closed before a complete answer (reset, truncated body or stream).
    #[error("connection reset or answer cut off: {0}")]
    Reset(String),
    /// The answer could not be parsed (bad JSON, empty body, broken stream).
    #[error("malformed response: {0}")]
    Malformed(String),
    /// 4xx other than 429 (400, 401, 404, 410, ...).
    #[error("client error {status}: {message}")]
    Client {
        /// The 4xx status: 408 and 409 are retried, the others not.
        status: u16,
        /// The upstream's error message, or the body's first 200 characters when it is not an
        /// OpenAI error envelope.
        message: String,
    },
    /// Refused by a local layer without an upstream call.
    #[error("rejected locally: {0}")]
    Rejected(Rejection),
    /// The upstream's error object inside a 200 stream, before any content: retried or not as
    /// its `type` and `code` say ([`StreamErrorEvent::is_retryable`]).
    #[error("error event in the stream: {0}")]
    StreamError(StreamErrorEvent),
    /// A stream that ended cleanly, between events, without its final event (`[DONE]`), before
    /// any content. Unlike [`ClientError::Reset`] the connection did not break: the upstream
    /// closed the answer as if it were whole. Retried, as a reset is.
    #[error("stream ended cleanly before [DONE]")]
    StreamUnfinished,
    /// A stream that failed after its first content token: the caller may already have shown
    /// those tokens, so the request is not sent again from the start (unless
    /// `retry.restart_broken_streams` says so, and then the restart is counted). `cause` is the
    /// error the stream would have ended with before any content.
    #[error("stream broken after {tokens} content chunks: {cause}")]
    StreamBroken {
        /// What broke it: a [`ClientError::StreamError`], [`ClientError::StreamUnfinished`],
        /// [`ClientError::Reset`], [`ClientError::Malformed`] or [`ClientError::Timeout`].
        cause: Box<ClientError>,
        /// Content chunks received before it broke (one per token from OpenAI and the mock).
        tokens: u32,
    },
}

/// The upstream's error object sent inside a stream (OpenAI's `data: {"error": {...}}`), the
/// fields a retry decision reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamErrorEvent {
    /// `error.type`: `server_error`, `requests`, `insufficient_quota`, ...
    pub error_type: String,
    /// `error.code`: `rate_limit_exceeded`, `insufficient_quota`, ... when sent.
    pub code: Option<String>,
    /// `error.message`, cut to its first [`StreamErrorEvent::MAX_MESSAGE`] characters.
    pub message: String,
}

impl std::fmt::Display for StreamErrorEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{} ({code}): {}", self.error_type, self.message),
            None => write!(f, "{}: {}", self.error_type, self.message),
        }
    }
}

/// Error types and codes that say another attempt gets the same answer: the caller's request,
/// key or budget is at fault, not the upstream's health.
const FINAL_STREAM_ERRORS: [&str; 7] = [
    "insufficient_quota",
    "invalid_request_error",
    "invalid_api_key",
    "authentication_error",
    "permission_error",
    "not_found_error",
    "context_length_exceeded",
];

impl StreamErrorEvent {
    /// The longest message kept: a hostile upstream cannot make a report carry megabytes.
    pub const MAX_MESSAGE: usize = 200;

    /// The fields of a provider's error object, the message bounded.
    pub fn new(error_type: &str, code: Option<&str>, message: &str) -> Self {
        let cut = |s: &str, n: usize| s.chars().take(n).collect::<String>();
        Self {
            error_type: cut(error_type, 64),
            code: code.map(|c| cut(c, 64)),
            message: cut(message, Self::MAX_MESSAGE),
        }
    }

    /// Whether another attempt could succeed: not when the type or code is one of the caller's
    /// faults (quota spent, a bad request or key); yes for server errors, overload and rate
    /// limits, and for a type this client does not know (the stream broke on the upstream's
    /// side).
    pub fn is_retryable(&self) -> bool {
        let is_final = |s: &str| FINAL_STREAM_ERRORS.contains(&s);
        !(is_final(&self.error_type) || self.code.as_deref().is_some_and(is_final))
    }
}

/// Which timeout fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeoutScope {
    /// One attempt.
    Attempt,
    /// The whole request, retries included.
    Total,
}

impl std::fmt::Display for TimeoutScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TimeoutScope::Attempt => "attempt",
            TimeoutScope::Total => "total",
        })
    }
}

/// Why a local layer refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// The input filter found a sensitive term (mode `reject`).
    Filtered,
    /// The limiter's queue is full, or waiting would exceed `max_wait`.
    LimiterFull,
    /// The circuit breaker is open.
    BreakerOpen,
    /// The fallback queue could not answer within its max wait.
    QueueTimeout,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Rejection {
    /// snake_case name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::Filtered => "filtered",
            Rejection::LimiterFull => "limiter_full",
            Rejection::BreakerOpen => "breaker_open",
            Rejection::QueueTimeout => "queue_timeout",
        }
    }
}

impl ClientError {
    /// The [`kind`](Self::kind) of [`ClientError::StreamBroken`], which a `Retry` event names
    /// when the retry layer restarts a broken stream.
    pub const STREAM_BROKEN: &'static str = "stream_broken";

    /// Every [`kind`](Self::kind), in declaration order: the closed list a metrics exporter
    /// labels errors with (so no label value can come from anywhere else).
    pub const KINDS: [&'static str; 17] = [
        "rate_limited",
        "quota_exhausted",
        "server_error",
        "timeout_attempt",
        "timeout_total",
        "connect",
        "tls",
        "reset",
        "malformed",
        "client_error",
        "stream_error",
        "stream_unfinished",
        Self::STREAM_BROKEN,
        "rejected_filtered",
        "rejected_limiter",
        "rejected_breaker_open",
        "rejected_queue_timeout",
    ];

    /// Whether another attempt could succeed. Quota exhaustion, 400/401/404/410 and local
    /// rejections never are.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::RateLimited { .. }
            | ClientError::Connect(_)
            | ClientError::Reset(_)
            | ClientError::Malformed(_) => true,
            ClientError::Server { status } => matches!(status, 500 | 502 | 503 | 504),
            ClientError::Timeout { scope } => *scope == TimeoutScope::Attempt,
            ClientError::Client { status, .. } => matches!(status, 408 | 409),
            ClientError::StreamError(e) => e.is_retryable(),
            ClientError::StreamUnfinished => true,
            ClientError::QuotaExhausted
            | ClientError::Tls(_)
            | ClientError::Rejected(_)
            | ClientError::StreamBroken { .. } => false,
        }
    }

    /// Whether the retry layer may restart this broken stream from the start when
    /// `retry.restart_broken_streams` is on: when what broke it would have been retried before
    /// any content. Other errors are not broken streams: `false`.
    pub fn is_restartable(&self) -> bool {
        match self {
            ClientError::StreamBroken { cause, .. } => cause.is_retryable(),
            _ => false,
        }
    }

    /// This error as a stream that already delivered `tokens` content chunks ends with it: a
    /// [`ClientError::StreamBroken`] when any came, itself otherwise.
    pub fn after_tokens(self, tokens: u32) -> ClientError {
        match self {
            e @ ClientError::StreamBroken { .. } => e,
            e if tokens > 0 => ClientError::StreamBroken {
                cause: Box::new(e),
                tokens,
            },
            e => e,
        }
    }

    /// Whether this failure says the upstream is unhealthy (counted by the circuit breaker).
    /// A 4xx is the caller's fault and a local rejection never reached it.
    pub fn is_upstream_failure(&self) -> bool {
        match self {
            ClientError::Server { .. }
            | ClientError::Timeout { .. }
            | ClientError::Connect(_)
            | ClientError::Reset(_)
            | ClientError::Malformed(_)
            | ClientError::RateLimited { .. }
            | ClientError::StreamUnfinished => true,
            ClientError::StreamError(e) => e.is_retryable(),
            ClientError::StreamBroken { cause, .. } => cause.is_upstream_failure(),
            ClientError::QuotaExhausted
            | ClientError::Tls(_)
            | ClientError::Client { .. }
            | ClientError::Rejected(_) => false,
        }
    }

    /// The upstream's hint of when to retry, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ClientError::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }

    /// Stable snake_case kind for counters and reports.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientError::RateLimited { .. } => "rate_limited",
            ClientError::QuotaExhausted => "quota_exhausted",
            ClientError::Server { .. } => "server_error",
            ClientError::Timeout {
                scope: TimeoutScope::Attempt,
            } => "timeout_attempt",
            ClientError::Timeout {
                scope: TimeoutScope::Total,
            } => "timeout_total",
            ClientError::Connect(_) => "connect",
            ClientError::Tls(_) => "tls",
            ClientError::Reset(_) => "reset",
            ClientError::Malformed(_) => "malformed",
            ClientError::Client { .. } => "client_error",
            ClientError::StreamError(_) => "stream_error",
            ClientError::StreamUnfinished => "stream_unfinished",
            ClientError::StreamBroken { .. } => Self::STREAM_BROKEN,
            ClientError::Rejected(r) => match r {
                Rejection::Filtered => "rejected_filtered",
                Rejection::LimiterFull => "rejected_limiter",
                Rejection::BreakerOpen => "rejected_breaker_open",
                Rejection::QueueTimeout => "rejected_queue_timeout",
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_lists_every_variant_once() {
        let every = [
            ClientError::RateLimited { retry_after: None },
            ClientError::QuotaExhausted,
            ClientError::Server { status: 500 },
            ClientError::Timeout {
                scope: TimeoutScope::Attempt,
            },
            ClientError::Timeout {
                scope: TimeoutScope::Total,
            },
            ClientError::Connect(String::new()),
            ClientError::Tls(String::new()),
            ClientError::Reset(String::new()),
            ClientError::Malformed(String::new()),
            ClientError::Client {
                status: 400,
                message: String::new(),
            },
            ClientError::StreamError(StreamErrorEvent::new("server_error", None, "")),
            ClientError::StreamUnfinished,
            ClientError::StreamUnfinished.after_tokens(1),
            ClientError::Rejected(Rejection::Filtered),
            ClientError::Rejected(Rejection::LimiterFull),
            ClientError::Rejected(Rejection::BreakerOpen),
            ClientError::Rejected(Rejection::QueueTimeout),
        ];
        let kinds: Vec<&str> = every.iter().map(ClientError::kind).collect();
        assert_eq!(kinds, ClientError::KINDS);
    }

    #[test]
    fn never_retry_quota_400_401_or_local_rejections() {
        assert!(!ClientError::QuotaExhausted.is_retryable());
        for status in [400, 401, 404, 410] {
            let e = ClientError::Client {
                status,
                message: String::new(),
            };
            assert!(!e.is_retryable());
            assert!(!e.is_upstream_failure());
        }
        assert!(!ClientError::Rejected(Rejection::BreakerOpen).is_retryable());
        assert!(ClientError::Server { status: 503 }.is_retryable());
        assert!(!ClientError::Server { status: 501 }.is_retryable());
        assert!(ClientError::RateLimited { retry_after: None }.is_retryable());
        assert!(!ClientError::Timeout {
            scope: TimeoutScope::Total
        }
        .is_retryable());
    }

    #[test]
    fn a_stream_error_is_retried_as_its_type_and_code_say() {
        let retried = [
            ("server_error", None),
            ("requests", Some("rate_limit_exceeded")),
            ("overloaded_error", None),
            ("something_new", None),
        ];
        for (kind, code) in retried {
            let e = ClientError::StreamError(StreamErrorEvent::new(kind, code, "m"));
            assert!(e.is_retryable(), "{e}");
            assert!(e.is_upstream_failure(), "{e}");
        }
        let final_ = [
            ("insufficient_quota", Some("insufficient_quota")),
            ("invalid_request_error", None),
            ("server_error", Some("context_length_exceeded")),
        ];
        for (kind, code) in final_ {
            let e = ClientError::StreamError(StreamErrorEvent::new(kind, code, "m"));
            assert!(!e.is_retryable(), "{e}");
            assert!(!e.is_upstream_failure(), "{e}");
        }
        let long = StreamErrorEvent::new(&"t".repeat(1000), None, &"m".repeat(10_000));
        assert_eq!(long.message.len(), StreamErrorEvent::MAX_MESSAGE);
        assert_eq!(long.error_type.len(), 64);
    }

    #[test]
    fn a_stream_broken_after_content_is_never_retried_but_says_if_it_may_restart() {
        assert_eq!(
            ClientError::StreamUnfinished.after_tokens(0),
            ClientError::StreamUnfinished
        );
        let broken = ClientError::StreamUnfinished.after_tokens(3);
        assert_eq!(broken.kind(), "stream_broken");
        assert_eq!(
            broken.to_string(),
            "stream broken after 3 content chunks: stream ended cleanly before [DONE]"
        );
        assert!(!broken.is_retryable());
        assert!(broken.is_restartable());
        assert!(broken.is_upstream_failure());
        assert_eq!(broken.clone().after_tokens(9), broken, "wrapped once");
        let quota =
            ClientError::StreamError(StreamErrorEvent::new("insufficient_quota", None, "spent"))
                .after_tokens(1);
        assert!(!quota.is_restartable());
        assert!(!ClientError::Reset("x".into()).is_restartable());
    }
}
