//! Counters by a label value that only the config names (a pool key, a model of the chain), for
//! the series whose label set is not a closed list in the code. The values are kept in a fixed
//! number of slots, filled as they are first seen and never freed, so a reload that renames keys,
//! or a bug that lets another value through, can grow the series count by at most the slot
//! count; whatever finds no slot is counted under `other`.
//!
//! Lock-free like the rest of the metrics: a slot is a `OnceLock`, so an update scans the slots
//! and adds to an atomic, and only the first sighting of a value initialises a slot.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;

use super::OTHER;

/// One label value's `N` counters, under the label value to render (`shown`), which may differ
/// from the value the events carry (`raw`: what the event carries).
#[derive(Debug)]
struct Slot<const N: usize> {
    raw: Box<str>,
    shown: String,
    counts: [AtomicU64; N],
}

impl<const N: usize> Slot<N> {
    fn new(raw: &str, shown: String) -> Self {
        Self {
            raw: raw.into(),
            shown,
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// `N` counters per label value, for at most `slots` values plus `other`.
#[derive(Debug)]
pub(super) struct Labelled<const N: usize> {
    slots: Box<[OnceLock<Slot<N>>]>,
    other: [AtomicU64; N],
    /// The label value a raw value is rendered as (a pool key's or a model's name).
    show: fn(&str) -> String,
}

impl<const N: usize> Labelled<N> {
    /// Room for `slots` distinct values, each rendered as `show(value)`.
    pub(super) fn new(slots: usize, show: fn(&str) -> String) -> Self {
        Self {
            slots: (0..slots).map(|_| OnceLock::new()).collect(),
            other: std::array::from_fn(|_| AtomicU64::new(0)),
            show,
        }
    }

    /// The counters of `value`, taking a free slot on its first sighting; `other`'s when every
    /// slot holds another value.
    fn counters(&self, value: &str) -> &[AtomicU64; N] {
        for cell in self.slots.iter() {
            let slot = cell.get_or_init(|| Slot::new(value, (self.show)(value)));
            if *slot.raw == *value {
                return &slot.counts;
            }
        }
        &self.other
    }

    /// Adds `n` to counter `i` of `value` (saturating; an `i` past `N` is ignored).
    pub(super) fn add(&self, value: &str, i: usize, n: u64) {
        if let Some(c) = self.counters(value).get(i) {
            let _ = c.fetch_update(Relaxed, Relaxed, |v| Some(v.saturating_add(n)));
        }
    }

    /// Adds `x` to counter `i` of `value`, which holds an `f64`'s bits; a negative or non-finite
    /// `x` is ignored, so the sum only goes up and stays a number.
    pub(super) fn add_f64(&self, value: &str, i: usize, x: f64) {
        if !(x.is_finite() && x >= 0.0) {
            return;
        }
        if let Some(c) = self.counters(value).get(i) {
            let _ = c.fetch_update(Relaxed, Relaxed, |bits| {
                Some((f64::from_bits(bits) + x).min(f64::MAX).to_bits())
            });
        }
    }

    /// Every value seen, as rendered, with its counters: the slots in the order they were
    /// filled, then `other` if anything was counted there.
    pub(super) fn rows(&self) -> impl Iterator<Item = (&str, &[AtomicU64; N])> {
        let seen = self
            .slots
            .iter()
            .map_while(OnceLock::get)
            .map(|s| (s.shown.as_str(), &s.counts));
        let other_used = self.other.iter().any(|c| c.load(Relaxed) > 0);
        seen.chain(other_used.then_some((OTHER, &self.other)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upper(s: &str) -> String {
        s.to_uppercase()
    }

    fn table(l: &Labelled<2>) -> Vec<(String, u64, u64)> {
        l.rows()
            .map(|(v, c)| (v.to_string(), c[0].load(Relaxed), c[1].load(Relaxed)))
            .collect()
    }

    #[test]
    fn values_fill_slots_in_order_and_the_rest_is_other() {
        let l = Labelled::<2>::new(2, upper);
        l.add("a", 0, 1);
        l.add("b", 1, 5);
        l.add("a", 0, 1);
        l.add("c", 0, 1);
        l.add("d", 1, 1);
        l.add("a", 7, 1);
        assert_eq!(
            table(&l),
            [
                ("A".into(), 2, 0),
                ("B".into(), 0, 5),
                ("other".into(), 1, 1)
            ]
        );
    }

    #[test]
    fn other_is_absent_until_used_and_sums_saturate() {
        let l = Labelled::<2>::new(1, upper);
        assert!(l.rows().next().is_none());
        l.add("a", 0, u64::MAX);
        l.add("a", 0, 9);
        assert_eq!(table(&l), [("A".into(), u64::MAX, 0)]);
    }

    #[test]
    fn float_sums_ignore_what_is_not_a_cost() {
        let l = Labelled::<1>::new(1, upper);
        for x in [0.25, f64::NAN, -1.0, f64::INFINITY, 0.5] {
            l.add_f64("k", 0, x);
        }
        let (_, c) = l.rows().next().unwrap();
        assert_eq!(f64::from_bits(c[0].load(Relaxed)), 0.75);
    }
}
