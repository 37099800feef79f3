//! The stack's events about spending the upstream's quota — the key pool's choices, cool-downs,
//! spent keys and costs, the model chain's degraded answers, the answer cap, batch deferrals —
//! counted for `/metrics`, apart from the request counters so each file keeps one job.
//!
//! A pool key is labelled by its config `name` (what the pool's events and the run reports show,
//! never the secret: an operator reads `key="free-tier"`, not a hash); a model by its name, which
//! the chain's config gives (the answering model is always a chain entry, never the caller's).
//! Both come from the config, never from a caller, and are bounded by the config's own limits.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use gauntlet_client::models::MAX_CHAIN;
use gauntlet_client::observer::Event;
use gauntlet_client::pool::MAX_KEYS;

use super::labelled::Labelled;
use super::text::{sample, Histogram};
use super::Metric;

/// The per-key counters, in the order of a key's slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyCount {
    Chosen,
    CooledDown,
    Spent,
    Tokens,
    /// `f64` bits.
    Cost,
}

impl KeyCount {
    const ALL: [KeyCount; 5] = [
        KeyCount::Chosen,
        KeyCount::CooledDown,
        KeyCount::Spent,
        KeyCount::Tokens,
        KeyCount::Cost,
    ];

    const fn index(self) -> usize {
        self as usize
    }

    /// The metric each counter is rendered as.
    fn metric(self) -> Metric {
        match self {
            KeyCount::Chosen => Metric::KeyRequests,
            KeyCount::CooledDown => Metric::KeyCooldowns,
            KeyCount::Spent => Metric::KeysSpent,
            KeyCount::Tokens => Metric::KeyTokens,
            KeyCount::Cost => Metric::KeyCost,
        }
    }
}

/// The label value of a pool key: its config name, never its secret.
fn key_label(name: &str) -> String {
    name.to_string()
}

/// A model's label value: its name from the chain.
fn as_is(model: &str) -> String {
    model.to_string()
}

/// What the quota-spending layers reported.
#[derive(Debug)]
pub(super) struct QuotaMetrics {
    /// [`KeyCount::ALL`] per pool key.
    keys: Labelled<{ KeyCount::ALL.len() }>,
    /// Degraded answers per answering model.
    degraded: Labelled<1>,
    answers_capped: AtomicU64,
    deferred: AtomicU64,
    deferral_wait: Histogram,
    deferrals_expired: AtomicU64,
}

impl QuotaMetrics {
    pub(super) fn new() -> Self {
        Self {
            // Twice the config's limits: a reload may bring a new set of keys or models.
            keys: Labelled::new(2 * MAX_KEYS, key_label),
            degraded: Labelled::new(2 * MAX_CHAIN, as_is),
            answers_capped: AtomicU64::new(0),
            deferred: AtomicU64::new(0),
            deferral_wait: Histogram::new(),
            deferrals_expired: AtomicU64::new(0),
        }
    }

    /// Counts `event` if it is one of this file's; the others are left to the caller.
    pub(super) fn on_event(&self, event: &Event) {
        let key = |key: &str, c: KeyCount, n: u64| self.keys.add(key, c.index(), n);
        match event {
            Event::KeyChosen { key: k } => key(k, KeyCount::Chosen, 1),
            Event::KeyCooledDown { key: k, .. } => key(k, KeyCount::CooledDown, 1),
            Event::KeySpent { key: k } => key(k, KeyCount::Spent, 1),
            Event::KeyCost {
                key: k,
                tokens,
                cost,
                ..
            } => {
                key(k, KeyCount::Tokens, *tokens);
                self.keys.add_f64(k, KeyCount::Cost.index(), *cost);
            }
            Event::Degraded { to, .. } => self.degraded.add(to, 0, 1),
            Event::AnswerCapped { .. } => {
                self.answers_capped.fetch_add(1, Relaxed);
            }
            Event::Deferred { wait } => {
                self.deferred.fetch_add(1, Relaxed);
                self.deferral_wait.observe(*wait);
            }
            Event::DeferralExpired => {
                self.deferrals_expired.fetch_add(1, Relaxed);
            }
            _ => {}
        }
    }

    /// Writes the samples of `m`, one of this file's metrics (any other writes nothing).
    pub(super) fn render(&self, m: Metric, out: &mut String) {
        let name = m.name();
        match m {
            Metric::KeyRequests
            | Metric::KeyCooldowns
            | Metric::KeysSpent
            | Metric::KeyTokens
            | Metric::KeyCost => self.render_keys(m, out),
            Metric::Degraded => {
                for (model, c) in self.degraded.rows() {
                    sample(out, name, &[("model", model)], c[0].load(Relaxed));
                }
            }
            Metric::AnswersCapped => sample(out, name, &[], self.answers_capped.load(Relaxed)),
            Metric::Deferred => sample(out, name, &[], self.deferred.load(Relaxed)),
            Metric::DeferralWaitSeconds => self.deferral_wait.render(out, name, &[]),
            Metric::DeferralsExpired => {
                sample(out, name, &[], self.deferrals_expired.load(Relaxed));
            }
            _ => {}
        }
    }

    /// One per-key family: every key seen, its zero counts included, so a rate is defined from
    /// the key's first request on.
    fn render_keys(&self, m: Metric, out: &mut String) {
        let Some(c) = KeyCount::ALL.into_iter().find(|c| c.metric() == m) else {
            return;
        };
        for (key, counts) in self.keys.rows() {
            let v = counts[c.index()].load(Relaxed);
            let labels = [("key", key)];
            if c == KeyCount::Cost {
                sample(out, m.name(), &labels, f64::from_bits(v));
            } else {
                sample(out, m.name(), &labels, v);
            }
        }
    }
}
