//! What the key pool's events add up to over a run: the requests each kind of key answered,
//! their tokens and their price, for `summary.json`'s `pool`.

use crate::client::Event;

/// The key pool's totals; all zero for a run without `[client.pool]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PoolTotals {
    /// Answers through the pool (`KeyCost` events).
    pub requests: u64,
    /// Of those, answers with a key that has a price.
    pub paid_requests: u64,
    /// Tokens of those answers.
    pub tokens: u64,
    /// Their price, summed.
    pub cost: f64,
    /// Keys rested after a 429.
    pub cooldowns: u64,
    /// Keys found spent (`insufficient_quota`).
    pub spent: u64,
}

impl PoolTotals {
    /// Whether `event` is one this counts, so a caller can skip its lock for the others.
    pub fn counts(event: &Event) -> bool {
        matches!(
            event,
            Event::KeyCost { .. } | Event::KeyCooledDown { .. } | Event::KeySpent { .. }
        )
    }

    /// Adds one pool event (others are ignored).
    pub fn add(&mut self, event: &Event) {
        match event {
            Event::KeyCost {
                tokens, cost, paid, ..
            } => {
                self.requests += 1;
                self.paid_requests += u64::from(*paid);
                self.tokens += tokens;
                self.cost += cost;
            }
            Event::KeyCooledDown { .. } => self.cooldowns += 1,
            Event::KeySpent { .. } => self.spent += 1,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_costs_and_counts_rests() {
        let mut t = PoolTotals::default();
        let cost = |paid, cost| Event::KeyCost {
            key: "k".into(),
            tokens: 100,
            cost,
            paid,
        };
        for e in [
            cost(false, 0.0),
            cost(true, 0.25),
            Event::KeySpent { key: "k".into() },
            Event::KeyCooledDown {
                key: "k".into(),
                rest: std::time::Duration::from_secs(1),
            },
            Event::CacheMiss,
        ] {
            assert_eq!(PoolTotals::counts(&e), !matches!(e, Event::CacheMiss));
            t.add(&e);
        }
        assert_eq!((t.requests, t.paid_requests, t.tokens), (2, 1, 200));
        assert_eq!((t.cooldowns, t.spent), (1, 1));
        assert_eq!(t.cost, 0.25);
    }
}
