//! Reading the upstream's rate-limit headers and retry hints.

use std::time::Duration;

use gauntlet_wire::duration::parse_duration;
use http::{HeaderMap, HeaderName};

use crate::request::RateLimitInfo;

// Named once: a lookup by `&str` parses and validates the name on every call, and these are
// read on every response.
const LIMIT_REQUESTS: HeaderName = HeaderName::from_static("x-ratelimit-limit-requests");
const REMAINING_REQUESTS: HeaderName = HeaderName::from_static("x-ratelimit-remaining-requests");
const RESET_REQUESTS: HeaderName = HeaderName::from_static("x-ratelimit-reset-requests");
const LIMIT_TOKENS: HeaderName = HeaderName::from_static("x-ratelimit-limit-tokens");
const REMAINING_TOKENS: HeaderName = HeaderName::from_static("x-ratelimit-remaining-tokens");
const RESET_TOKENS: HeaderName = HeaderName::from_static("x-ratelimit-reset-tokens");
const RETRY_AFTER_MS: HeaderName = HeaderName::from_static("retry-after-ms");

fn header_str<'a>(h: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    h.get(name)?.to_str().ok().map(str::trim)
}

fn header_u64(h: &HeaderMap, name: &HeaderName) -> Option<u64> {
    header_str(h, name)?.parse().ok()
}

fn header_duration(h: &HeaderMap, name: &HeaderName) -> Option<Duration> {
    parse_duration(header_str(h, name)?).ok()
}

/// `x-ratelimit-*`, when any is present.
pub fn rate_limit_info(h: &HeaderMap) -> Option<RateLimitInfo> {
    let info = RateLimitInfo {
        limit_requests: header_u64(h, &LIMIT_REQUESTS),
        remaining_requests: header_u64(h, &REMAINING_REQUESTS),
        reset_requests: header_duration(h, &RESET_REQUESTS),
        limit_tokens: header_u64(h, &LIMIT_TOKENS),
        remaining_tokens: header_u64(h, &REMAINING_TOKENS),
        reset_tokens: header_duration(h, &RESET_TOKENS),
    };
    (info != RateLimitInfo::default()).then_some(info)
}

/// When a 429 says to come back: `retry-after-ms`, then `retry-after` (seconds), then the
/// `x-ratelimit-reset-*` of an exhausted bucket.
pub fn retry_hint(h: &HeaderMap) -> Option<Duration> {
    if let Some(ms) = header_str(h, &RETRY_AFTER_MS).and_then(|v| v.parse::<f64>().ok()) {
        if ms.is_finite() && ms >= 0.0 {
            return Some(Duration::from_secs_f64(ms / 1000.0));
        }
    }
    if let Some(s) = header_str(h, &http::header::RETRY_AFTER).and_then(|v| v.parse::<f64>().ok()) {
        if s.is_finite() && s >= 0.0 {
            return Some(Duration::from_secs_f64(s));
        }
    }
    let info = rate_limit_info(h)?;
    match (info.remaining_requests, info.remaining_tokens) {
        (Some(0), _) => info.reset_requests,
        (_, Some(0)) => info.reset_tokens,
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn retry_hint_prefers_milliseconds() {
        let h = headers(&[("retry-after", "20"), ("retry-after-ms", "19375")]);
        assert_eq!(retry_hint(&h), Some(Duration::from_millis(19375)));
        let h = headers(&[("retry-after", "2")]);
        assert_eq!(retry_hint(&h), Some(Duration::from_secs(2)));
        let h = headers(&[
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", "6m0s"),
        ]);
        assert_eq!(retry_hint(&h), Some(Duration::from_secs(360)));
        assert_eq!(retry_hint(&HeaderMap::new()), None);
    }

    #[test]
    fn reads_openai_rate_limit_headers() {
        let h = headers(&[
            ("x-ratelimit-limit-requests", "3"),
            ("x-ratelimit-remaining-requests", "1"),
            ("x-ratelimit-reset-requests", "59.375s"),
        ]);
        let info = rate_limit_info(&h).unwrap();
        assert_eq!(info.limit_requests, Some(3));
        assert_eq!(info.remaining_requests, Some(1));
        assert_eq!(info.reset_requests, Some(Duration::from_millis(59_375)));
        assert_eq!(info.limit_tokens, None);
    }
}
