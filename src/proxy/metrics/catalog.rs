//! The catalogue of what the proxy exports: each metric's name, type, labels and help, in one
//! enum, so rendering, `# HELP` lines and the README table cannot disagree.

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
    /// Attempts the key pool sent with each key.
    KeyRequests,
    /// Times the pool rested a key after a 429.
    KeyCooldowns,
    /// Times the pool marked a key's daily quota spent.
    KeysSpent,
    /// Tokens of the answers through each key.
    KeyTokens,
    /// What those answers cost on each key.
    KeyCost,
    /// Answers the model chain got from a later model, by that model.
    Degraded,
    /// Requests whose `max_tokens` the answer cap lowered.
    AnswersCapped,
    /// Batch requests that waited for spare quota and went on.
    Deferred,
    /// How long they waited.
    DeferralWaitSeconds,
    /// Batch requests refused after `batch_max_wait` without spare quota.
    DeferralsExpired,
}

impl Metric {
    /// Every metric, in exposition order.
    pub const ALL: [Metric; 33] = [
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
        Metric::KeyRequests,
        Metric::KeyCooldowns,
        Metric::KeysSpent,
        Metric::KeyTokens,
        Metric::KeyCost,
        Metric::Degraded,
        Metric::AnswersCapped,
        Metric::Deferred,
        Metric::DeferralWaitSeconds,
        Metric::DeferralsExpired,
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
            Metric::KeyRequests => "gauntlet_proxy_key_requests_total",
            Metric::KeyCooldowns => "gauntlet_proxy_key_cooldowns_total",
            Metric::KeysSpent => "gauntlet_proxy_keys_spent_total",
            Metric::KeyTokens => "gauntlet_proxy_key_tokens_total",
            Metric::KeyCost => "gauntlet_proxy_key_cost_total",
            Metric::Degraded => "gauntlet_proxy_degraded_total",
            Metric::AnswersCapped => "gauntlet_proxy_answers_capped_total",
            Metric::Deferred => "gauntlet_proxy_deferred_total",
            Metric::DeferralWaitSeconds => "gauntlet_proxy_deferral_wait_seconds",
            Metric::DeferralsExpired => "gauntlet_proxy_deferrals_expired_total",
        }
    }

    /// Its Prometheus type.
    pub fn kind(self) -> Kind {
        match self {
            Metric::RequestDuration | Metric::LimiterWaitSeconds | Metric::DeferralWaitSeconds => {
                Kind::Histogram
            }
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
            Metric::KeyRequests
            | Metric::KeyCooldowns
            | Metric::KeysSpent
            | Metric::KeyTokens
            | Metric::KeyCost => &["key"],
            Metric::Degraded => &["model"],
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
            Metric::KeyRequests => "Upstream attempts the key pool sent with each key, by the key's config name.",
            Metric::KeyCooldowns => "Times the key pool rested a key after a 429, by the key's config name.",
            Metric::KeysSpent => "Times the key pool marked a key's daily quota spent (insufficient_quota), by the key's config name.",
            Metric::KeyTokens => "Tokens (prompt plus completion) of the answers through each key, by the key's config name.",
            Metric::KeyCost => "Cost of the answers through each key (tokens / 1000 x cost_per_1k_tokens), by the key's config name.",
            Metric::Degraded => "Answers the model chain got from a later model than the one asked for, by the model that answered.",
            Metric::AnswersCapped => "Requests whose max_tokens the answer cap lowered because the token quota was nearly spent.",
            Metric::Deferred => "Batch requests that waited for spare quota (batch_reserve) and then went on.",
            Metric::DeferralWaitSeconds => "How long those batch requests waited for spare quota.",
            Metric::DeferralsExpired => "Batch requests refused after batch_max_wait without spare quota.",
        }
    }
}
