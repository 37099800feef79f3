//! The Redis backend of the limiter: one GCRA per quota, kept in Redis and decided by an atomic
//! Lua script on Redis's clock, so K nodes spend one quota instead of K.
//!
//! The script reserves a slot and says how long to wait for it (one round trip per request, no
//! polling). A slot reserved by a caller that then gives up is not given back: the fleet can
//! only send less than the quota, never more.

use std::sync::Arc;
use std::time::Duration;

use gauntlet_wire::hash::stable_hash;

use crate::shared_store::{InvalidRedis, RedisLink, StoreError};

/// What Redis said about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// A slot is reserved; go after this wait.
    Go(Duration),
    /// The next slot is further away than the caller accepts.
    Refused,
}

/// A quota shared by every node that names the same key on the same Redis.
#[derive(Debug, Clone)]
pub struct RemoteQuota {
    link: Arc<RedisLink>,
    script: Arc<redis::Script>,
    prefix: String,
    interval_us: u64,
    tolerance_us: u64,
}

impl RemoteQuota {
    /// A quota of `rate` per second with `burst`, stored under `prefix` on `url`.
    pub fn open(
        url: &str,
        prefix: &str,
        rate: f64,
        burst: u32,
        timeout: Duration,
    ) -> Result<Self, InvalidRedis> {
        let interval_us = (1e6 / rate).round().max(1.0) as u64;
        Ok(Self {
            link: Arc::new(RedisLink::open(url, timeout)?),
            script: Arc::new(redis::Script::new(include_str!("gcra.lua"))),
            prefix: prefix.to_string(),
            interval_us,
            tolerance_us: interval_us * u64::from(burst.max(1) - 1),
        })
    }

    /// The Redis key of a queue (`queue` is empty for the global limit, the API key per key): the
    /// prefix, then a hash of the API key (never the key itself, which is a secret).
    pub fn key(&self, queue: &str) -> String {
        if queue.is_empty() {
            self.prefix.clone()
        } else {
            format!("{}:{:016x}", self.prefix, stable_hash(queue.as_bytes()))
        }
    }

    /// Reserves the next slot of `queue` if it comes within `max_wait`.
    pub async fn reserve(
        &self,
        queue: &str,
        max_wait: Duration,
    ) -> Result<Reservation, StoreError> {
        let key = self.key(queue);
        let max_wait_us = u64::try_from(max_wait.as_micros()).unwrap_or(u64::MAX / 2);
        let script = self.script.clone();
        let (interval, tolerance) = (self.interval_us, self.tolerance_us);
        let (granted, wait_us): (i64, i64) = self
            .link
            .run(|mut conn| async move {
                script
                    .key(key)
                    .arg(interval)
                    .arg(tolerance)
                    .arg(max_wait_us)
                    .invoke_async(&mut conn)
                    .await
            })
            .await?;
        Ok(if granted == 1 {
            Reservation::Go(Duration::from_micros(wait_us.max(0) as u64))
        } else {
            Reservation::Refused
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keys_hide_the_api_key() {
        let q = RemoteQuota::open(
            "redis://127.0.0.1:1",
            "q",
            1.0,
            2,
            Duration::from_millis(10),
        )
        .unwrap();
        assert_eq!(q.key(""), "q");
        let k = q.key("sk-secret");
        assert!(k.starts_with("q:") && !k.contains("secret"), "{k}");
        assert_eq!(q.tolerance_us, 1_000_000);
    }
}
