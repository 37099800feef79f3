//! The upstream's latest word on its quota (`x-ratelimit-*`), kept across requests, and the
//! [`Share`] of a limit that the keys deciding on it are written in. The answer cap and the
//! limiter's deferral each keep one view, fed from the answers that pass them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::request::RateLimitInfo;

/// A share of a limit in `(0, 1]`, written `"20%"` or `0.2`. Zero is refused too: a threshold
/// of nothing would turn its feature off without saying so.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Share(f64);

/// Why a text or number is not a [`Share`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{shown} is not a share in (0%, 100%]; write \"20%\" or 0.2")]
pub struct InvalidShare {
    /// What was written.
    pub shown: String,
}

impl Share {
    /// A fraction in `(0, 1]`; NaN, infinities, zero, negatives and more than 1 are refused.
    pub fn new(fraction: f64) -> Result<Self, InvalidShare> {
        if fraction > 0.0 && fraction <= 1.0 {
            Ok(Share(fraction))
        } else {
            Err(InvalidShare {
                shown: fraction.to_string(),
            })
        }
    }

    /// The fraction, in `(0, 1]`.
    pub fn fraction(self) -> f64 {
        self.0
    }

    fn parse(text: &str) -> Result<Self, InvalidShare> {
        let bad = || InvalidShare {
            shown: format!("{text:?}"),
        };
        let t = text.trim();
        let value = match t.strip_suffix('%') {
            Some(pct) => pct.trim().parse::<f64>().map_err(|_| bad())? / 100.0,
            None => t.parse::<f64>().map_err(|_| bad())?,
        };
        Share::new(value).map_err(|_| bad())
    }
}

impl Serialize for Share {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}%", self.0 * 100.0))
    }
}

impl<'de> Deserialize<'de> for Share {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Number(f64),
            Text(String),
        }
        let parsed = match Written::deserialize(d)? {
            Written::Number(n) => Share::new(n),
            Written::Text(t) => Share::parse(&t),
        };
        parsed.map_err(serde::de::Error::custom)
    }
}

/// The last `x-ratelimit-*` figures an answer carried, and when; shared by every request through
/// one layer. Between answers the remaining quota is estimated to refill linearly to the limit
/// over the reported reset time, as the providers' buckets do.
#[derive(Debug, Default)]
pub struct QuotaView {
    seen: Mutex<Option<(RateLimitInfo, Instant)>>,
    changed: Notify,
    generation: AtomicU64,
}

/// One limit's remaining share `elapsed` after it was reported.
fn refilled(
    remaining: Option<u64>,
    limit: Option<u64>,
    reset: Option<Duration>,
    elapsed: Duration,
) -> Option<f64> {
    let (remaining, limit) = (remaining?, limit?);
    if limit == 0 {
        return None;
    }
    let now = (remaining as f64 / limit as f64).min(1.0);
    let refill = match reset {
        Some(r) if !r.is_zero() => (elapsed.as_secs_f64() / r.as_secs_f64()).min(1.0),
        _ => 0.0,
    };
    Some(now + (1.0 - now) * refill)
}

/// When a share `now` that refills to 1 over the `reset` left reaches `want`; `None` when it never does
/// (no reset time reported).
fn refill_time(now: f64, want: f64, reset: Option<Duration>) -> Option<Duration> {
    if now >= want {
        return Some(Duration::ZERO);
    }
    let reset = reset.filter(|r| !r.is_zero())?;
    let part = (want - now) / (1.0 - now);
    Duration::try_from_secs_f64(reset.as_secs_f64() * part).ok()
}

impl QuotaView {
    /// Keeps an answer's figures as the latest, and wakes whoever waits for quota.
    pub fn update(&self, info: &RateLimitInfo) {
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some((*info, Instant::now()));
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.changed.notify_waiters();
    }

