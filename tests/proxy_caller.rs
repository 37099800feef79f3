//! `[proxy] caller = "<header>"`: who the caller is comes from that header, not from the body's
//! `user` field (every request here sends the same `user`, so keying on the body would merge
//! them). Checked where the stack uses it: the context layer's per-caller history, the limiter's
//! fair share, and the access line's `caller`.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::capture_upstream::capture_upstream;
use common::proxy_process::ProxyProcess;
use gauntlet::proxy::{ProxyConfig, RunningProxy};
use serde_json::{json, Value};

fn temp_config(test: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gauntlet-caller-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("proxy.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A chat request as `team` (the `x-team` header), with the same body `user` every time.
async fn ask(client: &reqwest::Client, url: &str, team: &str, text: &str) -> reqwest::Response {
    client
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth("sk-caller")
        .header("x-team", team)
        .json(&json!({"model": "gpt-4o-mini", "user": "same-body-user",
            "messages": [{"role": "user", "content": text}]}))
        .send()
        .await
        .unwrap()
}

/// The user turns of an upstream body, in order.
fn user_turns(body: &Value) -> Vec<String> {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "user")
        .map(|m| m["content"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_keys_the_context_history_and_the_access_line() {
    let (upstream, seen) = capture_upstream().await;
    let path = temp_config(
        "context",
        &format!(
            "[proxy]\nlisten = \"127.0.0.1:0\"\nupstream = \"{upstream}\"\ncaller = \"x-team\"\n\
             [client.context]\nmax_turns = 10\n"
        ),
    );
    let proxy = ProxyProcess::start(&path);
    let client = reqwest::Client::new();
    for (team, text) in [("a", "a one"), ("b", "b one"), ("a", "a two")] {
        assert_eq!(ask(&client, &proxy.url, team, text).await.status(), 200);
    }
    let bodies = seen.lock().unwrap().clone();
    assert_eq!(user_turns(&bodies[0]), ["a one"]);
    assert_eq!(
        user_turns(&bodies[1]),
        ["b one"],
        "another header value, another history, though the body's user is the same"
    );
    assert_eq!(
        user_turns(&bodies[2]),
        ["a one", "a two"],
        "the same header value carries its history"
    );
    let line = proxy.wait_for_log("\"caller\":\"b\"").await;
    assert!(
        line.contains("\"route\":\"/v1/chat/completions\""),
        "{line}"
    );
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

/// The limiter's queue depth as `/metrics` says.
async fn queue_depth(url: &str) -> f64 {
    let text = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("gauntlet_proxy_limiter_queue_depth "))
        .map_or(0.0, |v| v.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fair_share_by_the_header_lets_a_light_caller_overtake_a_heavy_backlog() {
    let (upstream, seen) = capture_upstream().await;
    let text = format!(
        "[proxy]\nlisten = \"127.0.0.1:0\"\nupstream = \"{upstream}\"\ncaller = \"x-team\"\n\
         [client.limiter]\nrate = \"2/s\"\nburst = 1\nmax_wait = \"30s\"\nfair_share = true\n"
    );
    let p = RunningProxy::start(ProxyConfig::parse(&text, "proxy.toml").unwrap(), false).unwrap();
    let client = reqwest::Client::new();
    let send = |team: &'static str, text: &'static str| {
        let (client, url) = (client.clone(), p.url.clone());
        tokio::spawn(async move { ask(&client, &url, team, text).await.status() })
    };
    // The heavy caller's first request takes the only permit; its next three queue.
    let mut calls = vec![send("heavy", "h0")];
    while seen.lock().unwrap().is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for text in ["h1", "h2", "h3"] {
        calls.push(send("heavy", text));
    }
    while queue_depth(&p.url).await < 3.0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    calls.push(send("light", "l1"));
    for call in calls {
        assert_eq!(call.await.unwrap(), 200);
    }
    let order: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|b| user_turns(b).concat())
        .collect();
    let light = order.iter().position(|t| t == "l1").unwrap();
    assert!(
        light < 4,
        "the light caller's one request went ahead of the heavy backlog's last: {order:?}"
    );
}
