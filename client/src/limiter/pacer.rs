//! The three ways the limiter decides "now, or not until t": a token bucket, GCRA (governor, on a
//! clock built from `tokio::time`), and an adaptive bucket whose rate follows the upstream.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::time::Instant;

/// Decides admissions; time is an argument (or read from `tokio::time`), never the wall clock.
pub trait Pacer: Send + std::fmt::Debug {
    /// Takes one permit now, or says how long until one is there.
    fn try_take(&mut self, now: Instant) -> Result<(), Duration>;
    /// Time between permits at the current rate (for queue wait estimates).
    fn interval(&self) -> Duration;
    /// The upstream said 429.
    fn on_throttled(&mut self, _now: Instant) {}
    /// The upstream answered; `remaining_ratio` is remaining / limit from `x-ratelimit-*`.
    fn on_success(&mut self, _now: Instant, _remaining_ratio: Option<f64>) {}
    /// The current rate, permits per second.
    fn rate(&self) -> f64;
    /// The share of the burst available at `now` (a deferral's "own budget"); `None` when the
    /// pacer cannot tell (GCRA keeps a theoretical arrival time, not a level).
    fn level(&self, _now: Instant) -> Option<f64> {
        None
    }
}

/// A classic token bucket: `burst` permits, refilled at `rate` per second.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    level: f64,
    last: Option<Instant>,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate,
            burst,
            level: burst,
            last: None,
        }
    }

    fn refill(&mut self, now: Instant) {
        if let Some(last) = self.last {
            let dt = now.saturating_duration_since(last).as_secs_f64();
            self.level = (self.level + dt * self.rate).min(self.burst);
        }
        self.last = Some(now);
    }

    fn set_rate(&mut self, now: Instant, rate: f64) {
        self.refill(now);
        self.rate = rate;
    }
}

impl Pacer for TokenBucket {
    fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        if self.level >= 1.0 - 1e-9 {
            self.level -= 1.0;
            Ok(())
        } else if self.rate <= 0.0 {
            Err(Duration::from_secs(3600))
        } else {
            Err(secs_or_hour((1.0 - self.level) / self.rate).max(Duration::from_micros(1)))
        }
    }

    fn interval(&self) -> Duration {
        if self.rate > 0.0 {
            secs_or_hour(1.0 / self.rate)
        } else {
            Duration::from_secs(3600)
        }
    }

    fn rate(&self) -> f64 {
        self.rate
    }

    fn level(&self, now: Instant) -> Option<f64> {
        let dt = self
            .last
            .map_or(0.0, |l| now.saturating_duration_since(l).as_secs_f64());
        Some(((self.level + dt * self.rate).min(self.burst) / self.burst).max(0.0))
    }
}

/// A wait in seconds as a `Duration`; an hour (the wait at rate 0) when it is not one (a
/// `min_rate` so small its interval overflows), where `from_secs_f64` would panic.
fn secs_or_hour(secs: f64) -> Duration {
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::from_secs(3600))
}

/// governor's clock on `tokio::time`, so GCRA follows a paused clock too.
#[derive(Debug, Clone)]
pub struct TokioClock {
    origin: Instant,
}

impl Clock for TokioClock {
    type Instant = Nanos;
    fn now(&self) -> Nanos {
        Nanos::from(Instant::now().saturating_duration_since(self.origin))
    }
}

/// GCRA through governor: smooth spacing with a burst allowance.
pub struct Gcra {
    limiter: RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Nanos>>,
    clock: TokioClock,
    interval: Duration,
}

impl std::fmt::Debug for Gcra {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gcra")
            .field("interval", &self.interval)
            .finish()
    }
}

impl Gcra {
    /// `rate` per second with `burst` cells.
    pub fn new(rate: f64, burst: u32) -> Self {
        let interval = Duration::from_secs_f64(1.0 / rate.max(1e-6));
        let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(interval.max(Duration::from_nanos(1)))
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst);
        let clock = TokioClock {
            origin: Instant::now(),
        };
        Self {
            limiter: RateLimiter::direct_with_clock(quota, clock.clone()),
            clock,
            interval,
        }
    }
}

impl Pacer for Gcra {
    fn try_take(&mut self, _now: Instant) -> Result<(), Duration> {
        self.limiter.check().map_err(|not_until| {
            not_until
                .wait_time_from(self.clock.now())
                .max(Duration::from_micros(1))
        })
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    fn rate(&self) -> f64 {
        1.0 / self.interval.as_secs_f64()
    }
}

/// Additive-increase, multiplicative-decrease on a token bucket, in the spirit of AWS's adaptive
/// retry mode (which uses CUBIC; AIMD is its simpler ancestor). A 429 halves the rate; an answer
/// whose `x-ratelimit-remaining-requests` is below `low_remaining` of the limit cuts it by 10 %;
/// every other success adds `increase` x the configured rate, up to that rate. The floor is
/// `min_rate`. It slows down before the provider starts refusing, and speeds up again once the
/// provider has room.
#[derive(Debug, Clone)]
pub struct Adaptive {
    bucket: TokenBucket,
    max_rate: f64,
    min_rate: f64,
    increase: f64,
    low_remaining: f64,
}

impl Adaptive {
    /// Starts at `max_rate`.
    pub fn new(
        max_rate: f64,
        burst: u32,
        min_rate: f64,
        increase: f64,
        low_remaining: f64,
    ) -> Self {
        Self {
            bucket: TokenBucket::new(max_rate, burst),
            max_rate,
            min_rate: min_rate.min(max_rate),
            increase,
            low_remaining,
        }
    }
}

impl Pacer for Adaptive {
    fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        self.bucket.try_take(now)
    }

