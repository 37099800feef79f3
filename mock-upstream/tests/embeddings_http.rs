//! `POST /v1/embeddings` over real HTTP: the four input forms, float and base64, the API's
//! limits, TPM charged for the input alone, deterministic vectors, near copies closer than
//! unrelated texts, and the fault file's faults on this route too.

mod common;

use base64::Engine as _;
use common::{client, start, start_with};
use mock_upstream::server::MockOptions;
use serde_json::{json, Value};

async fn embed(url: &str, body: &Value) -> (u16, reqwest::header::HeaderMap, Value) {
    let r = client()
        .post(format!("{url}/v1/embeddings"))
        .bearer_auth("sk-test")
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.json().await.unwrap())
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn vectors(body: &Value) -> Vec<Vec<f32>> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| floats(&d["embedding"]))
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[tokio::test]
async fn every_input_form_gets_one_unit_vector_per_input() {
    let m = start("").await;
    let model = "text-embedding-3-small";
    for (input, n, tokens) in [
        (json!("hello world"), 1, 3),
        (json!(["one", "two", "three"]), 3, 1 + 1 + 2),
        (json!([101, 2023, 2003]), 1, 3),
        (json!([[1, 2], [3], [4, 5, 6]]), 3, 6),
    ] {
        let (status, _, b) = embed(&m.url, &json!({"model": model, "input": input})).await;
        assert_eq!(status, 200, "{input}: {b}");
        assert_eq!(b["object"], "list");
        assert_eq!(b["model"], model);
        assert_eq!(b["usage"]["prompt_tokens"], tokens, "{input}");
        assert_eq!(b["usage"]["total_tokens"], tokens, "{input}");
        let data = b["data"].as_array().unwrap();
        assert_eq!(data.len(), n, "{input}");
        for (i, d) in data.iter().enumerate() {
            assert_eq!(d["object"], "embedding");
            assert_eq!(d["index"], i);
            let v = floats(&d["embedding"]);
            assert_eq!(v.len(), 1536);
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-3, "{norm}");
        }
    }
    // `dimensions` shortens; the large model is longer.
    let (_, _, b) = embed(
        &m.url,
        &json!({"model": model, "input": "x", "dimensions": 256}),
    )
    .await;
    assert_eq!(vectors(&b)[0].len(), 256);
    let (_, _, b) = embed(
        &m.url,
        &json!({"model": "text-embedding-3-large", "input": "x"}),
    )
    .await;
    assert_eq!(vectors(&b)[0].len(), 3072);
}

#[tokio::test]
async fn base64_is_the_same_floats_in_little_endian_bytes() {
    let m = start("").await;
    let input = json!(["a first text", "and a second one"]);
    let (_, _, float) = embed(&m.url, &json!({"model": "m", "input": input})).await;
    let (status, _, b64) = embed(
        &m.url,
        &json!({"model": "m", "input": input, "encoding_format": "base64"}),
    )
    .await;
    assert_eq!(status, 200, "{b64}");
    for (i, want) in vectors(&float).iter().enumerate() {
        let text = b64["data"][i]["embedding"].as_str().unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap();
        let got: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        // JSON numbers are the shortest text that reads back as the same f32.
        assert_eq!(&got, want, "input {i}");
    }
}

#[tokio::test]
async fn vectors_depend_on_the_text_and_the_seed_only() {
    let body = json!({"model": "m", "input": ["same text", "other words entirely"]});
    let seeded = |seed| MockOptions {
        seed: Some(seed),
        ..MockOptions::default()
    };
    let a = start_with("", seeded(1)).await;
    let b = start_with("", seeded(1)).await;
    let c = start_with("", seeded(2)).await;
    let (_, _, first) = embed(&a.url, &body).await;
    let (_, _, again) = embed(&a.url, &body).await;
    let (_, _, twin) = embed(&b.url, &body).await;
    let (_, _, other) = embed(&c.url, &body).await;
    assert_eq!(vectors(&first), vectors(&again));
    assert_eq!(vectors(&first), vectors(&twin));
    assert_ne!(vectors(&first), vectors(&other));
}

#[tokio::test]
async fn near_copies_are_closer_than_unrelated_texts() {
    let m = start("").await;
    let (_, _, b) = embed(
        &m.url,
        &json!({"model": "text-embedding-3-small", "input": [
            "How do I reset my password?",
            "how do I reset my password",
            "How can I reset the password?",
            "The orchestra played a symphony by Brahms",
        ]}),
    )
    .await;
    let v = vectors(&b);
    let unrelated = cosine(&v[0], &v[3]);
    assert!(cosine(&v[0], &v[1]) > 0.95, "case and punctuation");
    assert!(cosine(&v[0], &v[2]) > unrelated + 0.3, "words changed");
    assert!(unrelated < 0.3, "{unrelated}");
}