    fn seen(&self) -> Option<(RateLimitInfo, Instant)> {
        *self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The token limit's remaining share now; `None` before any answer reported one.
    pub fn tokens_left(&self) -> Option<f64> {
        let (i, at) = self.seen()?;
        refilled(
            i.remaining_tokens,
            i.limit_tokens,
            i.reset_tokens,
            at.elapsed(),
        )
    }

    /// The smaller remaining share of the request and token limits now; `None` before any
    /// answer reported either.
    pub fn left(&self) -> Option<f64> {
        let (i, at) = self.seen()?;
        let e = at.elapsed();
        let requests = refilled(i.remaining_requests, i.limit_requests, i.reset_requests, e);
        let tokens = refilled(i.remaining_tokens, i.limit_tokens, i.reset_tokens, e);
        match (requests, tokens) {
            (Some(r), Some(t)) => Some(r.min(t)),
            (r, t) => r.or(t),
        }
    }

    /// How long until both limits have more than `want` left by the refill estimate; `None`
    /// when nothing was reported or a limit reported no reset time.
    pub fn time_until(&self, want: f64) -> Option<Duration> {
        let (i, at) = self.seen()?;
        let e = at.elapsed();
        let mut longest = Duration::ZERO;
        for (rem, lim, reset) in [
            (i.remaining_requests, i.limit_requests, i.reset_requests),
            (i.remaining_tokens, i.limit_tokens, i.reset_tokens),
        ] {
            if let Some(now) = refilled(rem, lim, reset, e) {
                let reset_left = reset.map(|r| r.saturating_sub(e));
                longest = longest.max(refill_time(now, want, reset_left)?);
            }
        }
        Some(longest)
    }

    /// How many answers have updated the view: a waiter that saw one figure can tell whether
    /// a newer one has come since.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Resolves at the next [`update`](Self::update); create it before checking, so an update
    /// in between is not missed.
    pub fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.changed.notified()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(toml_value: &str) -> Result<Share, String> {
        #[derive(Deserialize, Debug)]
        struct T {
            #[allow(dead_code)]
            s: Share,
        }
        toml::from_str::<T>(&format!("s = {toml_value}"))
            .map(|t| t.s)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn shares_are_percentages_or_fractions_in_range() {
        assert_eq!(share("\"20%\"").unwrap().fraction(), 0.2);
        assert_eq!(share("0.3").unwrap().fraction(), 0.3);
        assert_eq!(share("1").unwrap().fraction(), 1.0);
        for bad in [
            "\"0%\"", "0", "-0.1", "\"120%\"", "1.5", "nan", "inf", "\"x%\"", "\"\"",
        ] {
            let e = share(bad).unwrap_err();
            assert!(e.contains("not a share"), "{bad}: {e}");
        }
    }

    fn info(remaining: u64, limit: u64, reset_s: u64) -> RateLimitInfo {
        RateLimitInfo {
            remaining_tokens: Some(remaining),
            limit_tokens: Some(limit),
            reset_tokens: Some(Duration::from_secs(reset_s)),
            ..RateLimitInfo::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_view_refills_linearly_over_the_reset_time() {
        let v = QuotaView::default();
        assert_eq!(v.left(), None);
        v.update(&info(100, 1000, 60));
        assert!((v.tokens_left().unwrap() - 0.1).abs() < 1e-9);
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!((v.left().unwrap() - 0.55).abs() < 1e-9);
        // From 55 % to 70 %: a third of the rest, 10 s of the 30 s left.
        let until = v.time_until(0.7).unwrap().as_secs_f64();
        assert!((until - 10.0).abs() < 1e-6, "{until}");
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(v.left(), Some(1.0));
        assert_eq!(v.time_until(0.7), Some(Duration::ZERO));
    }

    #[tokio::test(start_paused = true)]
    async fn the_tighter_limit_decides_and_no_reset_means_no_estimate() {
        let v = QuotaView::default();
        v.update(&RateLimitInfo {
            remaining_requests: Some(50),
            limit_requests: Some(100),
            ..info(10, 100, 0)
        });
        assert_eq!(v.left(), Some(0.1));
        assert_eq!(v.time_until(0.2), None);
        v.update(&RateLimitInfo {
            limit_tokens: Some(0),
            ..info(0, 0, 1)
        });
        assert_eq!(v.left(), None);
    }
}

/// A fake upstream for the quota layers' tests: each answer reports the next scripted token
/// quota left (of a limit of 1000, refilling over 60 s) and the requests are kept.
#[cfg(test)]
pub(crate) mod fake {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use crate::error::ClientError;
    use crate::request::{ChatRequest, ChatResponse, Outcome, RateLimitInfo};

    /// The requests seen, in order.
    pub(crate) type Seen = Arc<Mutex<Vec<ChatRequest>>>;

    /// The figures of an answer with `remaining` of 1000 tokens left.
    pub(crate) fn tokens_left(remaining: u64) -> RateLimitInfo {
        RateLimitInfo {
            remaining_tokens: Some(remaining),
            limit_tokens: Some(1000),
            reset_tokens: Some(Duration::from_secs(60)),
            ..RateLimitInfo::default()
        }
    }

    /// Answers with `outcome`, reporting `remaining` in turn (the last one forever).
    pub(crate) fn upstream(
        outcome: Outcome,
        remaining: impl IntoIterator<Item = u64>,
    ) -> (
        impl tower::Service<
                ChatRequest,
                Response = ChatResponse,
                Error = ClientError,
                Future = futures_util::future::BoxFuture<
                    'static,
                    Result<ChatResponse, ClientError>,
                >,
            > + Clone
            + Send
            + 'static,
        Seen,
    ) {
        let script = Arc::new(Mutex::new(remaining.into_iter().collect::<VecDeque<_>>()));
        let seen: Seen = Arc::default();
        let log = seen.clone();
        let svc = tower::service_fn(move |req: ChatRequest| {
            log.lock().unwrap().push(req);
            let mut s = script.lock().unwrap();
            let left = if s.len() > 1 {
                s.pop_front()
            } else {
                s.front().copied()
            };
            let mut r = ChatResponse::local("ok", outcome);
            r.rate_limit = left.map(tokens_left);
            Box::pin(async move { Ok(r) }) as futures_util::future::BoxFuture<'static, _>
        });
        (svc, seen)
    }
}
