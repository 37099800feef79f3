//! Recording without coordinated omission: every request's latency is counted from its
//! intended start (and, apart, from its actual send), into HDR histograms overall, per outcome,
//! per priority and per interval. Interval histograms are summarised and reset at each interval's
//! end, so memory stays flat however long the run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::serialization::V2Serializer;
use hdrhistogram::Histogram;
use tokio::time::Instant;

use super::recorder_rows::{Blank, Closing};
use super::recorder_tokens::{self, TokenSinks};
use crate::client::{BreakerState, ChatResponse, ClientError, Event, Observer, Priority, Route};
use crate::record::{
    new_histogram, record, IntervalRow, Outcome, TokenInterval, TokenState, Totals,
};
use crate::scenario::SloSpec;

#[derive(Debug)]
struct Current {
    index: u64,
    hist: Histogram<u64>,
    tokens: TokenInterval,
    row: IntervalRow,
}

struct State {
    totals: Totals,
    closed: bool,
    current: Current,
    rows: Vec<IntervalRow>,
    /// Closed intervals whose rows are not worked out yet (see [`recorder_rows`]).
    pending: Vec<Closing>,
    /// Emptied histograms a boundary swaps in, at most [`BLANKS`] (see [`recorder_rows`]).
    blanks: Vec<Blank>,
    breaker: BreakerState,
}

/// Blanks kept ready: the one the next boundary takes and one more for a boundary that comes
/// before the last one's row is worked out. Only a roll over more intervals at once (a ticker
/// held up for seconds) allocates under the lock.
const BLANKS: usize = 2;

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
    /// Held while closed intervals are worked out, so their rows join `rows` in order.
    publishing: Mutex<()>,
    /// Requests handed to the stack and not completed; outside the lock, so starting one costs
    /// no lock (it changes under the lock only where it must agree with `closed`).
    open: AtomicU64,
    /// `[slo]`, when the scenario has one: each completion is checked against it.
    slo: Option<SloSpec>,
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
    /// What the stack returned: decides the outcome, and the error kind of a failure.
    pub result: &'a Result<ChatResponse, ClientError>,
    /// Upstream attempts it made.
    pub attempts: u32,
    /// Time it spent queued in the client's rate limiter.
    pub limiter_wait: Duration,
    /// Its priority class.
    pub priority: Priority,
    /// The API route it went to.
    pub route: Route,
    /// Its tenant's key, when tenants are configured.
    pub tenant: Option<&'a str>,
    /// Its streamed content's arrivals (`None` when it did not stream).
    pub tokens: Option<&'a TokenState>,
}

impl Recorder {
    /// A recorder whose first interval starts at `start`.
    pub fn new(start: Instant, interval: Duration) -> Self {
        let interval = interval.max(Duration::from_millis(10));
        Self {
            start,
            interval,
            state: Mutex::new(State {
                totals: Totals::new(),
                closed: false,
                current: Current {
                    index: 0,
                    hist: new_histogram(),
                    tokens: TokenInterval::default(),
                    row: IntervalRow::default(),
                },
                rows: Vec::new(),
                pending: Vec::new(),
                blanks: (0..BLANKS).map(|_| Blank::new()).collect(),
                breaker: BreakerState::Closed,
            }),
            publishing: Mutex::new(()),
            open: AtomicU64::new(0),
            slo: None,
        }
    }

    /// Checks every completion against `slo`.
    pub fn with_slo(mut self, slo: Option<SloSpec>) -> Self {
        self.slo = slo;
        self
    }

