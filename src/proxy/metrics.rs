//! `/metrics` of `gauntlet proxy`: what the stack did for every caller, in Prometheus' text
//! exposition format (version 0.0.4), so the team that tuned the stack in a scenario can watch the
//! same layers in production.
//!
//! Counters are atomics updated on the request's task (the observer is called synchronously by
//! every layer), so an update never takes a lock. Every label value comes from a closed list —
//! [`ROUTES`], [`Outcome::ALL`], [`ClientError::KINDS`], [`BreakerState::ALL`] — and anything
//! else is counted as `other`: a caller can never grow the series count. The gauges that describe
//! the stack now (queue depth, breaker state, cache size) are read from it when scraped.

use std::fmt::{Display, Write as _};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use gauntlet_client::observer::{BreakerState, Event, Observer, SharedObserver};
use gauntlet_client::{ClientError, ClientStack, Outcome};

/// Upper bounds, in seconds, of every histogram here (request latency and limiter waits): one
/// list, so the two compare bucket by bucket. From a cache hit (milliseconds) to a long streamed
/// answer behind retries (two minutes).
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// The route paths a request can be counted under; any other path is counted as `other`, so the
/// `route` label stays a closed set whatever the proxy is asked for.
pub const ROUTES: [&str; 4] = [
    "/v1/chat/completions",
    "/v1/responses",
    "/v1/embeddings",
    "/v1/models",
];

/// The label value of anything outside its closed list.
const OTHER: &str = "other";

/// One observation adds at most a day to a histogram's sum, so no input can wrap it.
const MAX_OBSERVED: Duration = Duration::from_secs(86_400);

/// Sentinel of a gauge nobody has set yet: such a gauge is not rendered, rather than shown as 0.
const UNSET: u64 = u64::MAX;

/// HTTP status codes counted one by one (100..=599); anything else is not a status and counts as
/// 0, which no proxy sends.
const STATUS_MIN: u16 = 100;
const STATUS_SLOTS: usize = 501;

/// Prometheus metric types this exporter writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up.
    Counter,
    /// A value now.
    Gauge,
    /// Cumulative `le` buckets, `_sum` and `_count`.
    Histogram,
}

impl Kind {
    /// The name `# TYPE` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// Every metric the proxy exports: the one list rendering, the `# HELP` text and the README's
/// "Proxy metrics" table derive from (a test checks the table names them all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Finished requests by route and outcome.
    Requests,
    /// Responses by route and status sent.
    Responses,
    /// Request latency by route.
    RequestDuration,
    /// Upstream attempts.
    UpstreamAttempts,
    /// Retries by the error that caused them.
    Retries,
    /// Retries skipped for lack of retry budget.
    RetryBudgetExhausted,
    /// Requests the limiter made wait.
    LimiterWaits,
    /// How long they waited.
    LimiterWaitSeconds,
    /// Requests the limiter refused.
    LimiterRejections,
    /// Decisions taken locally because the shared limiter was unreachable.
    LimiterFallbacks,
    /// The adaptive limiter's rate now.
    LimiterRate,
    /// Requests waiting in the limiter now.
    LimiterQueueDepth,
    /// The breaker's state now.
    BreakerState,
    /// Breaker transitions.
    BreakerTransitions,
    /// Cache lookups that missed.
    CacheMisses,
    /// Answers the upstream did not give this request, by how they were produced.
    LocalAnswers,
    /// Entries in this process's cache now.
    CacheEntries,
    /// Shared (Redis) cache operations that failed.
    SharedCacheErrors,
    /// Requests the input filter redacted or refused.
    Filtered,
    /// Adapter moves to another API version.
    ApiSwitches,
    /// The upstream's `x-ratelimit-remaining-requests`, last seen.
    UpstreamRemainingRequests,
    /// The upstream's `x-ratelimit-remaining-tokens`, last seen.
    UpstreamRemainingTokens,
    /// The upstream's `x-ratelimit-limit-requests`, last seen.
    UpstreamLimitRequests,
}

