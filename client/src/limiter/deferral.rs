//! Deferral: a batch request waits, before it asks for a permit, until the quota has more than
//! `batch_reserve` left, so the reserve stays for interactive traffic; after `batch_max_wait` it
//! is refused (`LimiterFull`), which the fallback's `queue` step takes over.
//!
//! Spare quota is the smaller of what the upstream last reported (`x-ratelimit-remaining-*`,
//! refilled by its reset time, see [`QuotaView`]) and the limiter's own bucket level. A
//! deferred request waits outside the permit queue, so interactive requests never queue behind
//! it. When many deferred requests wake to the same spare figure, one goes per fresh figure:
//! the next waits for the answer that says what the first one cost.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::view::{QuotaView, Share};
use crate::error::{ClientError, Rejection};
use crate::layer_support::deadline_after;
use crate::observer::{Event, SharedObserver};

/// How often a waiter looks again when no refill time tells it when to.
const RECHECK: Duration = Duration::from_millis(250);

/// What a deferral decides on: the reserve, the wait, and the shared figures.
#[derive(Debug)]
pub(super) struct Deferral {
    reserve: Share,
    max_wait: Duration,
    /// The limiter's view of the upstream's quota, fed by every answer through it.
    pub(super) view: QuotaView,
    /// The view generation a woken waiter last went on; the next needs a newer one.
    claimed: AtomicU64,
}

impl Deferral {
    pub(super) fn new(reserve: Share, max_wait: Duration) -> Self {
        Self {
            reserve,
            max_wait,
            view: QuotaView::default(),
            claimed: AtomicU64::new(0),
        }
    }

    /// The spare share now: the smaller of the upstream's and `own` (the limiter's bucket
    /// level); `None` when neither is known, which does not hold anything back.
    fn spare(&self, own: Option<f64>) -> Option<f64> {
        match (self.view.left(), own) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether a waiter that saw `spare` may go now; one that had waited must claim the
    /// current view generation.
    fn may_go(&self, spare: Option<f64>, waited: bool) -> bool {
        if !spare.is_none_or(|s| s > self.reserve.fraction()) {
            return false;
        }
        if !waited {
            return true;
        }
        let generation = self.view.generation();
        self.claimed
            .fetch_max(generation, Ordering::AcqRel)
            .lt(&generation)
            || generation == 0
    }

    /// Waits until there is spare quota (`Ok`) or `batch_max_wait` has passed (the
    /// `LimiterFull` refusal); `own` reads the limiter's bucket level.
    pub(super) async fn wait(
        &self,
        own: impl Fn() -> Option<f64>,
        observer: &SharedObserver,
    ) -> Result<(), ClientError> {
        let started = Instant::now();
        let deadline = deadline_after(started, self.max_wait);
        let mut waited = false;
        loop {
            let changed = self.view.changed();
            if self.may_go(self.spare(own()), waited) {
                if waited {
                    let wait = started.elapsed();
                    observer.on_event(&Event::Deferred { wait });
                }
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                observer.on_event(&Event::DeferralExpired);
                return Err(ClientError::Rejected(Rejection::LimiterFull));
            }
            waited = true;
            let refill = self
                .view
                .time_until(self.reserve.fraction())
                .filter(|d| !d.is_zero())
                .unwrap_or(RECHECK);
            let wake = deadline_after(now, refill).min(deadline);
            tokio::select! {
                () = tokio::time::sleep_until(wake) => {}
                () = changed => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limiter::fake::tokens_left;
    use crate::observer::CountingObserver;
    use std::sync::Arc;

    fn deferral(reserve: f64, max_wait_s: u64) -> Deferral {
        Deferral::new(
            Share::new(reserve).unwrap(),
            Duration::from_secs(max_wait_s),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn waits_for_the_refill_past_the_reserve() {
        let d = deferral(0.3, 60);
        let obs = Arc::new(CountingObserver::default());
        let shared: SharedObserver = obs.clone();
        // 10 % left, refilling to full in 60 s: 30 % is passed after 13.3 s.
        d.view.update(&tokens_left(100));
        let t0 = Instant::now();
        d.wait(|| None, &shared).await.unwrap();
        let waited = t0.elapsed();
        assert!(
            waited > Duration::from_millis(13_333) && waited < Duration::from_millis(13_400),
            "{waited:?}"
        );
        assert_eq!(CountingObserver::get(&obs.deferred), 1);
        // Plenty left: no wait, no event.
        d.view.update(&tokens_left(900));
        let t1 = Instant::now();
        d.wait(|| None, &shared).await.unwrap();
        assert_eq!(t1.elapsed(), Duration::ZERO);
        assert_eq!(CountingObserver::get(&obs.deferred), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_at_the_deadline() {
        let d = deferral(0.5, 5);
        let obs = Arc::new(CountingObserver::default());
        let shared: SharedObserver = obs.clone();
        d.view.update(&tokens_left(0));
        let t0 = Instant::now();
        let err = d.wait(|| None, &shared).await.unwrap_err();
        assert_eq!(err, ClientError::Rejected(Rejection::LimiterFull));
        assert_eq!(t0.elapsed(), Duration::from_secs(5));
        assert_eq!(CountingObserver::get(&obs.deferrals_expired), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn the_own_bucket_counts_too_and_no_figures_hold_nothing_back() {
        let d = deferral(0.3, 1);
        let obs: SharedObserver = Arc::new(CountingObserver::default());
        assert!(d.wait(|| None, &obs).await.is_ok());
        assert!(d.wait(|| Some(0.2), &obs).await.is_err());
        d.view.update(&tokens_left(1000));
        assert!(d.wait(|| Some(0.2), &obs).await.is_err());
        assert!(d.wait(|| Some(0.8), &obs).await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn woken_waiters_go_one_per_fresh_figure() {
        let d = Arc::new(deferral(0.3, 600));
        let obs: SharedObserver = Arc::new(CountingObserver::default());
        d.view.update(&tokens_left(0));
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let (d, obs) = (d.clone(), obs.clone());
                tokio::spawn(async move {
                    d.wait(|| None, &obs).await.unwrap();
                    Instant::now()
                })
            })
            .collect();
        // Past 30 % after 18 s: one goes; each later answer lets one more go.
        tokio::time::sleep(Duration::from_secs(20)).await;
        let t = Instant::now();
        d.view.update(&tokens_left(500));
        tokio::time::sleep(Duration::from_secs(1)).await;
        d.view.update(&tokens_left(500));
        let mut went = Vec::new();
        for w in waiters {
            went.push(w.await.unwrap());
        }
        went.sort();
        assert!(went[0] < t, "{went:?}");
        assert_eq!(went[1], t);
        assert_eq!(went[2], t + Duration::from_secs(1));
    }
}
