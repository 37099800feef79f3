//! A count over the last minute in one-second buckets: fixed memory whatever the rate.

use std::time::Duration;

use tokio::time::Instant;

/// Buckets kept: 61 one-second buckets always cover the last 60 s, so a limit checked against
/// their sum holds over any 60 s window (it may refuse up to a second early, never late).
const BUCKETS: usize = 61;

/// Events (requests, or tokens) counted per second since `epoch`.
#[derive(Debug, Clone)]
pub(crate) struct MinuteWindow {
    buckets: [u64; BUCKETS],
    /// The second (since the pool's epoch) of the newest bucket.
    head: u64,
}

impl MinuteWindow {
    pub(crate) fn new() -> Self {
        Self {
            buckets: [0; BUCKETS],
            head: 0,
        }
    }

    /// Moves the newest bucket to second `sec`, emptying the ones that fell out.
    fn roll(&mut self, sec: u64) {
        if sec <= self.head {
            return;
        }
        let steps = (sec - self.head).min(BUCKETS as u64);
        for s in 1..=steps {
            self.buckets[((self.head + s) % BUCKETS as u64) as usize] = 0;
        }
        self.head = sec;
    }

    /// Counts `n` at second `sec`.
    pub(crate) fn add(&mut self, sec: u64, n: u64) {
        self.roll(sec);
        let b = &mut self.buckets[(sec % BUCKETS as u64) as usize];
        *b = b.saturating_add(n);
    }

    /// The count over the window ending at second `sec`.
    pub(crate) fn sum(&mut self, sec: u64) -> u64 {
        self.roll(sec);
        self.buckets.iter().fold(0u64, |a, b| a.saturating_add(*b))
    }

    /// When the oldest counted second leaves the window: the earliest the sum can drop.
    pub(crate) fn frees_at(&mut self, epoch: Instant, sec: u64) -> Instant {
        self.roll(sec);
        let oldest = (0..BUCKETS as u64)
            .map(|age| sec.saturating_sub(BUCKETS as u64 - 1 - age))
            .find(|s| *s + BUCKETS as u64 > sec && self.buckets[(*s % BUCKETS as u64) as usize] > 0)
            .unwrap_or(sec);
        epoch + Duration::from_secs(oldest + BUCKETS as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_fall_out_after_the_window() {
        let mut w = MinuteWindow::new();
        w.add(0, 3);
        w.add(30, 2);
        assert_eq!(w.sum(30), 5);
        assert_eq!(w.sum(60), 5);
        assert_eq!(w.sum(61), 2);
        assert_eq!(w.sum(91), 0);
        w.add(1000, 1);
        assert_eq!(w.sum(1000), 1);
    }

    #[test]
    fn frees_at_names_the_oldest_second() {
        let t0 = Instant::now();
        let mut w = MinuteWindow::new();
        w.add(5, 1);
        w.add(20, 1);
        assert_eq!(w.frees_at(t0, 30), t0 + Duration::from_secs(66));
        assert_eq!(w.frees_at(t0, 70), t0 + Duration::from_secs(81));
    }
}
