//! SIGTERM drains a real `gauntlet proxy` process: the listener closes (new connections are
//! refused) while a request in flight is still held by its upstream, that request then finishes
//! with its answer, and the process exits 0. A request that outlives `drain_timeout` is cut off
//! and the process exits anyway, saying so.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::held_upstream::held_upstream;
use common::proxy_process::{chat, ProxyProcess};

/// The test's bound on any one wait (not a measurement: a wait that long is a failure).
const BOUND: Duration = Duration::from_secs(20);

fn config(test: &str, upstream: &str, drain: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gauntlet-drain-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("proxy.toml");
    std::fs::write(
        &path,
        format!(
            "[proxy]\nlisten = \"127.0.0.1:0\"\nupstream = \"{upstream}\"\ndrain_timeout = \"{drain}\"\n"
        ),
    )
    .unwrap();
    path
}

/// Waits (at most [`BOUND`]) until a new TCP connection to `url` is refused.
async fn until_refused(url: &str) {
    let addr = url.trim_start_matches("http://");
    for _ in 0..(BOUND.as_millis() / 20) {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{addr} still accepts connections after SIGTERM");
}

fn remove(config: &Path) {
    let _ = std::fs::remove_dir_all(config.parent().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_the_listener_and_lets_a_request_in_flight_finish() {
    let (held, mut arrived, release) = held_upstream().await;
    let path = config("finish", &held, "30s");
    let mut proxy = ProxyProcess::start(&path);
    let url = proxy.url.clone();
    let in_flight =
        tokio::spawn(async move { chat(&reqwest::Client::new(), &url, "slow question").await });
    arrived
        .recv()
        .await
        .expect("the request reached the upstream");

    proxy.signal("TERM");
    proxy.wait_for_log("draining in-flight requests").await;
    until_refused(&proxy.url).await;
    assert!(
        !in_flight.is_finished(),
        "the held request is still in flight"
    );
    assert!(proxy.running(), "the process waits for it");

    release.notify_one();
    let (status, body) = tokio::time::timeout(BOUND, in_flight)
        .await
        .expect("the request in flight finished")
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "from the old upstream"
    );
    assert_eq!(proxy.exit_code(BOUND).await, Some(0), "{:?}", proxy.log());
    assert!(
        !proxy.log().iter().any(|l| l.contains("drain timeout")),
        "{:?}",
        proxy.log()
    );
    remove(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_outlives_drain_timeout_is_cut_off_and_the_process_exits() {
    let (held, mut arrived, _release) = held_upstream().await;
    let path = config("timeout", &held, "300ms");
    let mut proxy = ProxyProcess::start(&path);
    let url = proxy.url.clone();
    let in_flight = tokio::spawn(async move {
        reqwest::Client::new()
            .post(format!("{url}/v1/chat/completions"))
            .json(&serde_json::json!({"model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": "never answered"}]}))
            .send()
            .await
            .map(|r| r.status())
    });
    arrived
        .recv()
        .await
        .expect("the request reached the upstream");

    proxy.signal("TERM");
    assert_eq!(
        proxy.exit_code(BOUND).await,
        Some(0),
        "the drain is bounded: {:?}",
        proxy.log()
    );
    proxy.wait_for_log("drain timeout (300ms) reached").await;
    // The caller's connection went with the process: an error, never an answer.
    let cut = tokio::time::timeout(BOUND, in_flight)
        .await
        .expect("the caller was let go")
        .unwrap();
    assert!(cut.is_err(), "the held request got no answer: {cut:?}");
    remove(&path);
}
