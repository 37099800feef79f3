//! Reading the upstream's rate-limit headers and retry hints.

use std::time::Duration;

use http::HeaderMap;
use mock_upstream::duration::parse_duration;

use crate::client::request::RateLimitInfo;

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name)?.to_str().ok().map(str::trim)
}

fn header_u64(h: &HeaderMap, name: &str) -> Option<u64> {
    header_str(h, name)?.parse().ok()
}

fn header_duration(h: &HeaderMap, name: &str) -> Option<Duration> {
    parse_duration(header_str(h, name)?).ok()
}

/// `x-ratelimit-*`, when any is present.
pub fn rate_limit_info(h: &HeaderMap) -> Option<RateLimitInfo> {
    let info = RateLimitInfo {
        limit_requests: header_u64(h, "x-ratelimit-limit-requests"),
        remaining_requests: header_u64(h, "x-ratelimit-remaining-requests"),
        reset_requests: header_duration(h, "x-ratelimit-reset-requests"),
        limit_tokens: header_u64(h, "x-ratelimit-limit-tokens"),
        remaining_tokens: header_u64(h, "x-ratelimit-remaining-tokens"),
        reset_tokens: header_duration(h, "x-ratelimit-reset-tokens"),
    };
    (info != RateLimitInfo::default()).then_some(info)
}

/// When a 429 says to come back: `retry-after-ms`, then `retry-after` (seconds), then the
/// `x-ratelimit-reset-*` of an exhausted bucket.
pub fn retry_hint(h: &HeaderMap) -> Option<Duration> {
    if let Some(ms) = header_str(h, "retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        if ms.is_finite() && ms >= 0.0 {
            return Some(Duration::from_secs_f64(ms / 1000.0));
        }
    }
    if let Some(s) = header_str(h, "retry-after").and_then(|v| v.parse::<f64>().ok()) {
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
