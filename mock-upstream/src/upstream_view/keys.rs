//! What the view remembers per key: the latest `retry-after` deadline it gave the key, and the
//! key's last bodies with their answers, to tell a retry from a new request. Bounded: at most
//! [`MAX_KEYS`] keys (the least recently seen goes first) and [`BODIES_PER_KEY`] bodies each.

use std::collections::{HashMap, VecDeque};

use tokio::time::{Duration, Instant};

/// Keys remembered at once.
pub const MAX_KEYS: usize = 1024;
/// Bodies remembered per key.
pub const BODIES_PER_KEY: usize = 64;

/// One earlier attempt of a key, as a later retry of it needs to know it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seen {
    /// The hash of its body (0 when the body was not read).
    pub body: u64,
    /// When its answer was sent.
    pub sent: Instant,
    /// Its status, `None` for a closed connection.
    pub status: Option<u16>,
    /// Whether the answer was an error (>= 400 or none).
    pub error: bool,
    /// Whether the API marks the answer non-retryable.
    pub non_retryable: bool,
    /// 0 for a first attempt, n for the n-th retry.
    pub ordinal: u32,
}

/// One key's memory.
#[derive(Debug)]
pub struct KeyState {
    last_seen: Instant,
    /// (when the 429 was sent, when its `retry-after` runs out): the latest-ending one.
    deadline: Option<(Instant, Instant)>,
    bodies: VecDeque<Seen>,
    last_error: Option<Seen>,
}

impl KeyState {
    fn new(now: Instant) -> Self {
        Self {
            last_seen: now,
            deadline: None,
            bodies: VecDeque::new(),
            last_error: None,
        }
    }

    /// How long before the key's `retry-after` ran out an attempt arriving at `at` came, if it
    /// came after the 429 was sent and before the deadline.
    pub fn early_by(&self, at: Instant) -> Option<Duration> {
        let (sent, until) = self.deadline?;
        (at >= sent && at < until).then(|| until - at)
    }

    /// The earlier attempt with this body that got an error sent at most `window` before `at`.
    pub fn failed_body(&self, body: u64, at: Instant, window: Duration) -> Option<Seen> {
        self.bodies
            .iter()
            .rev()
            .find(|s| s.body == body)
            .copied()
            .filter(|s| s.error && s.sent <= at && at.saturating_duration_since(s.sent) <= window)
    }

    /// The key's last error answer sent before `at`.
    pub fn last_error(&self, at: Instant) -> Option<Seen> {
        self.last_error.filter(|s| s.sent <= at)
    }

    /// Remembers an attempt's answer (and, for a 429 with `retry-after`, its deadline).
    pub fn remember(&mut self, seen: Seen, body_known: bool, retry_after: Option<Duration>) {
        if let Some(wait) = retry_after.filter(|_| seen.status == Some(429)) {
            let until = seen.sent + wait;
            if self.deadline.is_none_or(|(_, old)| until > old) {
                self.deadline = Some((seen.sent, until));
            }
        }
        if seen.error {
            self.last_error = Some(seen);
        }
        if body_known {
            self.bodies.retain(|s| s.body != seen.body);
            if self.bodies.len() >= BODIES_PER_KEY {
                self.bodies.pop_front();
            }
            self.bodies.push_back(seen);
        }
    }
}

/// Every remembered key, by the hash of its bearer token (the token itself is not kept).
#[derive(Debug, Default)]
pub struct KeyBook {
    keys: HashMap<u64, KeyState>,
}

impl KeyBook {
    /// The key's state, made on first sight; a new key past [`MAX_KEYS`] evicts the least
    /// recently seen one.
    pub fn get(&mut self, key: u64, now: Instant) -> &mut KeyState {
        if !self.keys.contains_key(&key) && self.keys.len() >= MAX_KEYS {
            if let Some(oldest) = self
                .keys
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(k, _)| *k)
            {
                self.keys.remove(&oldest);
            }
        }
        let s = self.keys.entry(key).or_insert_with(|| KeyState::new(now));
        s.last_seen = s.last_seen.max(now);
        s
    }

    /// Keys remembered.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(body: u64, sent: Instant, status: u16) -> Seen {
        Seen {
            body,
            sent,
            status: Some(status),
            error: status >= 400,
            non_retryable: false,
            ordinal: 0,
        }
    }

    #[test]
    fn the_book_and_each_key_stay_bounded() {
        let t = Instant::now();
        let mut book = KeyBook::default();
        for k in 0..(MAX_KEYS as u64 + 10) {
            book.get(k, t + Duration::from_millis(k));
        }
        assert_eq!(book.len(), MAX_KEYS);
        let s = book.get(5_000, t);
        for b in 0..(BODIES_PER_KEY as u64 * 3) {
            s.remember(seen(b, t, 500), true, None);
        }
        assert_eq!(s.bodies.len(), BODIES_PER_KEY);
        assert!(s.failed_body(0, t, Duration::from_secs(1)).is_none());
        assert!(s.failed_body(191, t, Duration::from_secs(1)).is_some());
    }

    #[test]
    fn a_body_counts_as_failed_only_after_an_error_within_the_window() {
        let t = Instant::now();
        let mut s = KeyState::new(t);
        s.remember(seen(1, t, 200), true, None);
        s.remember(seen(2, t, 503), true, None);
        let w = Duration::from_secs(10);
        assert!(s.failed_body(1, t, w).is_none());
        assert!(s.failed_body(2, t + Duration::from_secs(5), w).is_some());
        assert!(s.failed_body(2, t + Duration::from_secs(11), w).is_none());
    }

    #[test]
    fn the_latest_ending_deadline_wins() {
        let t = Instant::now();
        let mut s = KeyState::new(t);
        s.remember(seen(1, t, 429), false, Some(Duration::from_secs(2)));
        s.remember(seen(1, t, 429), false, Some(Duration::from_secs(1)));
        assert_eq!(
            s.early_by(t + Duration::from_millis(500)),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(s.early_by(t + Duration::from_secs(2)), None);
        assert_eq!(s.early_by(t - Duration::from_millis(1)), None);
    }
}
