//! An interval's row, finished outside the recorder's lock.
//!
//! Closing an interval means percentiles and a serialised histogram for the latency and every
//! token series: about 1.5 ms in a debug build. Under the lock, every request that completes
//! meanwhile waits for it, and a driver thread that rolls the interval inline stops reading its
//! streams, which put a few-ms stall at every interval boundary into the run's own TTFT p99.
//! So the lock only moves the closed interval's histograms out ([`Closing`]); the figures are
//! worked out by [`Closing::finish`], on a blocking thread when the ticker does it.
//!
//! Nor does the lock allocate: an interval's four histograms are about 720 kB, and making them
//! under the lock at a boundary took 0.1 ms, and now and then 4-6 ms (measured 2026-12-02), which
//! a driver thread waiting for the lock passed on to the first token it was reading then. A
//! closed interval's histograms come back emptied as a [`Blank`] once its row is worked out,
//! and the next boundary swaps a blank in.

use hdrhistogram::serialization::{Serializer as _, V2Serializer};
use hdrhistogram::Histogram;

use crate::record::{new_histogram, IntervalRow, TokenInterval};

/// A closed interval whose row still lacks its percentiles and encoded histograms.
#[derive(Debug)]
pub(super) struct Closing {
    /// The counts, start and states, already final.
    pub(super) row: IntervalRow,
    /// Latency, µs.
    pub(super) hist: Histogram<u64>,
    /// The token series.
    pub(super) tokens: TokenInterval,
}

/// An interval's histograms, empty and ready to take the place of a closing interval's.
#[derive(Debug)]
pub(super) struct Blank {
    /// Latency, µs.
    pub(super) hist: Histogram<u64>,
    /// The token series.
    pub(super) tokens: TokenInterval,
}

impl Blank {
    /// Newly allocated histograms (outside the lock, or when no blank is left).
    pub(super) fn new() -> Self {
        Self {
            hist: new_histogram(),
            tokens: TokenInterval::default(),
        }
    }
}

impl Closing {
    /// The row with its percentiles and histograms, and its histograms emptied for reuse.
    pub(super) fn finish(mut self, serializer: &mut V2Serializer) -> (IntervalRow, Blank) {
        let (row, h) = (&mut self.row, &self.hist);
        if !h.is_empty() {
            row.p50_ms = h.value_at_quantile(0.5) as f64 / 1000.0;
            row.p95_ms = h.value_at_quantile(0.95) as f64 / 1000.0;
            row.p99_ms = h.value_at_quantile(0.99) as f64 / 1000.0;
            row.max_ms = h.max() as f64 / 1000.0;
        }
        self.tokens.close(&mut row.tokens, serializer);
        let mut encoded = Vec::new();
        if serializer.serialize(h, &mut encoded).is_ok() {
            row.histogram = encoded;
        }
        // `TokenInterval::close` emptied the token series.
        self.hist.reset();
        let blank = Blank {
            hist: self.hist,
            tokens: self.tokens,
        };
        (self.row, blank)
    }
}