impl Metric {
    /// Every metric, in exposition order.
    pub const ALL: [Metric; 23] = [
        Metric::Requests,
        Metric::Responses,
        Metric::RequestDuration,
        Metric::UpstreamAttempts,
        Metric::Retries,
        Metric::RetryBudgetExhausted,
        Metric::LimiterWaits,
        Metric::LimiterWaitSeconds,
        Metric::LimiterRejections,
        Metric::LimiterFallbacks,
        Metric::LimiterRate,
        Metric::LimiterQueueDepth,
        Metric::BreakerState,
        Metric::BreakerTransitions,
        Metric::CacheMisses,
        Metric::LocalAnswers,
        Metric::CacheEntries,
        Metric::SharedCacheErrors,
        Metric::Filtered,
        Metric::ApiSwitches,
        Metric::UpstreamRemainingRequests,
        Metric::UpstreamRemainingTokens,
        Metric::UpstreamLimitRequests,
    ];

    /// The metric family's name.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Requests => "gauntlet_proxy_requests_total",
            Metric::Responses => "gauntlet_proxy_responses_total",
            Metric::RequestDuration => "gauntlet_proxy_request_duration_seconds",
            Metric::UpstreamAttempts => "gauntlet_proxy_upstream_attempts_total",
            Metric::Retries => "gauntlet_proxy_retries_total",
            Metric::RetryBudgetExhausted => "gauntlet_proxy_retry_budget_exhausted_total",
            Metric::LimiterWaits => "gauntlet_proxy_limiter_waits_total",
            Metric::LimiterWaitSeconds => "gauntlet_proxy_limiter_wait_seconds",
            Metric::LimiterRejections => "gauntlet_proxy_limiter_rejections_total",
            Metric::LimiterFallbacks => "gauntlet_proxy_limiter_fallbacks_total",
            Metric::LimiterRate => "gauntlet_proxy_limiter_rate",
            Metric::LimiterQueueDepth => "gauntlet_proxy_limiter_queue_depth",
            Metric::BreakerState => "gauntlet_proxy_breaker_state",
            Metric::BreakerTransitions => "gauntlet_proxy_breaker_transitions_total",
            Metric::CacheMisses => "gauntlet_proxy_cache_misses_total",
            Metric::LocalAnswers => "gauntlet_proxy_local_answers_total",
            Metric::CacheEntries => "gauntlet_proxy_cache_entries",
            Metric::SharedCacheErrors => "gauntlet_proxy_shared_cache_errors_total",
            Metric::Filtered => "gauntlet_proxy_filtered_total",
            Metric::ApiSwitches => "gauntlet_proxy_api_switches_total",
            Metric::UpstreamRemainingRequests => "gauntlet_proxy_upstream_remaining_requests",
            Metric::UpstreamRemainingTokens => "gauntlet_proxy_upstream_remaining_tokens",
            Metric::UpstreamLimitRequests => "gauntlet_proxy_upstream_limit_requests",
        }
    }

    /// Its Prometheus type.
    pub fn kind(self) -> Kind {
        match self {
            Metric::RequestDuration | Metric::LimiterWaitSeconds => Kind::Histogram,
            Metric::LimiterRate
            | Metric::LimiterQueueDepth
            | Metric::BreakerState
            | Metric::CacheEntries
            | Metric::UpstreamRemainingRequests
            | Metric::UpstreamRemainingTokens
            | Metric::UpstreamLimitRequests => Kind::Gauge,
            _ => Kind::Counter,
        }
    }

    /// The label names its series carry (`le` of histogram buckets aside).
    pub fn labels(self) -> &'static [&'static str] {
        match self {
            Metric::Requests => &["route", "outcome"],
            Metric::Responses => &["route", "status"],
            Metric::RequestDuration => &["route"],
            Metric::Retries => &["reason"],
            Metric::BreakerState => &["state"],
            Metric::BreakerTransitions => &["from", "to"],
            Metric::LocalAnswers => &["outcome"],
            _ => &[],
        }
    }

    /// The `# HELP` text (also the README table's meaning column).
    pub fn help(self) -> &'static str {
        match self {
            Metric::Requests => "Finished requests, by route and outcome (how the stack answered, or the error kind).",
            Metric::Responses => "Responses sent, by route and HTTP status.",
            Metric::RequestDuration => "Time from a request's arrival to its answer, by route.",
            Metric::UpstreamAttempts => "Upstream attempts, retries included.",
            Metric::Retries => "Retries scheduled, by the error kind of the attempt that failed.",
            Metric::RetryBudgetExhausted => "Retries skipped because the retry budget was spent.",
            Metric::LimiterWaits => "Requests the limiter made wait (not those it admitted at once).",
            Metric::LimiterWaitSeconds => "How long the requests the limiter made wait waited.",
            Metric::LimiterRejections => "Requests the limiter refused.",
            Metric::LimiterFallbacks => "Limiter decisions taken by this node's share while the shared limiter was unreachable.",
            Metric::LimiterRate => "The adaptive limiter's rate, in requests per second (absent until it moves).",
            Metric::LimiterQueueDepth => "Requests waiting in the limiter now.",
            Metric::BreakerState => "1 for the breaker's state now, 0 for the others (absent without a breaker).",
            Metric::BreakerTransitions => "Breaker state changes, by the state left and the state entered.",
            Metric::CacheMisses => "Cache lookups neither this process's cache nor the shared store could answer.",
            Metric::LocalAnswers => "Answers not given by the upstream to this request: cache hits, coalesced calls, stale entries, fallbacks, queued answers.",
            Metric::CacheEntries => "Entries in this process's cache now (the shared store's not included).",
            Metric::SharedCacheErrors => "Shared (Redis) cache reads, writes or locks that failed.",
            Metric::Filtered => "Requests the input filter redacted or refused.",
            Metric::ApiSwitches => "Times the adapter moved to another API version.",
            Metric::UpstreamRemainingRequests => "Requests left in the upstream's window, as it last reported (x-ratelimit-remaining-requests).",
            Metric::UpstreamRemainingTokens => "Tokens left in the upstream's window, as it last reported (x-ratelimit-remaining-tokens).",
            Metric::UpstreamLimitRequests => "The upstream's request limit per window, as it last reported (x-ratelimit-limit-requests).",
        }
    }
}

