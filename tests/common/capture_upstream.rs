//! An upstream on 127.0.0.1 that keeps every JSON body it is sent, in arrival order, and answers
//! chat completions with a fixed answer naming the call (`answer N`) and embeddings with one
//! vector per input: what reached the upstream, and how often, is then the test's to read.

use std::sync::{Arc, Mutex};

use axum::routing::post;
use axum::Json;
use serde_json::{json, Value};

/// The bodies the upstream was sent, oldest first.
pub type Seen = Arc<Mutex<Vec<Value>>>;

/// Starts the upstream; its `http://` URL and what it is sent.
pub async fn capture_upstream() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let (chat_log, embed_log) = (seen.clone(), seen.clone());
    let app = axum::Router::new()
        .route(
            "/v1/chat/completions",
            post(move |Json(v): Json<Value>| async move {
                let n = {
                    let mut log = chat_log.lock().unwrap();
                    log.push(v);
                    log.len()
                };
                Json(json!({"id": format!("chatcmpl-{n}"), "object": "chat.completion",
                    "created": 1, "model": "gpt-4o-mini",
                    "choices": [{"index": 0, "finish_reason": "stop", "logprobs": null,
                                 "message": {"role": "assistant", "content": format!("answer {n}")}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}}))
            }),
        )
        .route(
            "/v1/embeddings",
            post(move |Json(v): Json<Value>| async move {
                let inputs = match &v["input"] {
                    Value::Array(items) => items.len(),
                    _ => 1,
                };
                embed_log.lock().unwrap().push(v);
                let data: Vec<Value> = (0..inputs)
                    .map(|i| json!({"object": "embedding", "index": i,
                        "embedding": [i as f64, 0.5, -0.25]}))
                    .collect();
                Json(json!({"object": "list", "data": data, "model": "text-embedding-3-small",
                    "usage": {"prompt_tokens": inputs, "total_tokens": inputs}}))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}
