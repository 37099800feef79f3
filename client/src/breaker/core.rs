//! The breaker's state machine as plain arithmetic on `now`, testable without a runtime.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use crate::observer::BreakerState;

/// Slots the failure window is cut into.
const SLOTS: u32 = 10;

/// Settings of the state machine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerSettings {
    /// Open when failures / calls reach this over the window...
    pub failure_ratio: f64,
    /// ...measured over this window...
    pub window: Duration,
    /// ...once at least this many calls were seen.
    pub min_calls: u32,
    /// How long it stays open before probing.
    pub open_for: Duration,
    /// Probes let through when half-open; all must succeed to close.
    pub half_open_probes: u32,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    start: Instant,
    calls: u32,
    failures: u32,
}

/// The state machine behind [`BreakerLayer`](super::BreakerLayer): every decision takes `now`, so
/// it runs on the tokio clock, a paused one, or a simulation's.
#[derive(Debug)]
pub struct BreakerCore {
    settings: BreakerSettings,
    state: BreakerState,
    slots: VecDeque<Slot>,
    opened_at: Option<Instant>,
    probes_started: u32,
    probes_ok: u32,
    reported: BreakerState,
}

/// What a call may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Go ahead (closed).
    Call,
    /// Go ahead as a probe (half-open).
    Probe,
    /// Fail fast.
    Reject,
}

impl BreakerCore {
    /// A breaker that starts closed, with no calls in its window.
    pub fn new(settings: BreakerSettings) -> Self {
        Self {
            settings,
            state: BreakerState::Closed,
            slots: VecDeque::new(),
            opened_at: None,
            probes_started: 0,
            probes_ok: 0,
            reported: BreakerState::Closed,
        }
    }

    /// The change of state since the last call, if any, so each transition is reported once
    /// (including open -> half-open, which happens by the passing of time).
    pub fn take_transition(&mut self, now: Instant) -> Option<(BreakerState, BreakerState)> {
        let state = self.state(now);
        let from = std::mem::replace(&mut self.reported, state);
        (from != state).then_some((from, state))
    }

    /// The state now (open turns half-open once `open_for` has passed).
    pub fn state(&mut self, now: Instant) -> BreakerState {
        if self.state == BreakerState::Open
            && self
                .opened_at
                .is_some_and(|t| now.saturating_duration_since(t) >= self.settings.open_for)
        {
            self.state = BreakerState::HalfOpen;
            self.probes_started = 0;
            self.probes_ok = 0;
        }
        self.state
    }

    /// Whether a call may start now.
    pub fn admit(&mut self, now: Instant) -> Admit {
        match self.state(now) {
            BreakerState::Closed => Admit::Call,
            BreakerState::Open => Admit::Reject,
            BreakerState::HalfOpen => {
                if self.probes_started < self.settings.half_open_probes.max(1) {
                    self.probes_started += 1;
                    Admit::Probe
                } else {
                    Admit::Reject
                }
            }
        }
    }

    /// Records the result of an admitted call; returns the new state if it changed.
    pub fn record(&mut self, now: Instant, admit: Admit, failed: bool) -> Option<BreakerState> {
        let before = self.state;
        match admit {
            Admit::Reject => return None,
            Admit::Probe if self.state == BreakerState::HalfOpen => {
                if failed {
                    self.open(now);
                } else {
                    self.probes_ok += 1;
                    if self.probes_ok >= self.settings.half_open_probes.max(1) {
                        self.state = BreakerState::Closed;
                        self.slots.clear();
                    }
                }
            }
            Admit::Probe => {}
            Admit::Call => {
                let slot = self.slot(now);
                slot.calls += 1;
                if failed {
                    slot.failures += 1;
                }
                if self.state == BreakerState::Closed {
                    let (calls, failures) = self
                        .slots
                        .iter()
                        .fold((0, 0), |(c, f), s| (c + s.calls, f + s.failures));
                    if calls >= self.settings.min_calls
                        && f64::from(failures) >= self.settings.failure_ratio * f64::from(calls)
                    {
                        self.open(now);
                    }
                }
            }
        }
        (self.state != before).then_some(self.state)
    }

    fn open(&mut self, now: Instant) {
        self.state = BreakerState::Open;
        self.opened_at = Some(now);
        self.slots.clear();
    }

    fn slot(&mut self, now: Instant) -> &mut Slot {
        let slot_len = self.settings.window / SLOTS;
        while let Some(first) = self.slots.front() {
            if now.saturating_duration_since(first.start) >= self.settings.window {
                self.slots.pop_front();
            } else {
                break;
            }
        }
        if self
            .slots
            .back()
            .is_none_or(|s| now.saturating_duration_since(s.start) >= slot_len)
        {
            self.slots.push_back(Slot {
                start: now,
                calls: 0,
                failures: 0,
            });
        }
        self.slots.back_mut().expect("a slot was just ensured")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> BreakerSettings {
        BreakerSettings {
            failure_ratio: 0.5,
            window: Duration::from_secs(10),
            min_calls: 4,
            open_for: Duration::from_secs(5),
            half_open_probes: 2,
        }
    }

    #[test]
    fn opens_probes_and_closes() {
        let t0 = Instant::now();
        let mut b = BreakerCore::new(settings());
        // Three failures are not enough calls yet.
        for _ in 0..3 {
            let a = b.admit(t0);
            assert_eq!(b.record(t0, a, true), None);
        }
        let a = b.admit(t0);
        assert_eq!(b.record(t0, a, true), Some(BreakerState::Open));
        assert_eq!(b.admit(t0 + Duration::from_secs(4)), Admit::Reject);
        let t5 = t0 + Duration::from_secs(5);
        let p1 = b.admit(t5);
        let p2 = b.admit(t5);
        assert_eq!((p1, p2), (Admit::Probe, Admit::Probe));
        assert_eq!(b.admit(t5), Admit::Reject, "only two probes");
        assert_eq!(b.record(t5, p1, false), None);
        assert_eq!(b.record(t5, p2, false), Some(BreakerState::Closed));
    }

    #[test]
    fn a_failed_probe_reopens() {
        let t0 = Instant::now();
        let mut b = BreakerCore::new(settings());
        for _ in 0..4 {
            let a = b.admit(t0);
            b.record(t0, a, true);
        }
        let t5 = t0 + Duration::from_secs(5);
        let p = b.admit(t5);
        assert_eq!(b.record(t5, p, true), Some(BreakerState::Open));
        assert_eq!(b.admit(t5 + Duration::from_secs(4)), Admit::Reject);
    }

    #[test]
    fn old_failures_leave_the_window() {
        let t0 = Instant::now();
        let mut b = BreakerCore::new(settings());
        for _ in 0..3 {
            let a = b.admit(t0);
            b.record(t0, a, true);
        }
        let later = t0 + Duration::from_secs(11);
        for _ in 0..3 {
            let a = b.admit(later);
            assert_eq!(b.record(later, a, false), None);
        }
        let a = b.admit(later);
        assert_eq!(b.record(later, a, true), None, "1 failure in 4 calls");
    }
}
