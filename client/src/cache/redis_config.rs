//! `[client.cache.redis]`: read and checked in every build, so a scenario means the same with or
//! without the `redis` feature; only opening the store needs the feature.

use std::time::Duration;

use gauntlet_wire::duration::HumanDuration;
use serde::{Deserialize, Serialize};

/// `[client.cache.redis]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisCacheConfig {
    /// The Redis server, `redis://host:port[/db]`.
    pub url: String,
    /// Prefix of every key, so several caches can share one Redis.
    pub prefix: String,
    /// Across nodes, identical requests in flight share one upstream call.
    pub coalesce: bool,
    /// How long a node may hold a request's lock (other nodes wait at most this long, then
    /// ask the upstream themselves). Set it near the client's total timeout.
    pub lock_ttl: HumanDuration,
    /// How often a waiting node looks for the answer.
    pub poll: HumanDuration,
    /// Longest wait for Redis's answer before going without it.
    pub timeout: HumanDuration,
}

impl Default for RedisCacheConfig {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".into(),
            prefix: "gauntlet:cache".into(),
            coalesce: true,
            lock_ttl: HumanDuration(Duration::from_secs(10)),
            poll: HumanDuration(Duration::from_millis(25)),
            timeout: HumanDuration(Duration::from_millis(250)),
        }
    }
}
