//! Recording without coordinated omission: every request's latency is counted from its
//! intended start (and, apart, from its actual send), into HDR histograms overall, per outcome,
//! per priority and per interval. Interval histograms are summarised and reset at each interval's
//! end, so memory stays flat however long the run.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::serialization::Serializer as _;
use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::time::Instant;

use crate::client::{BreakerState, ChatResponse, ClientError, Event, Observer, Priority};

/// Highest latency recorded exactly: one hour, in microseconds.
const MAX_US: u64 = 3_600_000_000;

/// A latency histogram in microseconds, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3).expect("static bounds are valid")
}

fn record(h: &mut Histogram<u64>, d: Duration) {
    h.saturating_record((d.as_micros() as u64).clamp(1, MAX_US));
}

/// The outcome names reports use, errors included.
pub const OUTCOMES: [&str; 7] = [
    "upstream",
    "cache_hit",
    "coalesced",
    "stale",
    "fallback",
    "queued",
    "error",
];

/// One interval's figures, kept for the time series.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct IntervalRow {
    /// Start offset, seconds.
    pub start_s: f64,
    /// Requests whose intended start fell in the interval.
    pub started: u64,
    /// Requests completed in it.
    pub completed: u64,
    /// Successful answers completed in it.
    pub ok: u64,
    /// Errors completed in it.
    pub errors: u64,
    /// Arrivals dropped (in-flight bound).
    pub dropped: u64,
    /// Latency percentiles of the requests completed in it, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Maximum, ms.
    pub max_ms: f64,
    /// Completed per outcome, in [`OUTCOMES`] order.
    pub outcomes: [u64; 7],
    /// Upstream attempts of the requests completed in it.
    pub attempts: u64,
    /// Retries scheduled in it.
    pub retries: u64,
    /// Time requests spent in the limiter, ms (requests completed in it).
    pub limiter_wait_ms: f64,
    /// Deepest limiter queue seen.
    pub queue_depth_max: u64,
    /// Breaker state at the interval's end.
    pub breaker: &'static str,
    /// Last `x-ratelimit-remaining-requests` seen.
    pub quota_remaining: Option<u64>,
    /// Offered rate of the schedule, per second (open model).
    pub offered_rps: f64,
    /// The interval's latency histogram (µs), HdrHistogram V2 encoded (compressed only when
    /// `latency.hlog` is written, once), for `latency.hlog` and merges.
    #[serde(skip)]
    pub histogram: Vec<u8>,
}

#[derive(Debug)]
struct Current {
    index: u64,
    hist: Histogram<u64>,
    row: IntervalRow,
}

/// Totals over the run.
#[derive(Debug)]
pub struct Totals {
    /// Latency from intended start, µs.
    pub latency: Histogram<u64>,
    /// Latency from actual send, µs (the stack's own queueing excluded from the difference).
    pub service: Histogram<u64>,
    /// Per outcome.
    pub by_outcome: BTreeMap<&'static str, Histogram<u64>>,
    /// Per priority class: latency and errors.
    pub by_priority: BTreeMap<&'static str, (Histogram<u64>, u64)>,
    /// Time to first token of streams, µs.
    pub ttft: Histogram<u64>,
    /// How late the driver started requests, µs.
    pub lag: Histogram<u64>,
    /// Requests started.
    pub started: u64,
    /// Successful answers.
    pub ok: u64,
    /// Errors (cut-off ones included).
    pub errors: u64,
    /// Arrivals dropped by the in-flight bound.
    pub dropped: u64,
    /// Requests still open when the drain ended.
    pub cut_off: u64,
    /// Completed per outcome name.
    pub outcomes: BTreeMap<&'static str, u64>,
    /// Errors per kind.
    pub error_kinds: BTreeMap<&'static str, u64>,
    /// Upstream attempts.
    pub attempts: u64,
    /// Retries scheduled.
    pub retries: u64,
    /// Total limiter wait.
    pub limiter_wait: Duration,
    /// Limiter decisions taken locally because the shared (Redis) limiter was unreachable.
    pub limiter_fallbacks: u64,
    /// Shared (Redis) cache operations that failed.
    pub shared_cache_errors: u64,
    /// Last rate-limit figures seen (remaining, limit).
    pub last_rate_limit: Option<(Option<u64>, Option<u64>)>,
}

