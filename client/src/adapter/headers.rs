//! Reading the upstream's rate-limit headers and retry hints.
//!
//! Every value here comes from the upstream and is untrusted: a number that does not parse, is
//! negative or NaN is no value at all, and a duration longer than [`MAX_RETRY_HINT`] is read as
//! that maximum. Nothing a header says can make the stack panic (`Duration::from_secs_f64(1e300)`
//! did) or wait longer than the maximum.

use std::time::Duration;

use http::{HeaderMap, HeaderName};

use crate::request::RateLimitInfo;

/// The longest retry hint or reset duration read from a header: one day. A longer value (or
/// `inf`) is clamped to it. The retry layer never waits this long: a hint at this maximum ends
/// the retries whatever `max_retry_after` says, so `retry-after: 1e300` fails fast.
pub const MAX_RETRY_HINT: Duration = Duration::from_secs(86_400);

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

/// A count (`x-ratelimit-limit-*`, `-remaining-*`): a plain non-negative integer. A negative,
/// fractional or over-`u64` value is no value, not a wrapped or saturated one.
fn header_u64(h: &HeaderMap, name: &HeaderName) -> Option<u64> {
    header_str(h, name)?.parse().ok()
}

fn header_duration(h: &HeaderMap, name: &HeaderName) -> Option<Duration> {
    parse_reset(header_str(h, name)?)
}

/// Seconds as a hint: `None` for NaN or a negative value, [`MAX_RETRY_HINT`] for anything at or
/// above it (infinity included), else the exact duration. Never panics, unlike
/// `Duration::from_secs_f64`.
pub(crate) fn clamp_secs(secs: f64) -> Option<Duration> {
    if secs.is_nan() || secs < 0.0 {
        return None;
    }
    if secs >= MAX_RETRY_HINT.as_secs_f64() {
        return Some(MAX_RETRY_HINT);
    }
    Duration::try_from_secs_f64(secs).ok()
}

/// A plain number (`1`, `1.5`, `1e3`); `inf`, `nan` and other words Rust's float parser accepts
/// are garbage here, as is an HTTP-date.
fn parse_number(s: &str) -> Option<f64> {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    plain.then(|| s.parse().ok()).flatten()
}

/// OpenAI's reset durations (`6m0s`, `59.375s`, `120ms`, `1h2m3s`, `250us`): numbers with units,
/// summed. Parsed here rather than by the config parser, which refuses a long duration where a
/// header's must be clamped. Garbage is `None`; a sum at or above [`MAX_RETRY_HINT`] is that maximum.
pub(crate) fn parse_reset(s: &str) -> Option<Duration> {
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let value: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        total += value * unit_seconds(&rest[..unit_len])?;
        rest = &rest[unit_len..];
    }
    clamp_secs(total)
}

