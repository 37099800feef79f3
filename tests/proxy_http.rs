//! `gauntlet proxy` end to end over real HTTP: a caller -> the proxy -> the mock (or a test
//! upstream), both on 127.0.0.1 port 0, checked from the caller's side and the mock's stats.

mod common;

use std::sync::{Arc, Mutex};

use gauntlet::proxy::{ProxyConfig, RunningProxy};
use serde_json::{json, Value};

/// A proxy in front of `upstream` with `client` tables.
fn proxy(upstream: &str, client: &str) -> RunningProxy {
    let text = format!("{client}\n[proxy]\nlisten = \"127.0.0.1:0\"\nupstream = \"{upstream}\"\n");
    let config = ProxyConfig::parse(&text, "proxy.toml").expect("valid proxy config");
    RunningProxy::start(config, false).expect("proxy starts")
}

fn chat_body(text: &str, stream: bool) -> Value {
    json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], "stream": stream})
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

fn chat_requests(m: &mock_upstream::server::RunningMock) -> u64 {
    m.state
        .stats()
        .by_route
        .get("/v1/chat/completions")
        .copied()
        .unwrap_or(0)
}

#[tokio::test]
async fn plain_chat_goes_through_the_stack_with_the_headers_the_caller_needs() {
    let m = common::mock("").await;
    let p = proxy(&m.url, "");
    let r = post(
        &format!("{}/v1/chat/completions", p.url),
        &chat_body("hello", false),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-gauntlet-attempts"], "1");
    assert!(r.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .starts_with("req_"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert!(!v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .is_empty());
    assert_eq!(chat_requests(&m), 1);
}

#[tokio::test]
async fn a_streamed_chat_arrives_as_several_frames_and_ends_with_done() {
    let m = common::mock(
        "[reply]\ntokens = { distribution = \"fixed\", value = 8 }\n[stream]\nper_token = \"5ms\"",
    )
    .await;
    let p = proxy(&m.url, "");
    let mut r = post(
        &format!("{}/v1/chat/completions", p.url),
        &chat_body("stream me", true),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut frames = Vec::new();
    while let Some(chunk) = r.chunk().await.unwrap() {
        frames.push(String::from_utf8(chunk.to_vec()).unwrap());
    }
    assert!(frames.len() > 3, "{} frames: {frames:?}", frames.len());
    let all = frames.concat();
    assert!(all.trim_end().ends_with("data: [DONE]"), "{all}");
    assert!(all.matches("chat.completion.chunk").count() >= 8, "{all}");
}

#[tokio::test]
async fn responses_embeddings_and_models_pass_through() {
    let m = common::mock("").await;
    let p = proxy(&m.url, "");
    let r = post(
        &format!("{}/v1/responses", p.url),
        &json!({"model": "gpt-4o-mini", "input": "hi"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["object"], "response");
    let r = post(
        &format!("{}/v1/responses", p.url),
        &json!({"model": "gpt-4o-mini", "input": "hi", "stream": true}),
    )
    .await;
    let text = r.text().await.unwrap();
    assert!(text.contains("event: response.completed"), "{text}");
    let r = post(
        &format!("{}/v1/embeddings", p.url),
        &json!({"model": "text-embedding-3-small", "input": "hi"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["data"][0]["object"], "embedding");
    let models: Value = reqwest::get(format!("{}/v1/models", p.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let direct: Value = reqwest::get(format!("{}/v1/models", m.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models, direct);
    let id = models["data"][0]["id"].as_str().unwrap();
    let one = reqwest::get(format!("{}/v1/models/{id}", p.url))
        .await
        .unwrap();
    assert_eq!(one.status(), 200);
}

#[tokio::test]
async fn a_cached_answer_never_reaches_the_mock_and_a_cached_stream_replays_as_sse() {
    let m = common::mock("").await;
    let p = proxy(&m.url, "[client.cache]\nttl = \"5m\"");
    let url = format!("{}/v1/chat/completions", p.url);
    let first: Value = post(&url, &chat_body("same question", false))
        .await
        .json()
        .await
        .unwrap();
    let r = post(&url, &chat_body("same question", false)).await;
    assert_eq!(r.headers()["x-gauntlet-outcome"], "cache_hit");
    assert_eq!(r.headers()["x-gauntlet-attempts"], "0");
    let again: Value = r.json().await.unwrap();
    assert_eq!(
        again["choices"][0]["message"]["content"],
        first["choices"][0]["message"]["content"]
    );
    let r = post(&url, &chat_body("same question", true)).await;
    let text = r.text().await.unwrap();
    assert!(
        text.contains("chat.completion.chunk") && text.trim_end().ends_with("data: [DONE]"),
        "{text}"
    );
    assert_eq!(
        chat_requests(&m),
        1,
        "only the first request reached the mock"
    );
}

#[tokio::test]
async fn a_full_limiter_is_a_429_with_retry_after_and_the_mock_sees_the_pacing() {
    let m = common::mock("").await;
    let p = proxy(
        &m.url,
        "[client.limiter]\nrate = \"1/m\"\nburst = 1\nmax_wait = \"0s\"",
    );
    let url = format!("{}/v1/chat/completions", p.url);
    assert_eq!(post(&url, &chat_body("a", false)).await.status(), 200);
    let r = post(&url, &chat_body("b", false)).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "60");
    assert_eq!(r.headers()["retry-after-ms"], "60000");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
    assert_eq!(
        chat_requests(&m),
        1,
        "the refused request never reached the mock"
    );
}

#[tokio::test]
async fn an_outage_answers_the_upstreams_status_then_the_breakers_503() {
    let m = common::mock("[[timeline]]\nat = \"0s\"\nkind = \"outage\"\nstatus = 503").await;
    let p = proxy(&m.url, "[client.breaker]\nfailure_ratio = 0.5\nwindow = \"30s\"\nmin_calls = 2\nopen_for = \"30s\"");
    let url = format!("{}/v1/chat/completions", p.url);
    for _ in 0..2 {
        let r = post(&url, &chat_body("q", false)).await;
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["x-gauntlet-outcome"], "server_error");
    }
    let r = post(&url, &chat_body("q", false)).await;
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["x-gauntlet-outcome"], "rejected_breaker_open");
    assert_eq!(r.headers()["retry-after"], "30");
    assert_eq!(chat_requests(&m), 2);
}

#[tokio::test]
async fn a_stream_cut_short_ends_the_callers_stream_with_an_error_event() {
    let m = common::mock("[reply]\ntokens = { distribution = \"fixed\", value = 10 }\n[[failures]]\nkind = \"unfinished\"\nprobability = 1.0").await;
    let p = proxy(&m.url, "[client.retry]\nmax_attempts = 3");
    let text = post(
        &format!("{}/v1/chat/completions", p.url),
        &chat_body("q", true),
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(text.contains("chat.completion.chunk"), "{text}");
    let last = text.trim_end().rsplit("\n\n").next().unwrap();
    assert!(last.starts_with("data: {\"error\""), "{text}");
    assert!(!text.contains("data: [DONE]"));
    assert_eq!(
        chat_requests(&m),
        1,
        "a stream the caller saw is not retried"
    );
}

#[tokio::test]
async fn fields_the_stack_does_not_model_reach_the_upstream() {
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
            log.lock().unwrap().push(v);
            async {
                axum::Json(json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
                    "system_fingerprint": "fp_test",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop", "logprobs": null}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let p = proxy(&format!("http://{addr}"), "");
    let mut body = chat_body("q", false);
    body["top_p"] = json!(0.25);
    body["logprobs"] = json!(true);
    body["metadata"] = json!({"team": "a"});
    body["user"] = json!("u-7");
    let r = post(&format!("{}/v1/chat/completions", p.url), &body).await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["system_fingerprint"], "fp_test",
        "the upstream's own body reaches the caller"
    );
    let got = seen.lock().unwrap()[0].clone();
    for key in ["top_p", "logprobs", "metadata", "user", "messages", "model"] {
        assert_eq!(got[key], body[key], "{key}");
    }
}

#[tokio::test]
async fn bad_bodies_are_400_naming_the_field_and_big_ones_413() {
    let m = common::mock("").await;
    let text = format!(
        "[proxy]\nlisten = \"127.0.0.1:0\"\nupstream = \"{}\"\nmax_body_bytes = 1000\n",
        m.url
    );
    let p = RunningProxy::start(ProxyConfig::parse(&text, "p.toml").unwrap(), false).unwrap();
    let url = format!("{}/v1/chat/completions", p.url);
    let r = post(&url, &json!({"model": "m", "messages": "no"})).await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["param"], "messages");
    let r = post(&url, &chat_body(&"x".repeat(2000), false)).await;
    assert_eq!(r.status(), 413);
    assert_eq!(chat_requests(&m), 0);
}

#[test]
fn config_errors_exit_2_at_line_and_column_and_remote_needs_allow_remote() {
    let dir = std::env::temp_dir().join(format!("gauntlet-proxy-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[proxy]\nupstream = \"http://127.0.0.1:9\"\ncolour = 1\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(["proxy", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:3:1"), "{err}");
    let ok = dir.join("ok.toml");
    std::fs::write(&ok, "[proxy]\nupstream = \"http://127.0.0.1:9\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(["proxy", ok.to_str().unwrap(), "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-remote"));
}
