//! Continuously refilling buckets, the way providers enforce RPM, TPM and RPD.
//!
//! A bucket of capacity `C` per window `W` refills at `C / W` per second and starts full. The
//! decision takes `now` as an argument (the governor pattern), so it is plain arithmetic that
//! runs the same on a real or a paused clock.

use std::time::Duration;

use tokio::time::Instant;

/// One bucket's level; the capacity and window come from the limits in force at each call,
/// so a mid-run policy change applies at once.
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    level: f64,
    last: Instant,
    fresh: bool,
}

/// What a bucket says about a request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketView {
    /// The capacity in force.
    pub limit: u32,
    /// Whole units left after this request.
    pub remaining: u32,
    /// Time until the bucket is full again.
    pub reset_after: Duration,
}

impl Bucket {
    /// A bucket that is full at its first check, whatever capacity that check brings.
    pub fn new(now: Instant) -> Self {
        Self {
            level: 0.0,
            last: now,
            fresh: true,
        }
    }

    fn refill(&mut self, now: Instant, capacity: f64, window: Duration) {
        if self.fresh {
            self.level = capacity;
            self.fresh = false;
        } else {
            let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
            let rate = capacity / window.as_secs_f64();
            self.level = (self.level + elapsed * rate).min(capacity);
        }
        self.last = now;
    }

    /// Whether `cost` units are there now; when not, how long until they are. Takes nothing.
    pub fn check(
        &mut self,
        now: Instant,
        capacity: u32,
        window: Duration,
        cost: f64,
    ) -> Result<(), Duration> {
        let cap = f64::from(capacity);
        self.refill(now, cap, window);
        if self.level + 1e-9 >= cost {
            Ok(())
        } else if cost > cap {
            Err(Duration::MAX)
        } else {
            let rate = cap / window.as_secs_f64();
            Err(Duration::from_secs_f64((cost - self.level) / rate))
        }
    }

    /// Takes `cost` units (after a successful [`check`](Self::check) at the same `now`).
    pub fn take(&mut self, cost: f64) {
        self.level -= cost;
    }

    /// The bucket's state for rate-limit headers.
    pub fn view(&mut self, now: Instant, capacity: u32, window: Duration) -> BucketView {
        let cap = f64::from(capacity);
        self.refill(now, cap, window);
        let level = self.level.max(0.0);
        let rate = cap / window.as_secs_f64();
        let reset_after = if rate > 0.0 {
            Duration::from_secs_f64(((cap - level) / rate).max(0.0))
        } else {
            Duration::ZERO
        };
        BucketView {
            limit: capacity,
            remaining: level.floor() as u32,
            reset_after,
        }
    }

    /// Units spent and not yet refilled, for quota reporting.
    pub fn used(&self, capacity: u32) -> f64 {
        if self.fresh {
            0.0
        } else {
            (f64::from(capacity) - self.level).max(0.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refills_continuously() {
        let t0 = Instant::now();
        let minute = Duration::from_secs(60);
        let mut b = Bucket::new(t0);
        for _ in 0..3 {
            b.check(t0, 3, minute, 1.0).unwrap();
            b.take(1.0);
        }
        let wait = b.check(t0, 3, minute, 1.0).unwrap_err();
        assert_eq!(wait, Duration::from_secs(20));
        assert!(b
            .check(t0 + Duration::from_secs(19), 3, minute, 1.0)
            .is_err());
        assert!(b
            .check(t0 + Duration::from_secs(20), 3, minute, 1.0)
            .is_ok());
        let v = b.view(t0 + Duration::from_secs(20), 3, minute);
        assert_eq!((v.limit, v.remaining), (3, 1));
        assert_eq!(v.reset_after, Duration::from_secs(40));
    }

    #[test]
    fn a_lower_capacity_clamps_the_level() {
        let t0 = Instant::now();
        let mut b = Bucket::new(t0);
        assert!(b.check(t0, 60, Duration::from_secs(60), 1.0).is_ok());
        let v = b.view(t0, 20, Duration::from_secs(60));
        assert_eq!(v.remaining, 20);
        assert_eq!(
            b.check(t0, 20, Duration::from_secs(60), 30.0),
            Err(Duration::MAX)
        );
    }
}
