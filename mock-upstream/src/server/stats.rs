//! Counters of what the mock did, for `/_mock/stats` and `/metrics`.
//!
//! A test asserts on these to see how a client behaved (how often it retried, whether it
//! honoured a 429), so they count every answer, including resets that have no status.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

/// Upper bounds (seconds) of the latency histogram exported on `/metrics`.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// Thread-safe counters; one lock, held only to bump a few numbers.
#[derive(Debug, Default)]
pub struct Stats {
    inner: Mutex<StatsSnapshot>,
}

/// The counters copied out at one moment, so they can be reported and compared without
/// holding the lock.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StatsSnapshot {
    /// Every request answered (or dropped by a fault).
    pub requests: u64,
    /// By route (`/v1/chat/completions`, `/v1/chat`, ..., `other`).
    pub by_route: BTreeMap<String, u64>,
    /// By status; `no_response` for resets and hangs.
    pub by_status: BTreeMap<String, u64>,
    /// By route, then status, for `/metrics`.
    pub by_route_status: BTreeMap<String, BTreeMap<String, u64>>,
    /// By injected fault (`rate_limit_requests`, `outage`, `reset`, ...).
    pub by_fault: BTreeMap<String, u64>,
    /// By the `x-stainless-retry-count` header the official SDKs send (`0` = first attempt).
    pub by_retry_count: BTreeMap<String, u64>,
    /// Requests that got a latency spike.
    pub spikes: u64,
    /// Handlers that panicked (each answered 500 `server_error`); any is a mock bug.
    pub panics: u64,
    /// Counts per [`LATENCY_BUCKETS`] bound (not cumulative), plus one overflow slot.
    #[serde(skip)]
    pub latency_counts: Vec<u64>,
    /// Sum of processing times, seconds.
    #[serde(skip)]
    pub latency_sum: f64,
}

/// One answered request, as the stats see it.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    /// Route template, or `other`.
    pub route: &'a str,
    /// HTTP status, `None` when the connection was closed without one.
    pub status: Option<u16>,
    /// The fault injected, if any.
    pub fault: Option<&'a str>,
    /// The client's `x-stainless-retry-count`, if sent.
    pub retry_count: Option<&'a str>,
    /// Whether a spike was added.
    pub spiked: bool,
    /// Time until the response head.
    pub processing: Duration,
}

impl Stats {
    /// Counts one answer; called once per response by the observe layer.
    pub fn record(&self, o: &Observation<'_>) {
        let status_text;
        let status = match o.status {
            Some(200) => "200",
            Some(429) => "429",
            Some(503) => "503",
            Some(s) => {
                status_text = s.to_string();
                status_text.as_str()
            }
            None => "no_response",
        };
        let secs = o.processing.as_secs_f64();
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LATENCY_BUCKETS.len());
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        s.requests += 1;
        bump(&mut s.by_route, o.route);
        bump(&mut s.by_status, status);
        match s.by_route_status.get_mut(o.route) {
            Some(m) => bump(m, status),
            None => {
                let mut m = BTreeMap::new();
                bump(&mut m, status);
                s.by_route_status.insert(o.route.to_string(), m);
            }
        }
        if let Some(f) = o.fault {
            bump(&mut s.by_fault, f);
        }
        if let Some(r) = o.retry_count {
            bump(&mut s.by_retry_count, r);
        }
        if o.spiked {
            s.spikes += 1;
        }
        if s.latency_counts.len() <= LATENCY_BUCKETS.len() {
            s.latency_counts.resize(LATENCY_BUCKETS.len() + 1, 0);
        }
        s.latency_counts[bucket] += 1;
        s.latency_sum += secs;
    }

    /// Counts a handler that panicked; the 500 it became is recorded like any answer.
    pub fn record_panic(&self) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).panics += 1;
    }

    /// The counters copied out, for `/_mock/stats` and `/metrics`.
    pub fn snapshot(&self) -> StatsSnapshot {
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone();
        s.latency_counts.resize(LATENCY_BUCKETS.len() + 1, 0);
        s
    }

    /// Zeroes every counter, for `/_mock/reset`.
    pub fn reset(&self) {
        *self.inner.lock().unwrap_or_else(|p| p.into_inner()) = StatsSnapshot::default();
    }
}

/// Adds one to a counter, allocating its key only the first time it is seen.
fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    match map.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            map.insert(key.to_string(), 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_every_dimension() {
        let s = Stats::default();
        let o = Observation {
            route: "/v1/chat",
            status: Some(429),
            fault: Some("rate_limit_requests"),
            retry_count: Some("1"),
            spiked: false,
            processing: Duration::from_millis(30),
        };
        s.record(&o);
        s.record(&Observation {
            status: None,
            fault: Some("reset"),
            retry_count: None,
            ..o
        });
        let snap = s.snapshot();
        assert_eq!(snap.requests, 2);
        assert_eq!(snap.by_status["429"], 1);
        assert_eq!(snap.by_status["no_response"], 1);
        assert_eq!(snap.by_retry_count["1"], 1);
        assert_eq!(snap.latency_counts[3], 2);
        s.reset();
        assert_eq!(s.snapshot().requests, 0);
    }
}