/// Escapes a label value as the text format requires (backslash, double quote, line feed).
pub fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Counts of one distribution in [`LATENCY_BUCKETS`] (not cumulative; rendering adds them up),
/// with one slot past the last bound for `+Inf`.
#[derive(Debug)]
struct Histogram {
    counts: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

impl Histogram {
    fn new() -> Self {
        Self {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_micros: AtomicU64::new(0),
        }
    }

    fn observe(&self, d: Duration) {
        let d = d.min(MAX_OBSERVED);
        let secs = d.as_secs_f64();
        let slot = LATENCY_BUCKETS
            .iter()
            .position(|bound| secs <= *bound)
            .unwrap_or(LATENCY_BUCKETS.len());
        if let Some(c) = self.counts.get(slot) {
            c.fetch_add(1, Relaxed);
        }
        // At most a day of microseconds each: 2^64 µs is 200 000 days of observations.
        self.sum_micros.fetch_add(d.as_micros() as u64, Relaxed);
    }

    fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Relaxed)).sum()
    }

    fn render(&self, out: &mut String, name: &str, labels: &[(&str, &str)]) {
        let bucket = format!("{name}_bucket");
        let bounds = LATENCY_BUCKETS.iter().map(|b| b.to_string());
        let mut cumulative = 0;
        for (bound, count) in bounds.chain(["+Inf".to_string()]).zip(&self.counts) {
            cumulative += count.load(Relaxed);
            let mut with_le = labels.to_vec();
            with_le.push(("le", &bound));
            sample(out, &bucket, &with_le, cumulative);
        }
        let sum = self.sum_micros.load(Relaxed) as f64 / 1e6;
        sample(out, &format!("{name}_sum"), labels, sum);
        sample(out, &format!("{name}_count"), labels, cumulative);
    }
}

/// A gauge set from what the upstream says; [`UNSET`] until it first says it.
#[derive(Debug)]
struct Gauge(AtomicU64);

impl Gauge {
    fn new() -> Self {
        Self(AtomicU64::new(UNSET))
    }

    /// Keeps the last value when an answer does not carry the header.
    fn set(&self, v: Option<u64>) {
        if let Some(v) = v {
            self.0.store(v.min(UNSET - 1), Relaxed);
        }
    }

