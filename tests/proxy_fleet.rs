//! The production shape for a service that outgrows one machine: two `gauntlet proxy` replicas
//! (real processes) in front of one mock, sharing one quota (`[client.limiter]` with the Redis
//! backend) and one cache (`[client.cache.redis]`) through a real `redis-server`. The mock's own
//! counters say what reached it.

mod common;

use std::path::{Path, PathBuf};

use common::proxy_process::{chat, ProxyProcess};
use common::redis_server::RedisServer;
use mock_upstream::server::RunningMock;

/// Both replicas' config: one GCRA in Redis (3 at once, then one a minute: nothing more within
/// the test), refusing at once what it cannot carry, and a cache with a Redis second level.
fn replica_config(dir: &Path, name: &str, mock: &RunningMock, redis: &str, key: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    let text = format!(
        r#"[proxy]
listen = "127.0.0.1:0"
upstream = "{upstream}"

[client.limiter]
rate = "1/m"
burst = 3
max_wait = "0s"
backend = "redis"
redis_url = "{redis}"
key = "{key}:limiter"
nodes = 2

[client.cache]
ttl = "5m"

[client.cache.redis]
url = "{redis}"
prefix = "{key}:cache"
"#,
        upstream = mock.url,
    );
    std::fs::write(&path, text).unwrap();
    path
}

struct Fleet {
    mock: RunningMock,
    a: ProxyProcess,
    b: ProxyProcess,
    _redis: RedisServer,
    _dir: TempDir,
}

async fn fleet(test: &str) -> Option<Fleet> {
    let redis = RedisServer::start(test).await?;
    let mock = common::mock("[reply]\ntokens = { distribution = \"fixed\", value = 5 }\n").await;
    let dir = TempDir::new(test);
    let a = replica_config(dir.path(), "a", &mock, &redis.url(), test);
    let b = replica_config(dir.path(), "b", &mock, &redis.url(), test);
    Some(Fleet {
        a: ProxyProcess::start(&a),
        b: ProxyProcess::start(&b),
        mock,
        _redis: redis,
        _dir: dir,
    })
}

fn upstream_requests(mock: &RunningMock) -> u64 {
    mock.state.stats().requests
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_send_at_most_the_global_limit() {
    let Some(f) = fleet("two_replicas_send_at_most_the_global_limit").await else {
        return;
    };
    let client = reqwest::Client::new();
    // Ten distinct questions to each replica, alternating: alone, each would let its burst of 3
    // through (6 in all); sharing one GCRA they let 3 through between them.
    let mut statuses = Vec::new();
    for i in 0..10 {
        for (name, p) in [("a", &f.a), ("b", &f.b)] {
            let (status, body) = chat(&client, &p.url, &format!("question {i} to {name}")).await;
            if status == 429 {
                // The proxy's own refusal, OpenAI-shaped, not the mock's (the mock has no limit).
                assert!(body["error"]["message"].is_string(), "{body}");
            }
            statuses.push((name, status));
        }
    }
    let ok: Vec<_> = statuses.iter().filter(|(_, s)| *s == 200).collect();
    let refused = statuses.iter().filter(|(_, s)| *s == 429).count();
    assert_eq!(ok.len(), 3, "{statuses:?}");
    assert_eq!(refused, 17, "{statuses:?}");
    // Both replicas drew on the one quota: A took the first permit, B the second.
    assert!(
        ok.iter().any(|(n, _)| *n == "a") && ok.iter().any(|(n, _)| *n == "b"),
        "{ok:?}"
    );
    assert_eq!(upstream_requests(&f.mock), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_cached_through_one_replica_is_a_hit_through_the_other() {
    let Some(f) = fleet("an_answer_cached_through_one_replica_is_a_hit_through_the_other").await
    else {
        return;
    };
    let client = reqwest::Client::new();
    let (status, first) = chat(&client, &f.a.url, "what is a fleet?").await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(upstream_requests(&f.mock), 1);
    // B has never seen the question: its own cache is empty, Redis has A's answer.
    let (status, second) = chat(&client, &f.b.url, "what is a fleet?").await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(upstream_requests(&f.mock), 1, "the hit reached the mock");
    assert_eq!(
        second["choices"][0]["message"]["content"],
        first["choices"][0]["message"]["content"]
    );
    // A different question through B does reach the mock: the count above can move.
    let (status, _) = chat(&client, &f.b.url, "a different question").await;
    assert_eq!(status, 200);
    assert_eq!(upstream_requests(&f.mock), 2);
}

/// A directory removed on drop (no tempfile crate in the workspace).
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> Self {
        let p = std::env::temp_dir().join(format!("gauntlet-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
