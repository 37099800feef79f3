//! Starts a mock on 127.0.0.1 at a free port for one test.
#![allow(dead_code)]

use mock_upstream::faults::parse_toml;
use mock_upstream::server::{MockOptions, RunningMock};

pub async fn start(toml: &str) -> RunningMock {
    start_with(toml, MockOptions::default()).await
}

pub async fn start_with(toml: &str, options: MockOptions) -> RunningMock {
    let config = parse_toml(toml, "test.toml").expect("test config is valid");
    RunningMock::start_local(config, options).await.unwrap()
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
