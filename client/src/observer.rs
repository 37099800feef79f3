//! One observer, passed in at build time, that every layer reports to. No globals: the driver
//! gives each run its own, and a library user can forward events to their metrics.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::request::Outcome;

/// Where the breaker is in its cycle, as [`Event::Breaker`] reports it and
/// `ClientStack::breaker_state` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BreakerState {
    /// Calls flow.
    Closed,
    /// Calls fail fast.
    Open,
    /// A few probes test the upstream.
    HalfOpen,
}

impl BreakerState {
    /// Every state, in declaration order: the one list a state gauge's series derive from.
    pub const ALL: [BreakerState; 3] = [
        BreakerState::Closed,
        BreakerState::Open,
        BreakerState::HalfOpen,
    ];

    /// Position in [`BreakerState::ALL`], for counters kept in arrays.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The name reports and progress displays use (`closed`, `open`, `half_open`).
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

/// Something a layer did, sent to the [`Observer`] as it happens: the driver's counters and reports
/// are built from these, so no layer knows about reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An upstream attempt starts (1 = first).
    Attempt {
        /// 1 for the first attempt, 2 for the first retry, and so on.
        number: u32,
    },
    /// A retry is scheduled after `delay`.
    Retry {
        /// The attempt that failed.
        attempt: u32,
        /// Backoff before the next one.
        delay: Duration,
        /// Why it failed.
        error: &'static str,
    },
    /// A retry was skipped because the retry budget was spent.
    RetryBudgetExhausted,
    /// The limiter made a request wait.
    LimiterWait {
        /// From arrival at the limiter to the permit (with the Redis backend, the round trip
        /// included).
        wait: Duration,
    },
    /// The limiter refused a request.
    LimiterRejected,
    /// The shared (Redis) limiter was unreachable, so this node's local share decided.
    LimiterFallback,
    /// The shared (Redis) cache failed a read, write or lock, so the request went on without it.
    SharedCacheError,
    /// The adaptive limiter changed its rate (requests per second).
    LimiterRate {
        /// Permits per second now; sent only when the rate moved by more than 5 %.
        rate: f64,
    },
    /// Requests waiting in the limiter's queue now.
    QueueDepth {
        /// Requests waiting in the queue that changed (one API key's, with `scope = "per_key"`).
        depth: usize,
    },
    /// The breaker changed state.
    Breaker {
        /// The state the breaker left.
        from: BreakerState,
        /// The state it entered; `Open` is what [`CountingObserver::breaker_opened`] counts.
        to: BreakerState,
    },
    /// The upstream reported its remaining quota.
    RateLimitSeen {
        /// `x-ratelimit-remaining-requests`.
        remaining_requests: Option<u64>,
        /// `x-ratelimit-limit-requests`.
        limit_requests: Option<u64>,
    },
    /// A cache lookup missed.
    CacheMiss,
    /// The semantic cache asked the upstream's `/v1/embeddings` for a prompt's vector: a call
    /// that takes quota without answering the user.
    EmbeddingCall {
        /// Whether a usable vector came back (otherwise the lookup was skipped).
        ok: bool,
    },
    /// A response was produced other than by the upstream.
    Served {
        /// Which way: a cache hit, a coalesced call, a stale entry, the fallback, the queue.
        outcome: Outcome,
    },
    /// The input filter acted.
    Filtered {
        /// `redact` or `reject`.
        action: &'static str,
        /// Occurrences of sensitive terms in the request's messages, repeats included.
        matches: usize,
    },
    /// The adapter moved to another API version.
    ApiSwitched {
        /// The version now in use.
        to: &'static str,
    },
    /// The key pool picked a key for an attempt.
    KeyChosen {
        /// The key's `name` (never its secret).
        key: Arc<str>,
    },
    /// The key pool rested a key after a 429.
    KeyCooledDown {
        /// The key's `name`.
        key: Arc<str>,
        /// For how long: the upstream's `retry-after`, else the pool's `cooldown`.
        rest: Duration,
    },
    /// The key pool marked a key's daily quota spent (`insufficient_quota`) until its day ends.
    KeySpent {
        /// The key's `name`.
        key: Arc<str>,
    },
    /// An answer through the key pool, and what it cost on the key it went with.
    KeyCost {
        /// The key's `name`.
        key: Arc<str>,
        /// Prompt plus completion tokens of the answer's usage.
        tokens: u64,
        /// `tokens / 1000 × cost_per_1k_tokens` of the key.
        cost: f64,
        /// Whether the key has a price (`cost_per_1k_tokens > 0`): a paid key's share in the
        /// report counts these.
        paid: bool,
    },
    /// The model chain answered with a later model than the one asked for.
    Degraded {
        /// The model asked for.
        from: Arc<str>,
        /// The model that answered.
        to: Arc<str>,
    },
    /// The answer cap lowered a request's `max_tokens`: the token quota was nearly spent.
    AnswerCapped {
        /// The caller's `max_tokens` (`None`: the upstream's default).
        requested: Option<u32>,
        /// What was sent instead.
        cap: u32,
    },
    /// A batch request waited for spare quota (`batch_reserve`) and then went on.
    Deferred {
        /// From arrival at the limiter until the quota had room.
        wait: Duration,
    },
    /// A batch request waited `batch_max_wait` without spare quota and was refused, for the
    /// fallback's `queue` step to take over.
    DeferralExpired,
}

