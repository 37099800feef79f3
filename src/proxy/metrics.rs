//! `/metrics` of `gauntlet proxy`: what the stack did for every caller, in Prometheus' text
//! exposition format (version 0.0.4), so the team that tuned the stack in a scenario can watch the
//! same layers in production.
//!
//! Counters are atomics updated on the request's task (the observer is called synchronously by
//! every layer), so an update never takes a lock. Every label value comes from a closed list —
//! [`ROUTES`], [`Outcome::ALL`], [`ClientError::KINDS`], [`PROXY_OUTCOMES`], [`BreakerState::ALL`] — and anything
//! else is counted as `other`: a caller can never grow the series count. The two labels whose
//! values the config names — a pool key (shown only as its masked id `key#<hash>`) and a model
//! of the chain — are kept in a fixed number of slots (`labelled`), the rest counted as `other`.
//! The gauges that describe the stack now (queue depth, breaker state, cache size) are read from
//! it when scraped.

mod catalog;
mod labelled;
mod quota;
mod text;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use gauntlet_client::observer::{BreakerState, Event, Observer, SharedObserver};
use gauntlet_client::{ClientError, ClientStack, Outcome};

pub use catalog::{Kind, Metric};
use quota::QuotaMetrics;
pub use text::{escape_label, LATENCY_BUCKETS};
use text::{sample, Histogram};

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

/// Outcome of a request the proxy refused itself before the stack saw it: a body that is not
/// the route's JSON (400).
pub const BAD_REQUEST: &str = "bad_request";
/// Outcome of a request whose body is over `[proxy] max_body_bytes` (413).
pub const BODY_TOO_LARGE: &str = "body_too_large";
/// The outcomes only the proxy gives (on top of [`Outcome::ALL`] and [`ClientError::KINDS`]),
/// so its own refusals are counted by name rather than as `other`.
pub const PROXY_OUTCOMES: [&str; 2] = [BAD_REQUEST, BODY_TOO_LARGE];

/// Sentinel of a gauge nobody has set yet: such a gauge is not rendered, rather than shown as 0.
const UNSET: u64 = u64::MAX;

/// HTTP status codes counted one by one (100..=599); a number outside them is no status and is
/// left out of `gauntlet_proxy_responses_total` (the request is still counted).
const STATUS_MIN: u16 = 100;
const STATUS_SLOTS: usize = 501;

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

/// The `outcome` label values of [`Metric::Requests`]: every [`Outcome`], every error kind, the
/// proxy's own refusals, then `other`.
fn outcome_labels() -> impl Iterator<Item = &'static str> {
    Outcome::ALL
        .into_iter()
        .map(Outcome::as_str)
        .chain(ClientError::KINDS)
        .chain(PROXY_OUTCOMES)
        .chain([OTHER])
}

/// The `reason` label values of [`Metric::Retries`]: every error kind, then `other`.
fn reason_labels() -> impl Iterator<Item = &'static str> {
    ClientError::KINDS.into_iter().chain([OTHER])
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
    /// The key pool, the model chain, the answer cap and batch deferrals.
    quota: QuotaMetrics,
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
            quota: QuotaMetrics::new(),
        }
    }

    /// A new stack counts into these metrics from now on (a reload): the counters go on, and
    /// what described the old stack alone, the adaptive limiter's rate, is unset until the new
    /// limiter moves. (The breaker's state is read from the serving stack at each scrape.)
    pub fn new_stack(&self) {
        self.limiter_rate.store(UNSET, Relaxed);
    }

    /// An observer to pass to the stack builder (`StackBuilder::observer`), counting attempts,
    /// retries, limiter waits and rejections, breaker transitions, cache events, and the key
    /// pool's, model chain's, answer cap's and deferral's events.
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
            Metric::KeyRequests
            | Metric::KeyCooldowns
            | Metric::KeysSpent
            | Metric::KeyTokens
            | Metric::KeyCost
            | Metric::Degraded
            | Metric::AnswersCapped
            | Metric::Deferred
            | Metric::DeferralWaitSeconds
            | Metric::DeferralsExpired => self.quota.render(m, out),
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
            Event::KeyChosen { .. }
            | Event::KeyCooledDown { .. }
            | Event::KeySpent { .. }
            | Event::KeyCost { .. }
            | Event::Degraded { .. }
            | Event::AnswerCapped { .. }
            | Event::Deferred { .. }
            | Event::DeferralExpired => self.quota.on_event(event),
            // A proxied request skips the semantic cache (it keys the caller's whole body), so
            // the proxy never makes one.
            Event::EmbeddingCall { .. } => {}
        }
    }
}

#[cfg(test)]
mod over_stack_tests;
#[cfg(test)]
mod test_parser;
#[cfg(test)]
mod tests;
