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
    /// No connection to the upstream (refused, DNS, TLS, a `base_url` that does not parse);
    /// retried.
    #[error("connect error: {0}")]
    Connect(String),
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
            ClientError::QuotaExhausted | ClientError::Rejected(_) => false,
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
            | ClientError::RateLimited { .. } => true,
            ClientError::QuotaExhausted | ClientError::Client { .. } | ClientError::Rejected(_) => {
                false
            }
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
            ClientError::Reset(_) => "reset",
            ClientError::Malformed(_) => "malformed",
            ClientError::Client { .. } => "client_error",
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
}
