//! `/readyz` and `/healthz` of `gauntlet proxy`: whether a load balancer should send this replica
//! traffic, and whether it is alive at all.
//!
//! Ready means the upstream answered within the last `window`, or the breaker is closed: a replica
//! whose breaker is open and whose upstream has been silent would only answer with fallbacks and
//! refusals, so another replica should take the traffic. A closed breaker counts as ready even
//! before any answer, so a fresh replica gets the first requests that prove the upstream works.
//! Liveness needs no state: the process answers `/healthz` with 200 for as long as it serves.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use gauntlet_client::observer::BreakerState;
use tokio::time::Instant;

/// The readiness state, shared (`Send + Sync`) by the handlers that see upstream answers and the
/// one that answers `/readyz`. Lock-free: the last answer is an atomic offset from a base instant.
#[derive(Debug)]
pub struct Health {
    window: Duration,
    /// When this was made; offsets are measured from it on the tokio clock.
    base: Instant,
    /// Microseconds from `base` to the last upstream answer, plus one; 0 = none yet.
    last_answer: AtomicU64,
}

impl Health {
    /// "Recently" is within `window` of now.
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            base: Instant::now(),
            last_answer: AtomicU64::new(0),
        }
    }

    /// Any HTTP answer from the upstream, error statuses included: it is reachable. Uses
    /// `tokio::time::Instant::now()`, so a paused clock drives it in tests.
    pub fn upstream_answered(&self) {
        let micros = u64::try_from(self.base.elapsed().as_micros()).unwrap_or(u64::MAX - 1);
        self.last_answer.fetch_max(micros + 1, Relaxed);
    }

    /// Answered within the window, or the breaker closed. Without a breaker nothing stops calls
    /// to the upstream, so it counts as closed (`None` = ready).
    pub fn ready(&self, breaker: Option<BreakerState>) -> bool {
        matches!(breaker, None | Some(BreakerState::Closed)) || self.answered_recently()
    }

    fn answered_recently(&self) -> bool {
        match self.last_answer.load(Relaxed) {
            0 => false,
            at => {
                let at = self.base + Duration::from_micros(at - 1);
                Instant::now().saturating_duration_since(at) <= self.window
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::advance;

    const WINDOW: Duration = Duration::from_secs(10);

    #[tokio::test(start_paused = true)]
    async fn an_open_breaker_is_ready_only_while_the_upstream_answered_recently() {
        let h = Health::new(WINDOW);
        let open = Some(BreakerState::Open);
        assert!(!h.ready(open), "no answer yet");
        h.upstream_answered();
        assert!(h.ready(open));
        advance(WINDOW).await;
        assert!(h.ready(open), "the window's edge is still recent");
        advance(Duration::from_millis(1)).await;
        assert!(!h.ready(open));
        assert!(!h.ready(Some(BreakerState::HalfOpen)));
        h.upstream_answered();
        assert!(h.ready(Some(BreakerState::HalfOpen)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_closed_breaker_or_none_is_ready_without_any_answer() {
        let h = Health::new(WINDOW);
        advance(Duration::from_secs(3600)).await;
        assert!(h.ready(Some(BreakerState::Closed)));
        assert!(h.ready(None));
        assert!(!h.ready(Some(BreakerState::Open)));
    }

    #[tokio::test(start_paused = true)]
    async fn the_window_counts_from_the_last_answer_not_the_start() {
        let h = Health::new(WINDOW);
        advance(Duration::from_secs(30)).await;
        h.upstream_answered();
        advance(Duration::from_secs(5)).await;
        assert!(h.ready(Some(BreakerState::Open)));
        advance(Duration::from_secs(6)).await;
        assert!(!h.ready(Some(BreakerState::Open)));
    }
}