impl Totals {
    fn new() -> Self {
        Self {
            latency: new_histogram(),
            service: new_histogram(),
            by_outcome: BTreeMap::new(),
            by_priority: BTreeMap::new(),
            ttft: new_histogram(),
            lag: new_histogram(),
            started: 0,
            ok: 0,
            errors: 0,
            dropped: 0,
            cut_off: 0,
            outcomes: BTreeMap::new(),
            error_kinds: BTreeMap::new(),
            attempts: 0,
            retries: 0,
            limiter_wait: Duration::ZERO,
            limiter_fallbacks: 0,
            shared_cache_errors: 0,
            last_rate_limit: None,
        }
    }
}

struct State {
    serializer: hdrhistogram::serialization::V2Serializer,
    totals: Totals,
    closed: bool,
    current: Current,
    rows: Vec<IntervalRow>,
    breaker: BreakerState,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("rows", &self.rows.len())
            .finish_non_exhaustive()
    }
}

/// Thread-safe recorder; one lock per request, held for a few histogram updates.
#[derive(Debug)]
pub struct Recorder {
    start: Instant,
    interval: Duration,
    state: Mutex<State>,
    /// Requests handed to the stack and not completed; outside the lock, so starting one costs
    /// no lock (it changes under the lock only where it must agree with `closed`).
    open: AtomicU64,
}

/// One finished request.
#[derive(Debug)]
pub struct Completion<'a> {
    /// When it was meant to start.
    pub intended: Instant,
    /// When it was handed to the stack.
    pub sent: Instant,
    /// When it finished.
    pub done: Instant,
    /// Its result.
    pub result: &'a Result<ChatResponse, ClientError>,
    /// Upstream attempts it made.
    pub attempts: u32,
    /// Its limiter wait.
    pub limiter_wait: Duration,
    /// Its priority class.
    pub priority: Priority,
}

impl Recorder {
    /// A recorder whose first interval starts at `start`.
    pub fn new(start: Instant, interval: Duration) -> Self {
        let interval = interval.max(Duration::from_millis(10));
        Self {
            start,
            interval,
            state: Mutex::new(State {
                serializer: hdrhistogram::serialization::V2Serializer::new(),
                totals: Totals::new(),
                closed: false,
                current: Current {
                    index: 0,
                    hist: new_histogram(),
                    row: IntervalRow::default(),
                },
                rows: Vec::new(),
                breaker: BreakerState::Closed,
            }),
            open: AtomicU64::new(0),
        }
    }

