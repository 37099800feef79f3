//! The Redis link itself (with the `redis` feature).

use std::sync::Mutex;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::time::Instant;

use super::InvalidRedis;

/// How long after a failure the link is taken as down before it is probed again.
pub const DOWN_PAUSE: Duration = Duration::from_millis(500);

/// Why one command did not get an answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// The link failed recently and is resting.
    #[error("redis is down")]
    Down,
    /// No answer within the deadline.
    #[error("redis did not answer in time")]
    Timeout,
    /// Redis or the connection said no.
    #[error("redis: {0}")]
    Redis(String),
}

/// A lazily connected, self-healing Redis connection with a per-command deadline.
pub struct RedisLink {
    conn: ConnectionManager,
    timeout: Duration,
    down_until: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for RedisLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLink")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisLink {
    /// A link to `url` that connects on first use; `timeout` bounds each command.
    pub fn open(url: &str, timeout: Duration) -> Result<Self, InvalidRedis> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(InvalidRedis::NoRuntime);
        }
        let client = redis::Client::open(url).map_err(|e| InvalidRedis::BadUrl {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(DOWN_PAUSE);
        let conn = ConnectionManager::new_lazy_with_config(client, config).map_err(|e| {
            InvalidRedis::BadUrl {
                url: url.to_string(),
                reason: e.to_string(),
            }
        })?;
        Ok(Self {
            conn,
            timeout,
            down_until: Mutex::new(None),
        })
    }

    /// Whether the link is resting after a failure.
    pub fn is_down(&self) -> bool {
        let guard = self.down_until.lock().unwrap_or_else(|p| p.into_inner());
        guard.is_some_and(|until| Instant::now() < until)
    }

    /// Runs `cmd` (a command, pipeline or script invocation built by the caller) within the
    /// deadline; a failure rests the link for [`DOWN_PAUSE`].
    pub async fn run<T, F, Fut>(&self, cmd: F) -> Result<T, StoreError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        if self.is_down() {
            return Err(StoreError::Down);
        }
        let result = match tokio::time::timeout(self.timeout, cmd(self.conn.clone())).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(StoreError::Redis(e.to_string())),
            Err(_) => Err(StoreError::Timeout),
        };
        let mut down = self.down_until.lock().unwrap_or_else(|p| p.into_inner());
        match &result {
            Ok(_) => *down = None,
            Err(_) => *down = Some(Instant::now() + DOWN_PAUSE),
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_a_runtime_is_an_error_not_a_panic() {
        let err = RedisLink::open("redis://127.0.0.1:1", Duration::from_millis(50)).unwrap_err();
        assert_eq!(err, InvalidRedis::NoRuntime);
    }

    #[tokio::test]
    async fn a_bad_url_is_named() {
        let err = RedisLink::open("http://nope", Duration::from_millis(50)).unwrap_err();
        assert!(matches!(err, InvalidRedis::BadUrl { .. }), "{err}");
    }

    #[tokio::test]
    async fn an_unreachable_server_fails_fast_then_rests() {
        // Port 1 on loopback: nothing listens, the connect is refused at once.
        let link = RedisLink::open("redis://127.0.0.1:1", Duration::from_millis(200)).unwrap();
        let first = link
            .run(|mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await })
            .await;
        assert!(matches!(
            first,
            Err(StoreError::Redis(_) | StoreError::Timeout)
        ));
        assert!(link.is_down());
        let second = link
            .run(|mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await })
            .await;
        assert_eq!(second, Err(StoreError::Down));
    }
}