    fn get(&self) -> Option<u64> {
        Some(self.0.load(Relaxed)).filter(|v| *v != UNSET)
    }
}

/// A run of zeroed counters.
fn counters(n: usize) -> Box<[AtomicU64]> {
    (0..n).map(|_| AtomicU64::new(0)).collect()
}

/// Position of `value` in `list`, whose last entry is `other`; anything not in the list counts
/// there.
fn slot<'a>(list: impl IntoIterator<Item = &'a str>, value: &str) -> usize {
    let mut last = 0;
    for (i, v) in list.into_iter().enumerate() {
        if v == value {
            return i;
        }
        last = i;
    }
    last
}

/// The `route` label values: [`ROUTES`], then `other`.
fn route_labels() -> impl Iterator<Item = &'static str> {
    ROUTES.into_iter().chain([OTHER])
}

/// The `outcome` label values of [`Metric::Requests`]: every [`Outcome`], every error kind, then
/// `other`.
fn outcome_labels() -> impl Iterator<Item = &'static str> {
    Outcome::ALL
        .into_iter()
        .map(Outcome::as_str)
        .chain(ClientError::KINDS)
        .chain([OTHER])
}

/// The `reason` label values of [`Metric::Retries`]: every error kind, then `other`.
fn reason_labels() -> impl Iterator<Item = &'static str> {
    ClientError::KINDS.into_iter().chain([OTHER])
}

/// Writes one sample line.
fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: impl Display) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"{}\"", escape_label(v));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// What the proxy counts, shared by the server's handlers (in an `Arc`) and the stack's
/// observer.
pub struct ProxyMetrics {
    /// Route × outcome label.
    requests: Box<[AtomicU64]>,
    /// Route × status slot.
    responses: Box<[AtomicU64]>,
    /// One per route label.
    latency: Box<[Histogram]>,
    attempts: AtomicU64,
    /// One per reason label.
    retries: Box<[AtomicU64]>,
    budget_exhausted: AtomicU64,
    limiter_waits: AtomicU64,
    limiter_wait: Histogram,
    limiter_rejections: AtomicU64,
    limiter_fallbacks: AtomicU64,
    /// `f64` bits; [`UNSET`] until the adaptive limiter moves.
    limiter_rate: AtomicU64,
    /// From-state × to-state.
    transitions: Box<[AtomicU64]>,
    cache_misses: AtomicU64,
    /// One per [`Outcome`].
    local_answers: Box<[AtomicU64]>,
    shared_cache_errors: AtomicU64,
    filtered: AtomicU64,
    api_switches: AtomicU64,
    remaining_requests: Gauge,
    remaining_tokens: Gauge,
    limit_requests: Gauge,
}

impl std::fmt::Debug for ProxyMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyMetrics")
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

impl Default for ProxyMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ProxyMetrics {
    /// Every counter at zero, every upstream gauge unset.
    pub fn new() -> Self {
        let routes = route_labels().count();
        let states = BreakerState::ALL.len();
        Self {
            requests: counters(routes * outcome_labels().count()),
            responses: counters(routes * STATUS_SLOTS),
            latency: (0..routes).map(|_| Histogram::new()).collect(),
            attempts: AtomicU64::new(0),
            retries: counters(reason_labels().count()),
            budget_exhausted: AtomicU64::new(0),
            limiter_waits: AtomicU64::new(0),
            limiter_wait: Histogram::new(),
            limiter_rejections: AtomicU64::new(0),
            limiter_fallbacks: AtomicU64::new(0),
            limiter_rate: AtomicU64::new(UNSET),
            transitions: counters(states * states),
            cache_misses: AtomicU64::new(0),
            local_answers: counters(Outcome::ALL.len()),
            shared_cache_errors: AtomicU64::new(0),
            filtered: AtomicU64::new(0),
            api_switches: AtomicU64::new(0),
            remaining_requests: Gauge::new(),
            remaining_tokens: Gauge::new(),
            limit_requests: Gauge::new(),
        }
    }

    /// An observer to pass to the stack builder (`StackBuilder::observer`), counting attempts,
    /// retries, limiter waits and rejections, breaker transitions and cache events.
    pub fn observer(self: &Arc<Self>) -> SharedObserver {
        self.clone()
    }