    /// When the run started.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// The interval length.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn index_of(&self, t: Instant) -> u64 {
        (t.saturating_duration_since(self.start).as_nanos() / self.interval.as_nanos()) as u64
    }

    /// Closes intervals up to `t`.
    fn roll(&self, s: &mut State, t: Instant) {
        let idx = self.index_of(t);
        while s.current.index < idx {
            let mut row = std::mem::take(&mut s.current.row);
            let h = &s.current.hist;
            row.start_s = s.current.index as f64 * self.interval.as_secs_f64();
            if !h.is_empty() {
                row.p50_ms = h.value_at_quantile(0.5) as f64 / 1000.0;
                row.p95_ms = h.value_at_quantile(0.95) as f64 / 1000.0;
                row.p99_ms = h.value_at_quantile(0.99) as f64 / 1000.0;
                row.max_ms = h.max() as f64 / 1000.0;
            }
            row.breaker = s.breaker.as_str();
            let mut encoded = Vec::new();
            if s.serializer
                .serialize(&s.current.hist, &mut encoded)
                .is_ok()
            {
                row.histogram = encoded;
            }
            s.rows.push(row);
            s.current.hist.reset();
            s.current.index += 1;
            s.current.row.quota_remaining = s.rows.last().and_then(|r| r.quota_remaining);
        }
    }

    /// Closes every interval that has ended by `now` (called by a ticker so idle intervals
    /// still get a row).
    pub fn tick(&self, now: Instant) {
        let mut s = self.lock();
        self.roll(&mut s, now);
    }

    /// A request was started `lag` after its intended time; `offered_rps` is the schedule's
    /// rate then.
    pub fn started(&self, intended: Instant, lag: Duration, offered_rps: f64) {
        let mut s = self.lock();
        self.roll(&mut s, intended);
        s.totals.started += 1;
        record(&mut s.totals.lag, lag);
        s.current.row.started += 1;
        if offered_rps > 0.0 {
            s.current.row.offered_rps = offered_rps;
        }
    }

    /// An arrival was dropped (too many in flight).
    pub fn dropped(&self, at: Instant) {
        let mut s = self.lock();
        self.roll(&mut s, at);
        s.totals.dropped += 1;
        s.current.row.dropped += 1;
    }

    /// A request is handed to the stack; it stays open until [`completed`](Self::completed).
    pub fn begin(&self) {
        self.open.fetch_add(1, Ordering::Relaxed);
    }

    /// A request finished; ignored after [`close`](Self::close) (it was counted as cut off).
    pub fn completed(&self, c: &Completion<'_>) {
        let latency = c.done.saturating_duration_since(c.intended);
        let service = c.done.saturating_duration_since(c.sent);
        let mut s = self.lock();
        if s.closed {
            return;
        }
        // Under the lock, so `close` never counts as cut off what was just completed.
        let _ = self
            .open
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        self.roll(&mut s, c.done);
        let (outcome, ok) = match c.result {
            Ok(r) => (r.outcome.as_str(), true),
            Err(_) => ("error", false),
        };
        let t = &mut s.totals;
        record(&mut t.latency, latency);
        record(&mut t.service, service);
        record(
            t.by_outcome.entry(outcome).or_insert_with(new_histogram),
            latency,
        );
        let prio = t
            .by_priority
            .entry(c.priority.as_str())
            .or_insert_with(|| (new_histogram(), 0));
        record(&mut prio.0, latency);
        *t.outcomes.entry(outcome).or_default() += 1;
        t.attempts += u64::from(c.attempts);
        t.limiter_wait += c.limiter_wait;
        match c.result {
            Ok(r) => {
                t.ok += 1;
                if let Some(ttft) = r.ttft {
                    record(&mut t.ttft, ttft);
                }
            }
            Err(e) => {
                t.errors += 1;
                prio.1 += 1;
                *t.error_kinds.entry(e.kind()).or_default() += 1;
            }
        }
        record(&mut s.current.hist, latency);
        let row = &mut s.current.row;
        row.completed += 1;
        if ok {
            row.ok += 1;
        } else {
            row.errors += 1;
        }
        if let Some(i) = OUTCOMES.iter().position(|o| *o == outcome) {
            row.outcomes[i] += 1;
        }
        row.attempts += u64::from(c.attempts);
        row.limiter_wait_ms += c.limiter_wait.as_secs_f64() * 1000.0;
    }

    /// Ends recording: requests still open become errors of kind `cut_off`, and later
    /// completions are ignored. Returns how many were cut off.
    pub fn close(&self, at: Instant) -> u64 {
        let mut s = self.lock();
        if s.closed {
            return 0;
        }
        s.closed = true;
        let n = self.open.swap(0, Ordering::Relaxed);
        if n == 0 {
            return 0;
        }
        self.roll(&mut s, at);
        s.totals.cut_off += n;
        s.totals.errors += n;
        *s.totals.error_kinds.entry("cut_off").or_default() += n;
        *s.totals.outcomes.entry("error").or_default() += n;
        s.current.row.errors += n;
        s.current.row.completed += n;
        s.current.row.outcomes[6] += n;
        n
    }

    /// Requests in flight now.
    pub fn open(&self) -> u64 {
        self.open.load(Ordering::Relaxed)
    }

    /// Closes the last interval and hands out everything recorded.
    pub fn finish(&self, end: Instant) -> (Totals, Vec<IntervalRow>) {
        let mut s = self.lock();
        // Close the interval `end` falls in too, unless it has only just begun.
        let last = end + self.interval - Duration::from_nanos(1);
        self.roll(&mut s, last);
        let rows = std::mem::take(&mut s.rows);
        let totals = std::mem::replace(&mut s.totals, Totals::new());
        (totals, rows)
    }

    /// The last closed interval, for progress displays.
    pub fn last_row(&self) -> Option<IntervalRow> {
        self.lock().rows.last().cloned()
    }

    /// Requests started, completed and in error so far.
    pub fn counts(&self) -> (u64, u64, u64) {
        let s = self.lock();
        (
            s.totals.started,
            s.totals.ok + s.totals.errors,
            s.totals.errors,
        )
    }
}

