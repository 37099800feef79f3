//! SIGHUP reloads the config of a real `gauntlet proxy` process (started on port 0): after the
//! file is rewritten and the signal sent, new requests see the new limits; a request in flight
//! finishes on the stack it started on; a broken file is refused with a logged error naming it,
//! and the running stack, with its state, keeps serving.

mod common;

use std::path::{Path, PathBuf};

use common::held_upstream::held_upstream;
use common::proxy_process::{chat, ProxyProcess};
use common::scrape::{sample, scrape};

fn write_config(path: &Path, upstream: &str, burst: u32) {
    let text = format!(
        "[proxy]\nlisten = \"127.0.0.1:0\"\nupstream = \"{upstream}\"\n\n\
         [client.limiter]\nrate = \"1/m\"\nburst = {burst}\nmax_wait = \"0s\"\n"
    );
    std::fs::write(path, text).unwrap();
}

/// Statuses of `n` distinct chat requests, one after another.
async fn statuses(client: &reqwest::Client, url: &str, tag: &str, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push(chat(client, url, &format!("{tag} {i}")).await.0);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_applies_new_limits_and_refuses_a_broken_file() {
    let mock = common::mock("[reply]\ntokens = { distribution = \"fixed\", value = 5 }\n").await;
    let dir = TempDir::new("sighup_applies_new_limits");
    let path = dir.0.join("proxy.toml");
    write_config(&path, &mock.url, 1);
    let proxy = ProxyProcess::start(&path);
    let client = reqwest::Client::new();
    // Burst 1, then one a minute: the second is refused by the proxy's limiter.
    assert_eq!(statuses(&client, &proxy.url, "before", 2).await, [200, 429]);

    write_config(&path, &mock.url, 5);
    proxy.signal("HUP");
    proxy.wait_for_log("config reloaded").await;
    // A new stack, a new bucket of 5: two of them now.
    assert_eq!(statuses(&client, &proxy.url, "after", 2).await, [200, 200]);

    std::fs::write(
        &path,
        "[proxy]\nupstream = \"http://127.0.0.1:1\"\n[client.limiter]\nrate = \"fast\"\n",
    )
    .unwrap();
    proxy.signal("HUP");
    let refused = proxy.wait_for_log("reload refused").await;
    assert!(refused.contains("proxy.toml:4:"), "{refused}");
    // The running stack kept its state: the 3 permits left of its 5, then a refusal (a fresh
    // stack from any file would have had a full bucket; the broken one's upstream is dead).
    assert_eq!(
        statuses(&client, &proxy.url, "kept", 4).await,
        [200, 200, 200, 429]
    );
    assert_eq!(mock.state.stats().requests, 1 + 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_flight_finishes_on_the_old_stack() {
    let (held, mut arrived, release) = held_upstream().await;
    let mock = common::mock("[reply]\ntokens = { distribution = \"fixed\", value = 5 }\n").await;
    let dir = TempDir::new("in_flight_finishes_on_the_old_stack");
    let path = dir.0.join("proxy.toml");
    write_config(&path, &held, 10);
    let proxy = ProxyProcess::start(&path);
    let client = reqwest::Client::new();
    let url = proxy.url.clone();
    let c = client.clone();
    let in_flight = tokio::spawn(async move { chat(&c, &url, "slow question").await });
    arrived
        .recv()
        .await
        .expect("the request reached the old upstream");

    // The new config sends to the mock; the request above is still held by the old upstream.
    write_config(&path, &mock.url, 10);
    proxy.signal("HUP");
    proxy.wait_for_log("config reloaded").await;
    let (status, body) = chat(&client, &proxy.url, "new question").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        mock.state.stats().requests,
        1,
        "a new request used the new stack"
    );
    assert!(!in_flight.is_finished());

    release.notify_one();
    let (status, body) = in_flight.await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "from the old upstream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_keeps_the_command_lines_upstream_and_the_counters() {
    let mock = common::mock("[reply]\ntokens = { distribution = \"fixed\", value = 5 }\n").await;
    let dir = TempDir::new("reload_keeps_command_line");
    let path = dir.0.join("proxy.toml");
    // The file's upstream is dead: only `--upstream` reaches the mock.
    write_config(&path, "http://127.0.0.1:1", 5);
    let proxy = ProxyProcess::start_with(&path, &["--upstream", &mock.url]);
    let client = reqwest::Client::new();
    assert_eq!(statuses(&client, &proxy.url, "before", 2).await, [200, 200]);

    write_config(&path, "http://127.0.0.1:1", 6);
    proxy.signal("HUP");
    proxy.wait_for_log("config reloaded").await;
    assert_eq!(statuses(&client, &proxy.url, "after", 2).await, [200, 200]);
    assert_eq!(mock.state.stats().requests, 4, "all four reached the mock");

    let text = scrape(&proxy.url).await;
    let series =
        "gauntlet_proxy_requests_total{route=\"/v1/chat/completions\",outcome=\"upstream\"}";
    assert_eq!(sample(&text, series), 4.0, "counted across the reload");
    assert_eq!(sample(&text, "gauntlet_proxy_upstream_attempts_total"), 4.0);
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
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
