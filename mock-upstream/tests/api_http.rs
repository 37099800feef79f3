//! The OpenAI API surface over real HTTP: streams, bad input, models, determinism.

mod common;

use common::{chat, client, start, start_with};
use gauntlet_wire::openai::{ChatCompletion, ChatCompletionChunk};
use mock_upstream::server::MockOptions;
use serde_json::{json, Value};

/// Reads an SSE body as OpenAI's clients do: `data: ` lines separated by blank lines.
fn parse_sse(text: &str) -> (Vec<ChatCompletionChunk>, bool) {
    let mut chunks = Vec::new();
    let mut done = false;
    for event in text.split("\n\n").filter(|e| !e.is_empty()) {
        let data = event
            .strip_prefix("data: ")
            .expect("every event is a data line");
        if data == "[DONE]" {
            done = true;
        } else {
            assert!(!done, "nothing follows [DONE]");
            chunks.push(serde_json::from_str(data).expect("each chunk is JSON"));
        }
    }
    (chunks, done)
}

#[tokio::test]
async fn stream_is_openai_sse_and_matches_the_json_answer() {
    let m = start("[stream]\ntime_to_first_token = \"50ms\"\nper_token = \"1ms\"").await;
    let c = client();
    let body = json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "tell me"}],
        "stream": true,
        "stream_options": {"include_usage": true}
    });
    let r = c
        .post(format!("{}/v1/chat/completions", m.url))
        .bearer_auth("k")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let (chunks, done) = parse_sse(&r.text().await.unwrap());
    assert!(done);
    assert_eq!(
        chunks[0].choices[0].delta.role.as_deref(),
        Some("assistant")
    );
    assert!(chunks
        .iter()
        .all(|c| c.object == "chat.completion.chunk" && c.id == chunks[0].id));
    let text: String = chunks
        .iter()
        .filter_map(|c| c.choices.first()?.delta.content.clone())
        .collect();
    let finish: Vec<_> = chunks
        .iter()
        .filter_map(|c| c.choices.first()?.finish_reason.clone())
        .collect();
    assert_eq!(finish, ["stop"]);
    let usage = chunks.last().unwrap().usage.expect("usage chunk last");
    assert!(chunks.last().unwrap().choices.is_empty());
    assert_eq!(usage.completion_tokens as usize, text.len().div_ceil(4));

    // The same prompt without streaming gives the same text.
    let r = chat(&c, &m.url, "k", "tell me").await.unwrap();
    let full: ChatCompletion = r.json().await.unwrap();
    assert_eq!(full.choices[0].message.text(), text);
    assert_eq!(full.usage, usage);
}

#[tokio::test]
async fn truncated_stream_never_reaches_done() {
    let m = start("[[failures]]\nkind = \"truncate\"\nprobability = 1.0").await;
    let body =
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": true});
    let r = client()
        .post(format!("{}/v1/chat/completions", m.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.bytes().await.is_err(),
        "the stream breaks off with an error"
    );
}

#[tokio::test]
async fn max_tokens_cuts_with_length() {
    let m = start("[reply]\ntokens = { distribution = \"fixed\", value = 50 }").await;
    let body =
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 5});
    let r = client()
        .post(format!("{}/v1/chat/completions", m.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    let full: ChatCompletion = r.json().await.unwrap();
    assert_eq!(full.choices[0].finish_reason.as_deref(), Some("length"));
    assert_eq!(full.usage.completion_tokens, 5);
}

#[tokio::test]
async fn bad_input_gets_json_errors() {
    let m = start("max_body_bytes = 1024").await;
    let c = client();
    let url = format!("{}/v1/chat/completions", m.url);

    let r = c
        .post(&url)
        .body("{not json")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["type"], "invalid_request_error");

    let r = c
        .post(&url)
        .json(&json!({"messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert!(
        b["error"]["message"].as_str().unwrap().contains("model"),
        "{b}"
    );

    let r = c
        .post(&url)
        .json(&json!({"model": "m", "messages": [], "max_tokens": "ten"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["param"], "max_tokens");

    let r = c
        .post(&url)
        .json(&json!({"model": "m", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["param"], "messages");

    let big = "x".repeat(2048);
    let r = c
        .post(&url)
        .json(&json!({"model": "m", "messages": [{"role": "user", "content": big}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["code"], "request_too_large");

    let r = c.get(format!("{}/v2/nothing", m.url)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let b: Value = r.json().await.unwrap();
    assert!(b["error"]["message"]
        .as_str()
        .unwrap()
        .contains("/v2/nothing"));

    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 405);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn models_are_listed() {
    let m = start("models = [\"free-model\"]").await;
    let b: Value = client()
        .get(format!("{}/v1/models", m.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(b["object"], "list");
    assert_eq!(b["data"][0]["id"], "free-model");
}

#[tokio::test]
async fn same_seed_same_decisions_over_http() {
    let toml = "[latency]\ndistribution = \"uniform\"\nmin = \"0ms\"\nmax = \"5ms\"\n\
                [[failures]]\nkind = \"status\"\nstatus = 500\nprobability = 0.3\n\
                [[failures]]\nkind = \"malformed\"\nprobability = 0.1";
    let run = |seed: u64| async move {
        let m = start_with(
            toml,
            MockOptions {
                seed: Some(seed),
                ..MockOptions::default()
            },
        )
        .await;
        let c = client();
        let mut seen = Vec::new();
        for i in 0..60 {
            let r = chat(&c, &m.url, "k", &format!("prompt {}", i % 7))
                .await
                .unwrap();
            let status = r.status().as_u16();
            let ms = r.headers()["openai-processing-ms"]
                .to_str()
                .unwrap()
                .to_string();
            let text = r.text().await.unwrap();
            seen.push((status, text.len(), ms.is_empty()));
            let _ = text;
        }
        seen
    };
    let a = run(42).await;
    let b = run(42).await;
    let c = run(43).await;
    assert_eq!(a, b);
    assert_ne!(a, c);
}
