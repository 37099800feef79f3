//! What the caller gets back through `gauntlet proxy`, beyond the plain path of
//! `tests/proxy_http.rs`: a fallback answer marked as one, and what reaches the upstream (and how
//! often) when bodies differ in fields the stack does not model.

mod common;

use gauntlet::proxy::{ProxyConfig, RunningProxy};
use serde_json::{json, Value};

/// A proxy in front of `upstream` with `client` tables.
fn proxy(upstream: &str, client: &str) -> RunningProxy {
    let text = format!("{client}\n[proxy]\nlisten = \"127.0.0.1:0\"\nupstream = \"{upstream}\"\n");
    RunningProxy::start(ProxyConfig::parse(&text, "proxy.toml").unwrap(), false).unwrap()
}

async fn post(url: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .bearer_auth("sk-caller")
        .json(body)
        .send()
        .await
        .unwrap()
}

fn chat_body(text: &str, stream: bool) -> Value {
    json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], "stream": stream})
}

/// The content deltas of a chat stream, joined.
fn streamed_text(sse: &str) -> String {
    sse.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(String::from)
        })
        .collect()
}

#[tokio::test]
async fn a_fallback_answer_carries_x_gauntlet_fallback_and_an_upstream_one_does_not() {
    let down = common::mock("[[timeline]]\nat = \"0s\"\nkind = \"outage\"\nstatus = 503").await;
    let fallback = "[client.fallback]\norder = [\"local\"]\nlocal_answer = \"busy, try later\"";
    let p = proxy(&down.url, fallback);
    let url = format!("{}/v1/chat/completions", p.url);

    let r = post(&url, &chat_body("q", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-gauntlet-fallback"], "true");
    assert_eq!(r.headers()["x-gauntlet-outcome"], "fallback");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "busy, try later");

    let r = post(&url, &chat_body("q", true)).await;
    assert_eq!(r.headers()["x-gauntlet-fallback"], "true");
    let text = r.text().await.unwrap();
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    assert_eq!(
        streamed_text(&text),
        "busy, try later",
        "a fallback to a streamed request is replayed as one"
    );
    assert_eq!(common::status_count(&down, "503"), 2);

    let up = common::mock("").await;
    let p = proxy(&up.url, fallback);
    let r = post(
        &format!("{}/v1/chat/completions", p.url),
        &chat_body("q", false),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-gauntlet-outcome"], "upstream");
    assert!(r.headers().get("x-gauntlet-fallback").is_none());
}
