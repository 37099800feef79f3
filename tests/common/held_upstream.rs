//! An upstream on 127.0.0.1 that tells the test when a chat request has arrived and answers it
//! only when told: a request held in flight for as long as a test needs (reloads, drains).

use std::sync::Arc;

use axum::routing::post;
use tokio::sync::{mpsc, Notify};

/// An upstream that tells the test when a request has arrived and answers it only when told.
pub async fn held_upstream() -> (String, mpsc::Receiver<()>, Arc<Notify>) {
    let (arrived_tx, arrived) = mpsc::channel(8);
    let release = Arc::new(Notify::new());
    let gate = release.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move || {
            let (arrived_tx, gate) = (arrived_tx.clone(), gate.clone());
            async move {
                let _ = arrived_tx.send(()).await;
                gate.notified().await;
                axum::Json(serde_json::json!({
                    "id": "chatcmpl-held", "object": "chat.completion", "created": 0,
                    "model": "gpt-4o-mini",
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": "from the old upstream"}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 4, "total_tokens": 5}
                }))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, arrived, release)
}
