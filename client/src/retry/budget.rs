//! A retry budget in the manner of tower's `TpsBudget`: successes deposit, retries withdraw
//! `1 / ratio` each, over a sliding window, plus a floor of retries per second. When an outage
//! makes everything fail, retries shrink to the floor instead of multiplying the load: a retry
//! storm cannot form.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// Number of slots the window is cut into.
const SLOTS: u32 = 10;

/// The budget's bookkeeping; decisions take `now` so they run on any clock.
#[derive(Debug)]
pub struct RetryBudget {
    ratio: f64,
    floor_per_sec: f64,
    window: Duration,
    slot_len: Duration,
    slots: VecDeque<Slot>,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    start: Instant,
    deposits: u64,
    withdrawals: u64,
}

impl RetryBudget {
    /// Retries may be `ratio` of successes, plus `floor_per_sec` per second, in any `window`.
    pub fn new(ratio: f64, floor_per_sec: f64, window: Duration) -> Self {
        let window = window.max(Duration::from_millis(10));
        Self {
            ratio: ratio.max(0.0),
            floor_per_sec: floor_per_sec.max(0.0),
            window,
            slot_len: window / SLOTS,
            slots: VecDeque::with_capacity(SLOTS as usize + 1),
        }
    }

    fn current(&mut self, now: Instant) -> &mut Slot {
        while let Some(first) = self.slots.front() {
            // A slot is dropped only when all of it is older than the window, so a retry granted
            // within the window is never forgotten (the budget errs on the strict side).
            if now.saturating_duration_since(first.start) >= self.window + self.slot_len {
                self.slots.pop_front();
            } else {
                break;
            }
        }
        let need_new = self
            .slots
            .back()
            .is_none_or(|s| now.saturating_duration_since(s.start) >= self.slot_len);
        if need_new {
            self.slots.push_back(Slot {
                start: now,
                deposits: 0,
                withdrawals: 0,
            });
        }
        self.slots.back_mut().expect("a slot was just ensured")
    }

    /// Records a success, which lets `ratio` more retries through within the window.
    pub fn deposit(&mut self, now: Instant) {
        self.current(now).deposits += 1;
    }

    /// Asks for one retry; `false` means the budget is spent.
    pub fn withdraw(&mut self, now: Instant) -> bool {
        self.current(now);
        let (deposits, withdrawals) = self
            .slots
            .iter()
            .fold((0, 0), |(d, w), s| (d + s.deposits, w + s.withdrawals));
        let allowed = self.floor_per_sec * self.window.as_secs_f64() + self.ratio * deposits as f64;
        if (withdrawals + 1) as f64 <= allowed + 1e-9 {
            self.current(now).withdrawals += 1;
            true
        } else {
            false
        }
    }

    /// Retries and successes in the window now, for tests and reports.
    pub fn totals(&mut self, now: Instant) -> (u64, u64) {
        self.current(now);
        self.slots
            .iter()
            .fold((0, 0), |(d, w), s| (d + s.deposits, w + s.withdrawals))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn floor_then_ratio() {
        let t0 = Instant::now();
        let mut b = RetryBudget::new(0.1, 1.0, Duration::from_secs(10));
        // No successes: the floor allows 1/s over 10 s.
        assert_eq!((0..20).filter(|_| b.withdraw(t0)).count(), 10);
        for _ in 0..100 {
            b.deposit(t0);
        }
        // 100 successes add 10 more.
        assert_eq!((0..20).filter(|_| b.withdraw(t0)).count(), 10);
        // After the window everything has expired.
        let later = t0 + Duration::from_secs(11);
        assert_eq!((0..20).filter(|_| b.withdraw(later)).count(), 10);
    }

    proptest! {
        /// Whatever the sequence of successes and retry requests, the retries granted within
        /// any one window never exceed the floor plus ratio x successes of that window.
        #[test]
        fn retries_never_exceed_the_budget(events in proptest::collection::vec((0u64..300, any::<bool>()), 1..400)) {
            let t0 = Instant::now();
            let window = Duration::from_secs(10);
            let mut b = RetryBudget::new(0.2, 0.5, window);
            let mut t = 0u64;
            let mut log: Vec<(u64, bool, bool)> = Vec::new(); // (ms, is_success, granted)
            for (gap, success) in events {
                t += gap;
                let now = t0 + Duration::from_millis(t);
                if success {
                    b.deposit(now);
                    log.push((t, true, false));
                } else {
                    let granted = b.withdraw(now);
                    log.push((t, false, granted));
                }
            }
            // Check every window that starts at an event. Retries are never forgotten within
            // the window; successes count for up to a window plus one slot (11 s), so the bound
            // uses the successes of that longer span.
            for &(start, _, _) in &log {
                let end = start + 10_000;
                let granted = log.iter().filter(|e| e.0 >= start && e.0 < end && e.2).count() as f64;
                let successes = log.iter().filter(|e| e.0 + 11_000 > start && e.0 < end && e.1).count() as f64;
                prop_assert!(granted <= 0.5 * 10.0 + 0.2 * successes + 1e-9,
                    "granted {} successes {}", granted, successes);
            }
        }
    }
}
