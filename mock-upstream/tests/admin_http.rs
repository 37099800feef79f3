//! `/_mock/*` control and observation, and `/metrics`, over real HTTP.

mod common;

use common::{chat, client, start, start_with};
use mock_upstream::server::MockOptions;
use serde_json::{json, Value};

#[tokio::test]
async fn stats_count_routes_statuses_faults_and_retries() {
    let m = start("[limits]\nrequests_per_minute = 2\nrequests_per_day = 100").await;
    let c = client();
    for retry in 0..3 {
        c.post(format!("{}/v1/chat/completions", m.url))
            .bearer_auth("sk-a")
            .header("x-stainless-retry-count", retry.to_string())
            .json(&common::chat_body("x"))
            .send()
            .await
            .unwrap();
    }
    let s: Value = c
        .get(format!("{}/_mock/stats", m.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["requests"], 3);
    assert_eq!(s["by_route"]["/v1/chat/completions"], 3);
    assert_eq!(s["by_status"]["200"], 2);
    assert_eq!(s["by_status"]["429"], 1);
    assert_eq!(s["by_fault"]["rate_limit_requests"], 1);
    assert_eq!(s["by_retry_count"]["0"], 1);
    assert_eq!(s["by_retry_count"]["2"], 1);
    assert_eq!(s["keys"][0]["key"], "sk-a");
    assert_eq!(s["keys"][0]["requests"], 2);
    assert_eq!(s["keys"][0]["quota_limit"], 100);
    assert!((s["keys"][0]["quota_used"].as_f64().unwrap() - 2.0).abs() < 0.01);
    assert!(s["tokens"]["completion"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn faults_are_replaced_live_and_bad_ones_refused() {
    let m = start("").await;
    let c = client();
    let url = format!("{}/_mock/faults", m.url);
    let r = c
        .put(&url)
        .json(&json!({"limits": {"requests_per_minute": "lots"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("limits.requests_per_minute"),
        "{b}"
    );
    // The old config stays.
    assert_eq!(chat(&c, &m.url, "k", "x").await.unwrap().status(), 200);

    let r = c
        .put(&url)
        .header("content-type", "application/toml")
        .body("[[failures]]\nkind = \"status\"\nstatus = 502\nprobability = 1.0\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(chat(&c, &m.url, "k", "x").await.unwrap().status(), 502);
    let current: Value = c.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(current["failures"][0]["status"], 502);

    let r = c
        .post(format!("{}/_mock/reset", m.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let s: Value = c
        .get(format!("{}/_mock/stats", m.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["requests"], 0);
}

#[tokio::test]
async fn reset_refills_buckets() {
    let m = start("[limits]\nrequests_per_minute = 1").await;
    let c = client();
    assert_eq!(chat(&c, &m.url, "k", "x").await.unwrap().status(), 200);
    assert_eq!(chat(&c, &m.url, "k", "x").await.unwrap().status(), 429);
    c.post(format!("{}/_mock/reset", m.url))
        .send()
        .await
        .unwrap();
    assert_eq!(chat(&c, &m.url, "k", "x").await.unwrap().status(), 200);
}

#[tokio::test]
async fn admin_token_guards_control_routes_only() {
    let opts = MockOptions {
        admin_token: Some("s3cret".into()),
        ..MockOptions::default()
    };
    let m = start_with("", opts).await;
    let c = client();
    assert_eq!(
        c.get(format!("{}/_mock/health", m.url))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let r = c
        .get(format!("{}/_mock/health", m.url))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(chat(&c, &m.url, "k", "x").await.unwrap().status(), 200);
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let m = start("[[failures]]\nkind = \"status\"\nstatus = 500\nprobability = 1.0").await;
    let c = client();
    chat(&c, &m.url, "k", "x").await.unwrap();
    let text = c
        .get(format!("{}/metrics", m.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(
            "mock_upstream_requests_total{route=\"/v1/chat/completions\",status=\"500\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains("mock_upstream_faults_total{fault=\"status\"} 1"));
    assert!(text.contains("mock_upstream_processing_seconds_count 1"));
}
