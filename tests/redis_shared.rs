//! The layers that share state across nodes, against a real `redis-server` on loopback: the
//! Redis limiter holds several "nodes" (separate limiters) to one quota, falls back to a local
//! share while Redis is away and goes back to Redis when it returns; the Redis L2 cache lets a
//! fleet ask the upstream once per question.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use common::redis_server::{free_port, RedisServer};
use gauntlet::client::cache::RedisCacheConfig;
use gauntlet::client::limiter::{Backend, LimiterConfig, LimiterLayer};
use gauntlet::client::testing::Scripted;
use gauntlet::client::{ChatRequest, ClientConfig, ClientStack, CountingObserver, Outcome};
use gauntlet_wire::duration::HumanDuration;
use gauntlet_wire::rate::Rate;
use tokio::time::Instant;
use tower::{Layer, ServiceExt};

fn shared_limiter(url: &str, key: &str, rate: f64, burst: u32, nodes: u32) -> LimiterConfig {
    LimiterConfig {
        backend: Backend::Redis,
        redis_url: Some(url.to_string()),
        key: key.to_string(),
        rate: Rate::per_second(rate),
        burst,
        nodes,
        max_wait: HumanDuration(Duration::from_secs(10)),
        redis_timeout: HumanDuration(Duration::from_millis(300)),
        ..LimiterConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_share_one_quota() {
    let Some(redis) = RedisServer::start("three_nodes_share_one_quota").await else {
        return;
    };
    // One upstream (records every call's time), three nodes each with its own limiter on one key.
    let upstream = Scripted::default();
    let observer = Arc::new(CountingObserver::default());
    let nodes: Vec<_> = (0..3)
        .map(|_| {
            LimiterLayer::new(
                shared_limiter(&redis.url(), "t:quota", 20.0, 2, 3),
                observer.clone(),
            )
            .unwrap()
            .layer(upstream.clone())
        })
        .collect();
    // 30 requests, 10 per node, all at once: alone, each node would send its 10 at once.
    let mut calls = Vec::new();
    for _ in 0..10 {
        for n in &nodes {
            calls.push(tokio::spawn(
                n.clone().oneshot(ChatRequest::user_text("m", "q")),
            ));
        }
    }
    for c in calls {
        c.await.unwrap().unwrap();
    }
    let mut at = upstream.calls();
    at.sort();
    assert_eq!(at.len(), 30);
    // Burst 2, then one per 50 ms: the 30th goes no sooner than 28 × 50 ms after the first.
    let span = at[29] - at[0];
    assert!(span >= Duration::from_millis(1350), "span {span:?}");
    // In any second, at most rate + burst (+1 for timer rounding at the window's edges).
    for (i, t) in at.iter().enumerate() {
        let in_window = at[i..]
            .iter()
            .take_while(|u| **u - *t < Duration::from_secs(1))
            .count();
        assert!(in_window <= 23, "{in_window} calls in one second");
    }
    assert_eq!(observer.limiter_fallbacks.load(Ordering::Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn falls_back_to_the_local_share_and_returns_to_redis() {
    // Nothing listens on the port yet.
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}");
    if which_redis().is_none() {
        let _ = RedisServer::start("falls_back_to_the_local_share_and_returns_to_redis").await;
        return;
    }
    let upstream = Scripted::default();
    let observer = Arc::new(CountingObserver::default());
    // Fleet rate 20/s over 2 nodes: the local share is 10/s, burst 1.
    let node = LimiterLayer::new(
        shared_limiter(&url, "t:fallback", 20.0, 2, 2),
        observer.clone(),
    )
    .unwrap()
    .layer(upstream.clone());
    for _ in 0..4 {
        node.clone()
            .oneshot(ChatRequest::user_text("m", "q"))
            .await
            .unwrap();
    }
    assert_eq!(observer.limiter_fallbacks.load(Ordering::Relaxed), 4);
    let at = upstream.calls();
    // The local share (10/s, burst 1) spaced them: 3 gaps of 100 ms.
    assert!(
        at[3] - at[0] >= Duration::from_millis(280),
        "{:?}",
        at[3] - at[0]
    );

    let redis = RedisServer::start_on(port)
        .await
        .expect("redis-server starts");
    // The link rests for half a second after a failure, then probes Redis again.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let t0 = Instant::now();
    let mut recovered = false;
    // Bounded: at most 20 requests over about 2 s. The first may still find the old failed
    // connection (which starts the reconnect); a later one is decided by Redis.
    for _ in 0..20 {
        let before = observer.limiter_fallbacks.load(Ordering::Relaxed);
        node.clone()
            .oneshot(ChatRequest::user_text("m", "q"))
            .await
            .unwrap();
        if observer.limiter_fallbacks.load(Ordering::Relaxed) == before {
            recovered = true;
            break;
        }
        if t0.elapsed() > Duration::from_secs(2) {
            break;
        }
    }
    assert!(recovered, "decisions did not go back to Redis");
    // The quota's key is in Redis now.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let tat: Option<String> = redis::cmd("GET")
        .arg("t:fallback")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(tat.is_some());
}

fn which_redis() -> Option<()> {
    std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| ())
}

fn cached_stack(mock_url: &str, redis_url: &str) -> ClientStack {
    observed_cached_stack(mock_url, redis_url, Arc::new(CountingObserver::default()))
}

fn observed_cached_stack(
    mock_url: &str,
    redis_url: &str,
    observer: Arc<CountingObserver>,
) -> ClientStack {
    let mut config: ClientConfig = toml::from_str(
        r#"
[cache]
ttl = "1m"
"#,
    )
    .unwrap();
    config.adapter.base_url = mock_url.to_string();
    if let Some(c) = config.cache.as_mut() {
        c.redis = Some(RedisCacheConfig {
            url: redis_url.to_string(),
            prefix: "t:cache".into(),
            // A node's first command opens its lazy connection; on a loaded machine that can
            // take longer than the default 250 ms, and the node would then go without Redis.
            timeout: HumanDuration(Duration::from_secs(2)),
            ..RedisCacheConfig::default()
        });
    }
    ClientStack::builder(&config)
        .observer(observer)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_asks_the_upstream_once_per_question() {
    let Some(redis) = RedisServer::start("a_fleet_asks_the_upstream_once_per_question").await
    else {
        return;
    };
    let mock = common::mock(
        r#"
latency = { distribution = "fixed", value = "300ms" }
"#,
    )
    .await;
    let (a, b, c) = (
        cached_stack(&mock.url, &redis.url()),
        cached_stack(&mock.url, &redis.url()),
        cached_stack(&mock.url, &redis.url()),
    );
    // Two nodes ask the same question at once: one asks the upstream, the other waits for its
    // answer in Redis. The second asks once the first holds the question's lock (a fixed head
    // start is not enough on a loaded machine: the first node's lazy connection may take longer).
    let q = || ChatRequest::user_text("m", "what is a token bucket?");
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let (ra, rb) = tokio::join!(a.service().oneshot(q()), async {
        let t0 = std::time::Instant::now();
        loop {
            let locks: Vec<String> = redis::cmd("KEYS")
                .arg("t:cache*:lock")
                .query_async(&mut conn)
                .await
                .unwrap();
            if !locks.is_empty() || t0.elapsed() > Duration::from_secs(5) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        b.service().oneshot(q()).await
    });
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.outcome, Outcome::Upstream);
    assert_eq!(rb.outcome, Outcome::Coalesced);
    assert_eq!(ra.text, rb.text);
    // A third node, later, finds it in Redis.
    let rc = c.service().oneshot(q()).await.unwrap();
    assert_eq!(rc.outcome, Outcome::CacheHit);
    assert_eq!(rc.text, ra.text);
    assert_eq!(mock.state.stats().requests, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_key_quotas_are_separate_in_redis() {
    let Some(redis) = RedisServer::start("per_key_quotas_are_separate_in_redis").await else {
        return;
    };
    let upstream = Scripted::default();
    let observer = Arc::new(CountingObserver::default());
    let config = LimiterConfig {
        scope: gauntlet::client::limiter::Scope::PerKey,
        // One request per 10 s per key, refused when it would have to wait.
        max_wait: HumanDuration(Duration::ZERO),
        ..shared_limiter(&redis.url(), "t:per-key", 0.1, 1, 1)
    };
    let node = LimiterLayer::new(config, observer.clone())
        .unwrap()
        .layer(upstream.clone());
    let with_key = |key: &str| {
        let mut r = ChatRequest::user_text("m", "q");
        r.api_key = Some(key.to_string());
        r
    };
    // Each key gets its own slot; a second request on a key is refused.
    node.clone().oneshot(with_key("sk-a")).await.unwrap();
    node.clone().oneshot(with_key("sk-b")).await.unwrap();
    assert!(node.clone().oneshot(with_key("sk-a")).await.is_err());
    assert_eq!(upstream.call_count(), 2);
    assert_eq!(observer.limiter_rejections.load(Ordering::Relaxed), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_l2_is_a_miss_not_an_error() {
    let mock = common::mock("").await;
    // Nothing listens there: every Redis call fails fast, the cache asks the upstream.
    let dead = format!("redis://127.0.0.1:{}", free_port());
    let observer = Arc::new(CountingObserver::default());
    let stack = observed_cached_stack(&mock.url, &dead, observer.clone());
    let q = || ChatRequest::user_text("m", "is anyone there?");
    let first = stack.service().oneshot(q()).await.unwrap();
    assert_eq!(first.outcome, Outcome::Upstream);
    // The in-process level still works.
    let second = stack.service().oneshot(q()).await.unwrap();
    assert_eq!(second.outcome, Outcome::CacheHit);
    assert_eq!(mock.state.stats().requests, 1);
    // And the report can tell: the failed lookup (the link then rests, so later calls fail fast
    // and are counted too).
    assert!(observer.shared_cache_errors.load(Ordering::Relaxed) >= 1);
}
