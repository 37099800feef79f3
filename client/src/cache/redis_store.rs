//! The second-level cache on Redis: answers shared by every node (`SET ... PX ttl`), and a
//! short-lived lock key per request so that, across nodes, one of them asks the upstream while
//! the others wait for its answer to appear.
//!
//! Redis being slow or down never fails a request: a failed read is a miss, a failed write is
//! skipped, a failed lock lets the node ask the upstream itself.

use std::time::Duration;

use futures_util::future::{BoxFuture, FutureExt};
use gauntlet_wire::openai::responses::FunctionCall;
use gauntlet_wire::openai::Usage;
use serde::{Deserialize, Serialize};

use super::{CacheKey, L2Store, RedisCacheConfig};
use crate::observer::{Event, SharedObserver};
use crate::request::{ChatResponse, Outcome};
use crate::shared_store::{InvalidRedis, RedisLink, StoreError};

/// What is stored: the answer without the per-request fields.
#[derive(Debug, Serialize, Deserialize)]
struct StoredAnswer {
    text: String,
    usage: Option<Usage>,
    finish_reason: Option<String>,
    /// Absent in entries written before tool calls were kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<FunctionCall>,
    /// Absent in entries written before embeddings were kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    embeddings: Vec<Vec<f32>>,
}

/// The [`L2Store`](crate::cache::L2Store) that `[client.cache.redis]` opens: answers under `prefix`
/// that Redis expires itself (`PX`) and, with `coalesce`, a lock per key shared across nodes.
#[derive(Debug)]
pub struct RedisL2 {
    link: RedisLink,
    config: RedisCacheConfig,
    observer: SharedObserver,
}

impl RedisL2 {
    /// A store on `config.url`; connects on first use. Failures are reported to `observer`
    /// (`Event::SharedCacheError`), so a report shows when the fleet was not sharing its cache.
    pub fn open(config: &RedisCacheConfig, observer: SharedObserver) -> Result<Self, InvalidRedis> {
        Ok(Self {
            link: RedisLink::open(&config.url, config.timeout.0)?,
            config: config.clone(),
            observer,
        })
    }

    /// The value of a command, `None` (reported) when Redis failed it.
    fn checked<T>(&self, result: Result<T, StoreError>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(_) => {
                self.observer.on_event(&Event::SharedCacheError);
                None
            }
        }
    }

    fn key(&self, key: CacheKey) -> String {
        format!("{}:{key:016x}", self.config.prefix)
    }
}

impl L2Store for RedisL2 {
    fn get(&self, key: CacheKey) -> BoxFuture<'_, Option<ChatResponse>> {
        let k = self.key(key);
        async move {
            let raw: Option<Vec<u8>> = self.checked(
                self.link
                    .run(|mut c| async move { redis::cmd("GET").arg(k).query_async(&mut c).await })
                    .await,
            )?;
            let stored: StoredAnswer = serde_json::from_slice(&raw?).ok()?;
            let mut resp = ChatResponse::local(stored.text, Outcome::Upstream);
            resp.usage = stored.usage;
            resp.finish_reason = stored.finish_reason;
            resp.tool_calls = stored.tool_calls;
            resp.embeddings = stored.embeddings;
            Some(resp)
        }
        .boxed()
    }

    fn put(&self, key: CacheKey, response: ChatResponse, ttl: Duration) -> BoxFuture<'_, ()> {
        let k = self.key(key);
        async move {
            let stored = StoredAnswer {
                text: response.text,
                usage: response.usage,
                finish_reason: response.finish_reason,
                tool_calls: response.tool_calls,
                embeddings: response.embeddings,
            };
            let Ok(bytes) = serde_json::to_vec(&stored) else {
                return;
            };
            let ms = ttl.as_millis().max(1) as u64;
            let stored = self
                .link
                .run(|mut c| async move {
                    redis::cmd("SET")
                        .arg(k)
                        .arg(bytes)
                        .arg("PX")
                        .arg(ms)
                        .query_async::<()>(&mut c)
                        .await
                })
                .await;
            self.checked(stored);
        }
        .boxed()
    }

    fn coalesces(&self) -> Option<(Duration, Duration)> {
        self.config
            .coalesce
            .then_some((self.config.lock_ttl.0, self.config.poll.0))
    }

    fn try_lock(&self, key: CacheKey, ttl: Duration) -> BoxFuture<'_, bool> {
        let k = format!("{}:lock", self.key(key));
        async move {
            let ms = ttl.as_millis().max(1) as u64;
            let set: Result<Option<String>, _> = self
                .link
                .run(|mut c| async move {
                    redis::cmd("SET")
                        .arg(k)
                        .arg(1)
                        .arg("NX")
                        .arg("PX")
                        .arg(ms)
                        .query_async(&mut c)
                        .await
                })
                .await;
            // Without Redis nobody can hold the lock: ask the upstream.
            !matches!(self.checked(set), Some(None))
        }
        .boxed()
    }

    /// A plain `DEL`: the lock only expires under its holder when that holder took longer than
    /// `lock_ttl`, and deleting a later holder's lock then costs one more upstream call, never a
    /// wrong answer.
    fn unlock(&self, key: CacheKey) -> BoxFuture<'_, ()> {
        let k = format!("{}:lock", self.key(key));
        async move {
            let _ = self
                .link
                .run(
                    |mut c| async move { redis::cmd("DEL").arg(k).query_async::<()>(&mut c).await },
                )
                .await;
        }
        .boxed()
    }
}