/// Receives every event of a client stack.
pub trait Observer: Send + Sync + std::fmt::Debug {
    /// Called synchronously on the request's task; keep it cheap.
    fn on_event(&self, event: &Event);
}

/// The observer to use when nobody is listening.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopObserver;

impl Observer for NoopObserver {
    fn on_event(&self, _event: &Event) {}
}

/// How layers hold the observer: one for the whole stack, cloned into every layer.
pub type SharedObserver = Arc<dyn Observer>;

/// An observer that counts events by kind, for tests and simple reports.
#[derive(Debug, Default)]
pub struct CountingObserver {
    /// [`Event::Attempt`]s: every upstream attempt, retries included.
    pub attempts: AtomicU64,
    /// [`Event::Retry`]s: retries decided, each sent after its backoff.
    pub retries: AtomicU64,
    /// Retries skipped for lack of budget.
    pub budget_exhausted: AtomicU64,
    /// [`Event::LimiterWait`]s: requests the limiter made wait (not those it admitted at once).
    pub limiter_waits: AtomicU64,
    /// [`Event::LimiterRejected`]s: requests refused with `Rejection::LimiterFull`.
    pub limiter_rejections: AtomicU64,
    /// Decisions taken by the local share while the shared limiter was unreachable.
    pub limiter_fallbacks: AtomicU64,
    /// Shared-cache operations that failed.
    pub shared_cache_errors: AtomicU64,
    /// Breaker transitions to open.
    pub breaker_opened: AtomicU64,
    /// [`Event::CacheMiss`]es: requests neither this process's cache nor the L2 store could answer.
    pub cache_misses: AtomicU64,
    /// [`Event::Served`]s: answers the upstream did not give to this request (see
    /// [`Outcome`]).
    pub served_locally: AtomicU64,
    /// [`Event::Filtered`]s: requests the filter redacted or refused.
    pub filtered: AtomicU64,
    /// [`Event::AnswerCapped`]s: requests sent with a lowered `max_tokens`.
    pub answers_capped: AtomicU64,
    /// [`Event::Deferred`]s: batch requests that waited for spare quota and went on.
    pub deferred: AtomicU64,
    /// [`Event::DeferralExpired`]s: batch requests refused after `batch_max_wait`.
    pub deferrals_expired: AtomicU64,
    /// [`Event::EmbeddingCall`]s: upstream embeddings the semantic cache asked for.
    pub embedding_calls: AtomicU64,
    /// Events of any kind, as a log, for exact assertions in tests.
    pub log: std::sync::Mutex<Vec<Event>>,
}

impl Observer for CountingObserver {
    fn on_event(&self, event: &Event) {
        let counter = match event {
            Event::Attempt { .. } => Some(&self.attempts),
            Event::Retry { .. } => Some(&self.retries),
            Event::RetryBudgetExhausted => Some(&self.budget_exhausted),
            Event::LimiterWait { .. } => Some(&self.limiter_waits),
            Event::LimiterRejected => Some(&self.limiter_rejections),
            Event::LimiterFallback => Some(&self.limiter_fallbacks),
            Event::SharedCacheError => Some(&self.shared_cache_errors),
            Event::Breaker {
                to: BreakerState::Open,
                ..
            } => Some(&self.breaker_opened),
            Event::CacheMiss => Some(&self.cache_misses),
            Event::EmbeddingCall { .. } => Some(&self.embedding_calls),
            Event::Served { .. } => Some(&self.served_locally),
            Event::Filtered { .. } => Some(&self.filtered),
            Event::AnswerCapped { .. } => Some(&self.answers_capped),
            Event::Deferred { .. } => Some(&self.deferred),
            Event::DeferralExpired => Some(&self.deferrals_expired),
            _ => None,
        };
        if let Some(c) = counter {
            c.fetch_add(1, Ordering::Relaxed);
        }
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(event.clone());
    }
}

impl CountingObserver {
    /// The value of one of the counters above; a relaxed load, so read it once the calls that count
    /// have returned.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// The events so far, in order, copied out so no lock is held while a test looks at them.
    pub fn events(&self) -> Vec<Event> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