    /// One finished proxied request: route path (`/v1/chat/completions`...), outcome name (the
    /// stack's [`Outcome`] name or the error kind), the status sent, and its latency. A route or
    /// outcome outside its closed list is counted as `other`.
    pub fn request_done(&self, route: &str, outcome: &str, status: u16, latency: Duration) {
        let r = slot(route_labels(), route);
        let outcomes = outcome_labels().count();
        let o = slot(outcome_labels(), outcome);
        bump(&self.requests, r * outcomes + o);
        let s = status
            .checked_sub(STATUS_MIN)
            .map(usize::from)
            .filter(|s| *s < STATUS_SLOTS);
        if let Some(s) = s {
            bump(&self.responses, r * STATUS_SLOTS + s);
        }
        if let Some(h) = self.latency.get(r) {
            h.observe(latency);
        }
    }

    /// What the upstream last said about its quota (`x-ratelimit-remaining-requests/-tokens`); a
    /// `None` keeps the previous figure.
    pub fn upstream_quota(&self, remaining_requests: Option<u64>, remaining_tokens: Option<u64>) {
        self.remaining_requests.set(remaining_requests);
        self.remaining_tokens.set(remaining_tokens);
    }

    /// Prometheus text exposition (version 0.0.4); the gauges that describe the stack now (queue
    /// depth, breaker state, cache size) are read from `stack`.
    pub fn render(&self, stack: &ClientStack) -> String {
        let mut out = String::with_capacity(8 * 1024);
        for m in Metric::ALL {
            let _ = writeln!(out, "# HELP {} {}", m.name(), m.help());
            let _ = writeln!(out, "# TYPE {} {}", m.name(), m.kind().as_str());
            self.samples(m, stack, &mut out);
        }
        out
    }

    /// The sample lines of one metric.
    fn samples(&self, m: Metric, stack: &ClientStack, out: &mut String) {
        let name = m.name();
        let plain = |out: &mut String, c: &AtomicU64| sample(out, name, &[], c.load(Relaxed));
        match m {
            Metric::Requests => self.render_requests(out),
            Metric::Responses => self.render_responses(out),
            Metric::RequestDuration => {
                for (route, h) in route_labels().zip(self.latency.iter()) {
                    if h.count() > 0 {
                        h.render(out, name, &[("route", route)]);
                    }
                }
            }
            Metric::UpstreamAttempts => plain(out, &self.attempts),
            Metric::Retries => {
                for (reason, c) in reason_labels().zip(self.retries.iter()) {
                    let n = c.load(Relaxed);
                    if n > 0 {
                        sample(out, name, &[("reason", reason)], n);
                    }
                }
            }
            Metric::RetryBudgetExhausted => plain(out, &self.budget_exhausted),
            Metric::LimiterWaits => plain(out, &self.limiter_waits),
            Metric::LimiterWaitSeconds => self.limiter_wait.render(out, name, &[]),
            Metric::LimiterRejections => plain(out, &self.limiter_rejections),
            Metric::LimiterFallbacks => plain(out, &self.limiter_fallbacks),
            Metric::LimiterRate => {
                let bits = self.limiter_rate.load(Relaxed);
                if bits != UNSET {
                    sample(out, name, &[], f64::from_bits(bits));
                }
            }
            Metric::LimiterQueueDepth => sample(out, name, &[], stack.queue_depth()),
            Metric::BreakerState => {
                if let Some(now) = stack.breaker_state() {
                    for s in BreakerState::ALL {
                        sample(out, name, &[("state", s.as_str())], u8::from(s == now));
                    }
                }
            }
            Metric::BreakerTransitions => self.render_transitions(out),
            Metric::CacheMisses => plain(out, &self.cache_misses),
            Metric::LocalAnswers => {
                for o in Outcome::ALL.into_iter().filter(|o| *o != Outcome::Upstream) {
                    let n = self
                        .local_answers
                        .get(o.index())
                        .map_or(0, |c| c.load(Relaxed));
                    sample(out, name, &[("outcome", o.as_str())], n);
                }
            }
            Metric::CacheEntries => sample(out, name, &[], stack.cache_len()),
            Metric::SharedCacheErrors => plain(out, &self.shared_cache_errors),
            Metric::Filtered => plain(out, &self.filtered),
            Metric::ApiSwitches => plain(out, &self.api_switches),
            Metric::UpstreamRemainingRequests => gauge(out, name, &self.remaining_requests),
            Metric::UpstreamRemainingTokens => gauge(out, name, &self.remaining_tokens),
            Metric::UpstreamLimitRequests => gauge(out, name, &self.limit_requests),
        }
    }

