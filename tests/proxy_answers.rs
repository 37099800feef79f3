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

fn vectors(v: &Value) -> Vec<Vec<f64>> {
    let data = v["data"].as_array().unwrap_or_else(|| panic!("{v}"));
    data.iter()
        .enumerate()
        .map(|(i, e)| {
            assert_eq!(e["index"], i, "{v}");
            e["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect()
}

fn close(a: &[Vec<f64>], b: &[Vec<f64>]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.len() == y.len() && x.iter().zip(y).all(|(p, q)| (p - q).abs() < 1e-6))
}

#[tokio::test]
async fn several_embeddings_inputs_in_one_request_come_back_in_order_and_cache_as_one() {
    let m = common::mock("").await;
    let p = proxy(&m.url, "[client.cache]\nttl = \"5m\"");
    let url = format!("{}/v1/embeddings", p.url);
    let body = |input: Value| json!({"model": "text-embedding-3-small", "input": input, "encoding_format": "float"});
    let three = body(json!(["alpha", "beta", "gamma"]));
    let r = post(&url, &three).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-gauntlet-outcome"], "upstream");
    let through = vectors(&r.json().await.unwrap());
    assert_eq!(through.len(), 3);
    // Each vector is the one the mock gives that input alone, in the caller's order.
    for (i, text) in ["alpha", "beta", "gamma"].into_iter().enumerate() {
        let alone: Value = post(&format!("{}/v1/embeddings", m.url), &body(json!(text)))
            .await
            .json()
            .await
            .unwrap();
        assert!(close(&vectors(&alone), &through[i..=i]), "input {i}");
    }
    let upstream = |m: &mock_upstream::server::RunningMock| {
        m.state
            .stats()
            .by_route
            .get("/v1/embeddings")
            .copied()
            .unwrap_or(0)
    };
    assert_eq!(upstream(&m), 1 + 3);

    let r = post(&url, &three).await;
    assert_eq!(r.headers()["x-gauntlet-outcome"], "cache_hit");
    assert!(close(&vectors(&r.json().await.unwrap()), &through));
    let r = post(&url, &body(json!(["alpha", "beta"]))).await;
    assert_eq!(
        r.headers()["x-gauntlet-outcome"],
        "upstream",
        "another list"
    );
    assert_eq!(vectors(&r.json().await.unwrap()).len(), 2);
    assert_eq!(upstream(&m), 1 + 3 + 1);

    let r = post(&url, &body(json!(["alpha", 7]))).await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["param"], "input");
}

#[tokio::test]
async fn bodies_that_differ_only_in_unmodelled_fields_do_not_share_a_cached_answer() {
    let (upstream, seen) = common::capture_upstream::capture_upstream().await;
    let p = proxy(&upstream, "[client.cache]\nttl = \"5m\"");
    let url = format!("{}/v1/chat/completions", p.url);
    let tool = json!([{"type": "function", "function": {"name": "weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
    let variants = [
        ("plain", chat_body("same words", false)),
        ("top_p", {
            let mut b = chat_body("same words", false);
            b["top_p"] = json!(0.1);
            b
        }),
        ("tools", {
            let mut b = chat_body("same words", false);
            b["tools"] = tool;
            b
        }),
        (
            "an image part",
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "same words"},
            {"type": "image_url", "image_url": {"url": "https://example.invalid/a.png"}}]}]}),
        ),
    ];
    let mut answers = Vec::new();
    for (what, body) in &variants {
        let r = post(&url, body).await;
        assert_eq!(r.status(), 200, "{what}");
        assert_eq!(r.headers()["x-gauntlet-outcome"], "upstream", "{what}");
        let v: Value = r.json().await.unwrap();
        answers.push(v["choices"][0]["message"]["content"].clone());
    }
    assert_eq!(seen.lock().unwrap().len(), variants.len());
    assert_eq!(seen.lock().unwrap()[1]["top_p"], 0.1);
    // The same body again, from another user: the cached answer of its own.
    for (i, (what, body)) in variants.iter().enumerate() {
        let mut again = body.clone();
        again["user"] = json!("someone else");
        let r = post(&url, &again).await;
        assert_eq!(r.headers()["x-gauntlet-outcome"], "cache_hit", "{what}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["choices"][0]["message"]["content"], answers[i], "{what}");
    }
    assert_eq!(seen.lock().unwrap().len(), variants.len());
}