fn unit_seconds(unit: &str) -> Option<f64> {
    Some(match unit {
        "ns" => 1e-9,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        _ => return None,
    })
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
/// `x-ratelimit-reset-*` of an exhausted bucket; clamped to [`MAX_RETRY_HINT`]. A header that is
/// garbage is skipped for the next one. An HTTP-date `retry-after` (RFC 9110 allows one) is
/// treated as no hint: it needs the wall clock, which the stack never reads, and the free APIs
/// this client talks to send seconds.
pub fn retry_hint(h: &HeaderMap) -> Option<Duration> {
    let ms = header_str(h, &RETRY_AFTER_MS).and_then(parse_number);
    if let Some(hint) = ms.and_then(|ms| clamp_secs(ms / 1000.0)) {
        return Some(hint);
    }
    let secs = header_str(h, &http::header::RETRY_AFTER).and_then(parse_number);
    if let Some(hint) = secs.and_then(clamp_secs) {
        return Some(hint);
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
    use std::sync::Arc;

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

    /// Hostile values of each hint header, and the hint read from them: never a panic, never a
    /// hint over the maximum.
    pub(crate) const HOSTILE: &[(&str, &str, Option<Duration>)] = &[
        ("retry-after", "1e300", Some(MAX_RETRY_HINT)),
        ("retry-after", "99999999999999999999", Some(MAX_RETRY_HINT)),
        ("retry-after", "86401", Some(MAX_RETRY_HINT)),
        ("retry-after", "-1", None),
        ("retry-after", "-0.5", None),
        ("retry-after", "NaN", None),
        ("retry-after", "inf", None),
        ("retry-after", "infinity", None),
        ("retry-after", "1e-300", Some(Duration::ZERO)),
        ("retry-after", "", None),
        ("retry-after", "soon", None),
        ("retry-after", "0x10", None),
        ("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT", None),
        ("retry-after", "1.5", Some(Duration::from_millis(1500))),
        ("retry-after-ms", "1e300", Some(MAX_RETRY_HINT)),
        ("retry-after-ms", "-5", None),
        ("retry-after-ms", "NaN", None),
        ("retry-after-ms", "1e-300", Some(Duration::ZERO)),
        ("retry-after-ms", "250", Some(Duration::from_millis(250))),
        (
            "x-ratelimit-reset-requests",
            "99999999999999999999h",
            Some(MAX_RETRY_HINT),
        ),
        ("x-ratelimit-reset-requests", "1e300s", None),
        ("x-ratelimit-reset-requests", "-1s", None),
        (
            "x-ratelimit-reset-requests",
            "6m0s",
            Some(Duration::from_secs(360)),
        ),
        ("x-ratelimit-reset-requests", "1.2.3s", None),
        ("x-ratelimit-reset-requests", "12", None),
        ("x-ratelimit-reset-requests", "5parsecs", None),
        ("x-ratelimit-reset-requests", "s", None),
        ("x-ratelimit-reset-requests", "µs", None),
        // Not visible ASCII, so not a readable header value at all.
        ("x-ratelimit-reset-requests", "1µs", None),
        (
            "x-ratelimit-reset-requests",
            "1us",
            Some(Duration::from_micros(1)),
        ),
    ];

    #[test]
    fn hostile_hints_are_clamped_or_ignored_never_a_panic() {
        for (name, value, want) in HOSTILE {
            let mut pairs = vec![(*name, *value)];
            if name.starts_with("x-ratelimit") {
                pairs.push(("x-ratelimit-remaining-requests", "0"));
            }
            let h = headers(&pairs);
            assert_eq!(retry_hint(&h), *want, "{name}: {value}");
            assert!(retry_hint(&h).is_none_or(|d| d <= MAX_RETRY_HINT));
        }
    }

    #[test]
    fn a_garbage_hint_falls_through_to_the_next_header() {
        let h = headers(&[("retry-after-ms", "NaN"), ("retry-after", "3")]);
        assert_eq!(retry_hint(&h), Some(Duration::from_secs(3)));
    }

    #[test]
    fn hostile_counts_are_no_value() {
        let h = headers(&[
            ("x-ratelimit-limit-requests", "99999999999999999999"),
            ("x-ratelimit-remaining-requests", "-1"),
            ("x-ratelimit-limit-tokens", "1e6"),
            ("x-ratelimit-remaining-tokens", "0"),
            ("x-ratelimit-reset-tokens", "1e300s"),
        ]);
        let info = rate_limit_info(&h).unwrap();
        assert_eq!(info.limit_requests, None);
        assert_eq!(info.remaining_requests, None);
        assert_eq!(info.limit_tokens, None);
        assert_eq!(info.remaining_tokens, Some(0));
        assert_eq!(info.reset_tokens, None);
        assert_eq!(retry_hint(&h), None);
    }

    #[test]
    fn clamp_covers_every_float() {
        assert_eq!(clamp_secs(f64::INFINITY), Some(MAX_RETRY_HINT));
        assert_eq!(clamp_secs(f64::MAX), Some(MAX_RETRY_HINT));
        assert_eq!(clamp_secs(f64::NEG_INFINITY), None);
        assert_eq!(clamp_secs(f64::NAN), None);
        assert_eq!(clamp_secs(f64::MIN_POSITIVE), Some(Duration::ZERO));
        assert_eq!(clamp_secs(2.5), Some(Duration::from_millis(2500)));
    }

    /// Each hostile 429, classified by the adapter and retried on a paused clock: a clamped hint
    /// ends the retries at once (even with a `max_retry_after` above the clamp), no hint retries
    /// after the backoff, a small one after the hint.
    #[tokio::test(start_paused = true)]
    async fn hostile_hints_through_the_retry_layer() {
        use crate::retry::{Jitter, RetryConfig, RetryLayer};
        use crate::testing::{Scripted, Step};
        use crate::ChatRequest;
        use gauntlet_wire::duration::HumanDuration;
        use tokio::time::Instant;
        use tower::{Layer, ServiceExt};

        for max_retry_after in [Duration::from_secs(30), Duration::from_secs(10 * 86_400)] {
            for (name, value, want) in HOSTILE {
                let mut pairs = vec![(*name, *value)];
                if name.starts_with("x-ratelimit") {
                    pairs.push(("x-ratelimit-remaining-requests", "0"));
                }
                let error = super::super::classify_status(429, &headers(&pairs), b"");
                assert_eq!(error.retry_after(), *want, "{name}: {value}");
                let config = RetryConfig {
                    jitter: Jitter::None,
                    max_retry_after: HumanDuration(max_retry_after),
                    ..RetryConfig::default()
                };
                let retry = RetryLayer::new(config, 1, Arc::new(crate::NoopObserver)).unwrap();
                let up = Scripted::new([Step::err(error.clone())]);
                let t0 = Instant::now();
                let got = retry
                    .layer(up.clone())
                    .oneshot(ChatRequest::user_text("m", "q"))
                    .await;
                let calls: Vec<Duration> = up.calls().iter().map(|t| *t - t0).collect();
                match want {
                    Some(hint) if *hint > max_retry_after || *hint == MAX_RETRY_HINT => {
                        assert_eq!(got.unwrap_err(), error, "{name}: {value}");
                        assert_eq!(calls, [Duration::ZERO], "{name}: {value}");
                        assert_eq!(t0.elapsed(), Duration::ZERO);
                    }
                    hint => {
                        assert_eq!(got.unwrap().text, "done", "{name}: {value}");
                        let backoff = Duration::from_millis(200);
                        let at = hint.map_or(backoff, |h| h.max(backoff));
                        assert_eq!(calls, [Duration::ZERO, at], "{name}: {value}");
                    }
                }
            }
        }
    }
}