    fn interval(&self) -> Duration {
        self.bucket.interval()
    }

    fn on_throttled(&mut self, now: Instant) {
        let rate = (self.bucket.rate * 0.5).max(self.min_rate);
        self.bucket.set_rate(now, rate);
        // Spend what is in the bucket: the provider just said there is no room.
        self.bucket.level = self.bucket.level.min(0.0);
    }

    fn on_success(&mut self, now: Instant, remaining_ratio: Option<f64>) {
        let rate = match remaining_ratio {
            Some(r) if r < self.low_remaining => (self.bucket.rate * 0.9).max(self.min_rate),
            _ => (self.bucket.rate + self.increase * self.max_rate).min(self.max_rate),
        };
        self.bucket.set_rate(now, rate);
    }

    fn rate(&self) -> f64 {
        self.bucket.rate
    }

    fn level(&self, now: Instant) -> Option<f64> {
        self.bucket.level(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn admitted(p: &mut dyn Pacer, t0: Instant, offsets_ms: &[u64]) -> Vec<u64> {
        offsets_ms
            .iter()
            .copied()
            .filter(|ms| p.try_take(t0 + Duration::from_millis(*ms)).is_ok())
            .collect()
    }

    #[test]
    fn bucket_allows_burst_then_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10.0, 3);
        assert_eq!(admitted(&mut b, t0, &[0, 0, 0, 0]), [0, 0, 0]);
        assert_eq!(b.try_take(t0), Err(Duration::from_millis(100)));
        assert!(b.try_take(t0 + Duration::from_millis(100)).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn gcra_follows_the_paused_clock() {
        let mut g = Gcra::new(10.0, 2);
        let t0 = Instant::now();
        assert!(g.try_take(t0).is_ok());
        assert!(g.try_take(t0).is_ok());
        let wait = g.try_take(t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(100));
        tokio::time::advance(wait).await;
        assert!(g.try_take(Instant::now()).is_ok());
    }

    #[test]
    fn adaptive_halves_on_429_and_recovers() {
        let t0 = Instant::now();
        let mut a = Adaptive::new(10.0, 1, 1.0, 0.1, 0.1);
        a.on_throttled(t0);
        assert_eq!(a.rate(), 5.0);
        a.on_throttled(t0);
        a.on_throttled(t0);
        a.on_throttled(t0);
        assert_eq!(a.rate(), 1.0, "floor");
        a.on_success(t0, Some(0.05));
        assert_eq!(a.rate(), 1.0);
        for _ in 0..20 {
            a.on_success(t0, Some(0.5));
        }
        assert_eq!(a.rate(), 10.0, "ceiling");
    }

    proptest! {
        /// In any window of length t, a token bucket admits at most burst + rate x t.
        #[test]
        fn bucket_never_admits_more_than_capacity_plus_rate(
            rate in 0.5f64..50.0, burst in 1u32..20,
            gaps in proptest::collection::vec(0u64..400, 1..300),
        ) {
            let t0 = Instant::now();
            let mut b = TokenBucket::new(rate, burst);
            let mut t = 0u64;
            let mut admitted = Vec::new();
            for g in gaps {
                t += g;
                if b.try_take(t0 + Duration::from_millis(t)).is_ok() {
                    admitted.push(t);
                }
            }
            for (i, &start) in admitted.iter().enumerate() {
                for (j, &end) in admitted.iter().enumerate().skip(i) {
                    let n = (j - i + 1) as f64;
                    let secs = (end - start) as f64 / 1000.0;
                    prop_assert!(n <= f64::from(burst) + rate * secs + 1e-6,
                        "{} admitted in {} s", n, secs);
                }
            }
        }

        /// The same bound for GCRA through governor on the tokio clock.
        #[test]
        fn gcra_never_admits_more_than_capacity_plus_rate(
            rate in 0.5f64..50.0, burst in 1u32..20,
            gaps in proptest::collection::vec(0u64..400, 1..200),
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
            rt.block_on(async {
                let mut g = Gcra::new(rate, burst);
                let mut admitted = Vec::new();
                let t0 = Instant::now();
                for gap in gaps {
                    tokio::time::advance(Duration::from_millis(gap)).await;
                    if g.try_take(Instant::now()).is_ok() {
                        admitted.push(Instant::now() - t0);
                    }
                }
                for (i, &start) in admitted.iter().enumerate() {
                    for (j, &end) in admitted.iter().enumerate().skip(i) {
                        let n = (j - i + 1) as f64;
                        let secs = (end - start).as_secs_f64();
                        assert!(n <= f64::from(burst) + rate * secs + 1e-6, "{n} admitted in {secs} s");
                    }
                }
            });
        }
    }
}
