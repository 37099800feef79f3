//! Starts a mock on 127.0.0.1 at a free port for one test.
#![allow(dead_code)]

use mock_upstream::faults::parse_toml;
use mock_upstream::server::{router, serve, MockOptions, MockState};

/// A running mock: its base URL and state; stops when dropped.
pub struct Running {
    pub url: String,
    pub state: MockState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

pub async fn start(toml: &str) -> Running {
    start_with(toml, MockOptions::default()).await
}

pub async fn start_with(toml: &str, options: MockOptions) -> Running {
    let config = parse_toml(toml, "test.toml").expect("test config is valid");
    let state = MockState::new(config, options);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel();
    let app = router(state.clone());
    tokio::spawn(async move {
        let _ = serve(listener, app, async {
            let _ = rx.await;
        })
        .await;
    });
    Running {
        url,
        state,
        stop: Some(tx),
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap()
}

pub fn chat_body(prompt: &str) -> serde_json::Value {
    serde_json::json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": prompt}]
    })
}

pub async fn chat(
    c: &reqwest::Client,
    url: &str,
    key: &str,
    prompt: &str,
) -> reqwest::Result<reqwest::Response> {
    c.post(format!("{url}/v1/chat/completions"))
        .bearer_auth(key)
        .json(&chat_body(prompt))
        .send()
        .await
}