#[tokio::test]
async fn bad_requests_get_400_naming_the_field() {
    let m = start("").await;
    let many: Vec<&str> = vec!["x"; 2049];
    for (body, param, says) in [
        (
            json!({"model": "m", "input": ""}),
            "input",
            "must not be empty",
        ),
        (
            json!({"model": "m", "input": many}),
            "input",
            "maximum length 2048",
        ),
        (
            json!({"model": "m", "input": ["a", 1]}),
            "input",
            "must all be",
        ),
        (
            json!({"model": "m", "input": "a".repeat(40_000)}),
            "input",
            "8192 tokens",
        ),
        (
            json!({"model": "m", "input": "x", "encoding_format": "hex"}),
            "encoding_format",
            "unknown variant",
        ),
        (
            json!({"model": "text-embedding-ada-002", "input": "x", "dimensions": 64}),
            "dimensions",
            "does not support",
        ),
        (json!({"input": "x"}), ".", "missing field `model`"),
    ] {
        let (status, _, b) = embed(&m.url, &body).await;
        assert_eq!(status, 400, "{body}: {b}");
        assert_eq!(b["error"]["type"], "invalid_request_error");
        if param != "." {
            assert_eq!(b["error"]["param"], param, "{b}");
        }
        let message = b["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{body}: {message}");
    }
    // Refused before the engine: nothing was counted against the key.
    assert!(m.state.key_usage().is_empty());
}

#[tokio::test]
async fn tpm_counts_the_input_and_no_completion() {
    let m = start("[limits]\ntokens_per_minute = 1000").await;
    // Exactly the limit: it fits only because nothing is charged for a completion.
    let (status, h, b) = embed(&m.url, &json!({"model": "m", "input": "abcd".repeat(1000)})).await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(h["x-ratelimit-limit-tokens"], "1000");
    assert_eq!(h["x-ratelimit-remaining-tokens"], "0");
    let usage = &m.state.key_usage()[0];
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (1000, 0));
    // A big input over what is left: 429 on tokens, naming what it asked for.
    let (status, h, b) = embed(&m.url, &json!({"model": "m", "input": "abcd".repeat(600)})).await;
    assert_eq!(status, 429, "{b}");
    assert_eq!(b["error"]["type"], "tokens");
    assert_eq!(b["error"]["code"], "rate_limit_exceeded");
    let message = b["error"]["message"].as_str().unwrap();
    assert!(message.contains("Requested 600"), "{message}");
    assert!(h.contains_key("retry-after"));
    assert_eq!(m.state.stats().by_fault["rate_limit_tokens"], 1);
}

#[tokio::test]
async fn the_fault_file_applies_to_embeddings() {
    let m = start(
        "models = [\"text-embedding-3-small\"]\n\
         [[failures]]\nkind = \"status\"\nstatus = 503\nprobability = 1.0",
    )
    .await;
    let (status, _, b) = embed(
        &m.url,
        &json!({"model": "text-embedding-3-small", "input": "x"}),
    )
    .await;
    assert_eq!(status, 503, "{b}");
    assert_eq!(b["error"]["type"], "server_error");
    let (status, _, b) = embed(
        &m.url,
        &json!({"model": "text-embedding-3-large", "input": "x"}),
    )
    .await;
    assert_eq!(status, 404, "{b}");
    assert_eq!(b["error"]["code"], "model_not_found");
    let stats = m.state.stats();
    assert_eq!(stats.by_fault["status"], 1);
    assert_eq!(stats.by_fault["model_not_found"], 1);
    assert_eq!(stats.by_route["/v1/embeddings"], 2);
}

#[tokio::test]
async fn the_timeline_can_deprecate_embeddings() {
    let m =
        start("[[timeline]]\nat = \"0s\"\nkind = \"deprecate\"\nroute = \"/v1/embeddings\"").await;
    let (status, _, b) = embed(&m.url, &json!({"model": "m", "input": "x"})).await;
    assert_eq!(status, 410, "{b}");
    assert_eq!(b["error"]["code"], "endpoint_deprecated");
    assert!(b["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("/v1/embeddings has been deprecated"));
}

#[tokio::test]
async fn a_truncated_answer_is_cut_json() {
    let m = start("[[failures]]\nkind = \"truncate\"\nprobability = 1.0").await;
    let r = client()
        .post(format!("{}/v1/embeddings", m.url))
        .json(&json!({"model": "m", "input": "cut me"}))
        .send()
        .await
        .unwrap();
    let body = r.bytes().await;
    // The connection closes half-way through the body: either the read fails or what
    // arrived is not JSON.
    if let Ok(bytes) = body {
        assert!(serde_json::from_slice::<Value>(&bytes).is_err());
        assert!(bytes.starts_with(b"{\"object\":\"list\""), "{bytes:?}");
    }
}
