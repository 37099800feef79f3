//! A streamed answer goes through the proxy chunk by chunk: the caller gets the upstream's first
//! chunk while the upstream still holds the rest back. Checked by ordering, not by time: the
//! test upstream sends its first chunk and then waits until the caller has that chunk through
//! the proxy before it sends the others. A proxy that buffered the stream would never hand the
//! chunk over (the test's bound, 30 s, turns that into a failure instead of a hang).

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use gauntlet::proxy::{ProxyConfig, RunningProxy};
use serde_json::json;
use tokio::sync::Notify;

/// How long the test waits for any one step before it calls the proxy stuck.
const STUCK: Duration = Duration::from_secs(30);

fn chunk(content: &str, finish: Option<&str>) -> String {
    let v = json!({"id": "chatcmpl-gated", "object": "chat.completion.chunk", "created": 1,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": content}, "finish_reason": finish}]});
    format!("data: {v}\n\n")
}

/// An upstream whose streamed chat answer sends `first`, then waits for `go` before the other
/// chunks and `[DONE]`.
async fn gated_upstream(go: Arc<Notify>) -> String {
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move || {
            let go = go.clone();
            async move {
                let frames = futures_util::stream::unfold(0u8, move |step| {
                    let go = go.clone();
                    async move {
                        let frame = match step {
                            0 => chunk("first", None),
                            1 => {
                                go.notified().await;
                                chunk(" second", None)
                            }
                            2 => chunk("", Some("stop")),
                            3 => "data: [DONE]\n\n".to_string(),
                            _ => return None,
                        };
                        Some((Ok::<_, std::convert::Infallible>(frame), step + 1))
                    }
                });
                Response::builder()
                    .header("content-type", "text/event-stream")
                    .body(Body::from_stream(frames))
                    .unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn the_first_chunk_reaches_the_caller_while_the_upstream_holds_the_rest() {
    let go = Arc::new(Notify::new());
    let upstream = gated_upstream(go.clone()).await;
    let text = format!("[proxy]\nlisten = \"127.0.0.1:0\"\nupstream = \"{upstream}\"\n");
    let p = RunningProxy::start(ProxyConfig::parse(&text, "proxy.toml").unwrap(), false).unwrap();
    let mut r = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", p.url))
        .bearer_auth("sk-caller")
        .json(&json!({"model": "gpt-4o-mini", "stream": true,
            "messages": [{"role": "user", "content": "stream me"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut got = String::new();
    while !got.contains("\"first\"") {
        let piece = tokio::time::timeout(STUCK, r.chunk())
            .await
            .expect("the first chunk did not come through while the upstream held the rest")
            .unwrap()
            .expect("the stream ended before its first chunk");
        got.push_str(std::str::from_utf8(&piece).unwrap());
    }
    assert!(
        !got.contains("second") && !got.contains("[DONE]"),
        "the upstream has not sent these yet: {got}"
    );
    // Only now may the upstream go on.
    go.notify_one();
    while let Some(piece) = tokio::time::timeout(STUCK, r.chunk())
        .await
        .expect("the rest came through")
        .unwrap()
    {
        got.push_str(std::str::from_utf8(&piece).unwrap());
    }
    assert!(got.contains("\" second\""), "{got}");
    assert!(got.trim_end().ends_with("data: [DONE]"), "{got}");
}