    fn render_requests(&self, out: &mut String) {
        let name = Metric::Requests.name();
        let mut cells = self.requests.iter();
        for route in route_labels() {
            for outcome in outcome_labels() {
                let n = cells.next().map_or(0, |c| c.load(Relaxed));
                if n > 0 {
                    sample(out, name, &[("route", route), ("outcome", outcome)], n);
                }
            }
        }
    }

    fn render_responses(&self, out: &mut String) {
        let name = Metric::Responses.name();
        for (route, row) in route_labels().zip(self.responses.chunks(STATUS_SLOTS)) {
            for (status, c) in (STATUS_MIN..).zip(row) {
                let n = c.load(Relaxed);
                if n > 0 {
                    sample(
                        out,
                        name,
                        &[("route", route), ("status", &status.to_string())],
                        n,
                    );
                }
            }
        }
    }

    fn render_transitions(&self, out: &mut String) {
        let name = Metric::BreakerTransitions.name();
        let states = BreakerState::ALL.len();
        for from in BreakerState::ALL {
            for to in BreakerState::ALL {
                let i = from.index() * states + to.index();
                let n = self.transitions.get(i).map_or(0, |c| c.load(Relaxed));
                if n > 0 {
                    sample(
                        out,
                        name,
                        &[("from", from.as_str()), ("to", to.as_str())],
                        n,
                    );
                }
            }
        }
    }
}

/// Adds one to `counters[i]` (an index past the end is ignored: the arrays are sized from the
/// same label lists the indices come from).
fn bump(counters: &[AtomicU64], i: usize) {
    if let Some(c) = counters.get(i) {
        c.fetch_add(1, Relaxed);
    }
}

/// Writes an upstream gauge if the upstream ever reported it.
fn gauge(out: &mut String, name: &str, g: &Gauge) {
    if let Some(v) = g.get() {
        sample(out, name, &[], v);
    }
}

impl Observer for ProxyMetrics {
    fn on_event(&self, event: &Event) {
        let one = |c: &AtomicU64| {
            c.fetch_add(1, Relaxed);
        };
        match event {
            Event::Attempt { .. } => one(&self.attempts),
            Event::Retry { error, .. } => bump(&self.retries, slot(reason_labels(), error)),
            Event::RetryBudgetExhausted => one(&self.budget_exhausted),
            Event::LimiterWait { wait } => {
                one(&self.limiter_waits);
                self.limiter_wait.observe(*wait);
            }
            Event::LimiterRejected => one(&self.limiter_rejections),
            Event::LimiterFallback => one(&self.limiter_fallbacks),
            Event::SharedCacheError => one(&self.shared_cache_errors),
            Event::LimiterRate { rate } => {
                if rate.is_finite() && *rate >= 0.0 {
                    self.limiter_rate.store(rate.to_bits(), Relaxed);
                }
            }
            // The depth gauge is read from the stack when scraped: the event names one key's queue.
            Event::QueueDepth { .. } => {}
            Event::Breaker { from, to } => {
                let states = BreakerState::ALL.len();
                bump(&self.transitions, from.index() * states + to.index());
            }
            Event::RateLimitSeen {
                remaining_requests,
                limit_requests,
            } => {
                self.remaining_requests.set(*remaining_requests);
                self.limit_requests.set(*limit_requests);
            }
            Event::CacheMiss => one(&self.cache_misses),
            Event::Served { outcome } => bump(&self.local_answers, outcome.index()),
            Event::Filtered { .. } => one(&self.filtered),
            Event::ApiSwitched { .. } => one(&self.api_switches),
        }
    }
}

#[cfg(test)]
mod over_stack_tests;
#[cfg(test)]
mod tests;
