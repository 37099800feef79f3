//! The one way a latency histogram is made, so every histogram of a run, of a report read back
//! and of a merge has the same bounds and precision and can be added to any other.

use std::time::Duration;

use hdrhistogram::Histogram;

/// Highest latency recorded exactly: one hour, in microseconds. Longer waits are recorded as an
/// hour rather than lost.
pub const MAX_US: u64 = 3_600_000_000;

/// A latency histogram in microseconds, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3).expect("static bounds are valid")
}

/// Records `d`, clamped into the histogram's range (a zero latency counts as 1 µs).
pub fn record(h: &mut Histogram<u64>, d: Duration) {
    let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    h.saturating_record(us.clamp(1, MAX_US));
}
