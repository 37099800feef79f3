//! `[client]`: one optional table per layer. A layer is in the stack when its table is present
//! and does not say `enabled = false`; what is not written is not there, so a scenario shows
//! exactly what it tests.

use serde::{Deserialize, Serialize};

use super::adapter::AdapterConfig;
use super::answer_cap::AnswerCapConfig;
use super::breaker::BreakerConfig;
use super::cache::CacheConfig;
use super::context::ContextConfig;
use super::fallback::FallbackConfig;
use super::filter::FilterConfig;
use super::limiter::LimiterConfig;
use super::models::ModelsConfig;
use super::pool::PoolConfig;
use super::retry::RetryConfig;
use super::timeout::TimeoutConfig;
use super::transport::{ExtraRoots, RootsError, TransportTable};

/// `[client]` of a scenario, which [`ClientStack::from_config`](crate::ClientStack::from_config)
/// builds: the adapter always, every other layer only when its table is present and does not say
/// `enabled = false`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientConfig {
    /// API version and base URL (always present).
    pub adapter: AdapterConfig,
    /// `[client.filter]`; the outermost layer, so a refused prompt costs nothing further in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<FilterConfig>,
    /// `[client.context]`; outside the cache, so the cache key covers the history that is sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<ContextConfig>,
    /// `[client.cache]`; outside the retries and the limiter, so a hit spends no attempt and no
    /// permit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheConfig>,
    /// `[client.limiter]`; inside the retries and the breaker, so every attempt, retried ones too,
    /// takes a permit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limiter: Option<LimiterConfig>,
    /// `[client.retry]`; each retry passes the breaker, the limiter and the attempt timeout again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryConfig>,
    /// `[client.breaker]`; inside the retries, so it counts attempts, not requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breaker: Option<BreakerConfig>,
    /// `[client.timeout]`: `attempt` bounds each attempt (inside the retries), `total` the whole
    /// request (outside them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<TimeoutConfig>,
    /// `[client.fallback]`; outside the cache, whose stale entries its `stale` step serves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<FallbackConfig>,
    /// `[client.transport]`: extra trusted roots (`ca_file`) for an `https://` upstream. Not a
    /// layer: it shapes the HTTP transport under the adapter, and a transport given to the
    /// builder (the in-process mock) ignores it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport: Option<TransportTable>,
    /// `[client.pool]`: several keys for one model; inside the retries (a retry may take another
    /// key), outside the breaker and the limiter (a `per_key` limiter sees the chosen key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool: Option<PoolConfig>,
    /// `[client.models]`: the model fallback chain; outside the retries (each model gets its
    /// retries), inside the total timeout and the cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub models: Option<ModelsConfig>,
    /// `[client.answer_cap]`; outside the cache (a capped answer is cached under its capped
    /// key), inside the fallback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer_cap: Option<AnswerCapConfig>,
}

impl ClientConfig {
    /// Whether a layer keeps state in Redis (a shared limiter or a second-level cache), which
    /// only a real-time run can reach.
    pub fn uses_redis(&self) -> bool {
        let limiter = self
            .limiter
            .as_ref()
            .is_some_and(|l| l.enabled && l.backend == super::limiter::Backend::Redis);
        let cache = self
            .cache
            .as_ref()
            .is_some_and(|c| c.enabled && c.redis.is_some());
        limiter || cache
    }

    /// The roots `[client.transport] ca_file` adds to the webpki roots, read and checked now;
    /// none without the table. Whoever builds the HTTP transport for this config passes them in
    /// [`HttpTransportConfig::extra_roots`](crate::transport::HttpTransportConfig::extra_roots).
    pub fn extra_roots(&self) -> Result<ExtraRoots, RootsError> {
        self.transport
            .as_ref()
            .map_or_else(|| Ok(ExtraRoots::default()), TransportTable::extra_roots)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_tables_are_off_and_unknown_keys_are_errors() {
        let c: ClientConfig =
            toml::from_str("[retry]\nmax_attempts = 5\n[cache]\nenabled = false").unwrap();
        assert_eq!(c.retry.unwrap().max_attempts, 5);
        assert!(!c.cache.unwrap().enabled);
        assert!(c.limiter.is_none());
        let e = toml::from_str::<ClientConfig>("[retry]\nmax_attempt = 5").unwrap_err();
        assert!(e.to_string().contains("max_attempt"), "{e}");
        let e = toml::from_str::<ClientConfig>("[retries]").unwrap_err();
        assert!(e.to_string().contains("retries"), "{e}");
    }
}