    /// When the run started.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// Length of one interval row: the one asked for, raised to at least 10 ms.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn index_of(&self, t: Instant) -> u64 {
        (t.saturating_duration_since(self.start).as_nanos() / self.interval.as_nanos()) as u64
    }

    /// Closes intervals up to `t`: their histograms move out to `pending`, fresh ones take
    /// their place, and [`Recorder::publish`] works their rows out after the lock.
    fn roll(&self, s: &mut State, t: Instant) {
        let idx = self.index_of(t);
        while s.current.index < idx {
            let mut row = std::mem::take(&mut s.current.row);
            row.start_s = s.current.index as f64 * self.interval.as_secs_f64();
            row.breaker = s.breaker.as_str();
            let blank = s.blanks.pop().unwrap_or_else(Blank::new);
            let hist = std::mem::replace(&mut s.current.hist, blank.hist);
            let tokens = std::mem::replace(&mut s.current.tokens, blank.tokens);
            s.current.row.quota_remaining = row.quota_remaining;
            s.pending.push(Closing { row, hist, tokens });
            s.current.index += 1;
        }
    }

    /// Works out the rows of the intervals closed so far, outside the lock, and adds them to
    /// the rows in order.
    pub fn publish(&self) {
        let _one_at_a_time = self.publishing.lock().unwrap_or_else(|p| p.into_inner());
        let pending = std::mem::take(&mut self.lock().pending);
        if pending.is_empty() {
            return;
        }
        let mut serializer = V2Serializer::new();
        let (rows, mut blanks): (Vec<IntervalRow>, Vec<Blank>) = pending
            .into_iter()
            .map(|c| c.finish(&mut serializer))
            .unzip();
        let mut s = self.lock();
        s.rows.extend(rows);
        while s.blanks.len() < BLANKS {
            match blanks.pop() {
                Some(b) => s.blanks.push(b),
                None => break,
            }
        }
        drop(s);
        // Any blanks left over are freed here, outside the lock.
        drop(blanks);
    }

    /// Closes the intervals that ended by `now`, idle ones included (their rows follow at the
    /// next [`Recorder::publish`]).
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
        let outcome = Outcome::of(c.result);
        let t = &mut s.totals;
        record(&mut t.latency, latency);
        record(&mut t.service, service);
        record(
            t.by_outcome
                .entry(outcome.name())
                .or_insert_with(new_histogram),
            latency,
        );
        let prio = t
            .by_priority
            .entry(c.priority.as_str())
            .or_insert_with(|| (new_histogram(), 0));
        record(&mut prio.0, latency);
        let errored = u64::from(c.result.is_err());
        prio.1 += errored;
        let route = t
            .by_route
            .entry(c.route.as_str())
            .or_insert_with(|| (new_histogram(), 0));
        record(&mut route.0, latency);
        route.1 += errored;
        t.outcomes[outcome.index()] += 1;
        t.attempts += u64::from(c.attempts);
        t.limiter_wait += c.limiter_wait;
        match c.result {
            Ok(_) => t.ok += 1,
            Err(e) => {
                t.errors += 1;
                *t.error_kinds.entry(e.kind()).or_default() += 1;
                if let ClientError::StreamBroken { tokens, .. } = e {
                    t.stream_broken_tokens += u64::from(*tokens);
                }
            }
        }
        record(&mut s.current.hist, latency);
        let row = &mut s.current.row;
        row.completed += 1;
        if c.result.is_err() {
            row.errors += 1;
        } else {
            row.ok += 1;
        }
        row.outcomes[outcome.index()] += 1;
        row.attempts += u64::from(c.attempts);
        row.limiter_wait_ms += c.limiter_wait.as_secs_f64() * 1000.0;
        let State {
            totals, current, ..
        } = &mut *s;
        let sinks = TokenSinks {
            ttft: &mut totals.ttft,
            totals: &mut totals.tokens,
            interval: &mut current.tokens,
            row: &mut current.row.tokens,
        };
        recorder_tokens::record_tokens(sinks, self.slo.as_ref(), c);
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
        recorder_tokens::cut_off(&mut s.totals.tokens, self.slo.as_ref(), n);
        s.totals.errors += n;
        *s.totals.error_kinds.entry("cut_off").or_default() += n;
        s.totals.outcomes[Outcome::Error.index()] += n;
        s.current.row.errors += n;
        s.current.row.completed += n;
        s.current.row.outcomes[Outcome::Error.index()] += n;
        n
    }

    /// Requests in flight now.
    pub fn open(&self) -> u64 {
        self.open.load(Ordering::Relaxed)
    }

    /// Closes the last interval and hands out everything recorded.
    pub fn finish(&self, end: Instant) -> (Totals, Vec<IntervalRow>) {
        // Close the interval `end` falls in too, unless it has only just begun.
        let last = end + self.interval - Duration::from_nanos(1);
        self.roll(&mut self.lock(), last);
        self.publish();
        let mut s = self.lock();
        let rows = std::mem::take(&mut s.rows);
        let totals = std::mem::take(&mut s.totals);
        (totals, rows)
    }

    /// The last closed interval, for progress displays.
    pub fn last_row(&self) -> Option<IntervalRow> {
        self.lock().rows.last().cloned()
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
                | Event::AnswerCapped { .. }
                | Event::Deferred { .. }
                | Event::DeferralExpired
                | Event::EmbeddingCall { .. }
        ) && !crate::record::PoolTotals::counts(event)
        {
            return;
        }
        let now = Instant::now();
        let mut s = self.lock();
        self.roll(&mut s, now);
        match event {
            Event::Retry { error, .. } => {
                s.totals.retries += 1;
                if *error == ClientError::STREAM_BROKEN {
                    s.totals.stream_restarts += 1;
                }
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
            e if crate::record::PoolTotals::counts(e) => s.totals.pool.add(e),
            Event::AnswerCapped { .. } => s.totals.answers_capped += 1,
            Event::Deferred { .. } => s.totals.deferred += 1,
            Event::DeferralExpired => s.totals.deferrals_expired += 1,
            Event::EmbeddingCall { .. } => s.totals.embedding_calls += 1,
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

    /// A one-attempt, non-streamed chat request meant at `intended`, sent at `sent`, done at `done`.
    fn chat<'a>(
        intended: Instant,
        sent: Instant,
        done: Instant,
        result: &'a Result<ChatResponse, ClientError>,
    ) -> Completion<'a> {
        Completion {
            intended,
            sent,
            done,
            result,
            attempts: 1,
            limiter_wait: Duration::ZERO,
            priority: Priority::Interactive,
            route: Route::Chat,
            tenant: None,
            tokens: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn latency_counts_from_the_intended_start() {
        let t0 = Instant::now();
        let r = Recorder::new(t0, Duration::from_secs(1));
        let ok = Ok(ChatResponse::local("x", Outcome::Upstream));
        // Meant to start at 0, sent 2 s late (the driver fell behind), answered 100 ms later.
        r.started(t0, Duration::from_secs(2), 1.0);
        r.begin();
        r.completed(&chat(
            t0,
            t0 + Duration::from_secs(2),
            t0 + Duration::from_millis(2100),
            &ok,
        ));
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

    #[tokio::test(start_paused = true)]
    async fn reused_histograms_start_each_interval_empty() {
        let t0 = Instant::now();
        let r = Recorder::new(t0, Duration::from_secs(1));
        let ok = Ok(ChatResponse::local("x", Outcome::Upstream));
        // Five intervals, more than the blanks kept: each has one request of its own latency,
        // and publishing after each boundary hands its histograms back for a later interval.
        for i in 0..5u64 {
            let intended = t0 + Duration::from_secs(i);
            r.begin();
            let done = intended + Duration::from_millis(100 * (i + 1));
            r.completed(&chat(intended, intended, done, &ok));
            r.tick(t0 + Duration::from_secs(i + 1));
            r.publish();
            assert_eq!(r.lock().blanks.len(), BLANKS, "the blank taken came back");
        }
        let (_, rows) = r.finish(t0 + Duration::from_secs(5));
        assert_eq!(rows.len(), 5);
        for (i, row) in rows.iter().enumerate() {
            let want = 100.0 * (i as f64 + 1.0);
            assert_eq!(row.completed, 1, "row {i}");
            assert!((row.p50_ms - want).abs() < 1.0, "row {i}: {}", row.p50_ms);
            assert!((row.max_ms - want).abs() < 1.0, "row {i}: {}", row.max_ms);
        }
    }
}
