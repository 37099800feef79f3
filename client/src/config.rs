//! `[client]`: one optional table per layer. A layer is in the stack when its table is present
//! and does not say `enabled = false`; what is not written is not there, so a scenario shows
//! exactly what it tests.

use serde::{Deserialize, Serialize};

use super::adapter::AdapterConfig;
use super::breaker::BreakerConfig;
use super::cache::CacheConfig;
use super::context::ContextConfig;
use super::fallback::FallbackConfig;
use super::filter::FilterConfig;
use super::limiter::LimiterConfig;
use super::retry::RetryConfig;
use super::timeout::TimeoutConfig;

/// The client stack's configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientConfig {
    /// API version and base URL (always present).
    pub adapter: AdapterConfig,
    /// Sensitive-term filter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<FilterConfig>,
    /// Dialogue context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<ContextConfig>,
    /// Response cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheConfig>,
    /// Client-side rate limiter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limiter: Option<LimiterConfig>,
    /// Retries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryConfig>,
    /// Circuit breaker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breaker: Option<BreakerConfig>,
    /// Timeouts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<TimeoutConfig>,
    /// Fallback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<FallbackConfig>,
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