impl Observer for Recorder {
    fn on_event(&self, event: &Event) {
        // Most events (attempts, cache misses, ...) are counted elsewhere: skip the lock.
        if !matches!(
            event,
            Event::Retry { .. }
                | Event::QueueDepth { .. }
                | Event::Breaker { .. }
                | Event::RateLimitSeen { .. }
                | Event::LimiterFallback
                | Event::SharedCacheError
        ) {
            return;
        }
        let now = Instant::now();
        let mut s = self.lock();
        self.roll(&mut s, now);
        match event {
            Event::Retry { .. } => {
                s.totals.retries += 1;
                s.current.row.retries += 1;
            }
            Event::QueueDepth { depth } => {
                let d = *depth as u64;
                if d > s.current.row.queue_depth_max {
                    s.current.row.queue_depth_max = d;
                }
            }
            Event::Breaker { to, .. } => s.breaker = *to,
            Event::LimiterFallback => s.totals.limiter_fallbacks += 1,
            Event::SharedCacheError => s.totals.shared_cache_errors += 1,
            Event::RateLimitSeen {
                remaining_requests,
                limit_requests,
            } => {
                s.totals.last_rate_limit = Some((*remaining_requests, *limit_requests));
                if remaining_requests.is_some() {
                    s.current.row.quota_remaining = *remaining_requests;
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Outcome;

    #[tokio::test(start_paused = true)]
    async fn latency_counts_from_the_intended_start() {
        let t0 = Instant::now();
        let r = Recorder::new(t0, Duration::from_secs(1));
        let ok = Ok(ChatResponse::local("x", Outcome::Upstream));
        // Meant to start at 0, sent 2 s late (the driver fell behind), answered 100 ms later.
        r.started(t0, Duration::from_secs(2), 1.0);
        r.begin();
        r.completed(&Completion {
            intended: t0,
            sent: t0 + Duration::from_secs(2),
            done: t0 + Duration::from_millis(2100),
            result: &ok,
            attempts: 1,
            limiter_wait: Duration::ZERO,
            priority: Priority::Interactive,
        });
        r.begin();
        assert_eq!(
            r.close(t0 + Duration::from_millis(2400)),
            1,
            "one still open"
        );
        let (totals, rows) = r.finish(t0 + Duration::from_millis(2500));
        assert_eq!((totals.cut_off, totals.errors, totals.ok), (1, 1, 1));
        let ms = |v: u64| v as f64 / 1000.0;
        assert!((ms(totals.latency.max()) - 2100.0).abs() < 3.0);
        assert!((ms(totals.service.max()) - 100.0).abs() < 1.0);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].started, 1);
        assert_eq!((rows[2].completed, rows[2].ok, rows[2].errors), (2, 1, 1));
        assert!((rows[2].p99_ms - 2100.0).abs() < 3.0);
    }
}
