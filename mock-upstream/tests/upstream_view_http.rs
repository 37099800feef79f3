//! The upstream's view over real HTTP on 127.0.0.1: clients that misbehave the way gateways do,
//! and what `/_mock/stats` says they did.

mod common;

use std::time::Duration;

use common::{chat, chat_body, client, start};
use serde_json::Value;

async fn view(c: &reqwest::Client, url: &str) -> Value {
    let stats: Value = c
        .get(format!("{url}/_mock/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    stats["upstream_view"].clone()
}

/// Sends the same body as the SDKs' retries do, with their retry-count header.
async fn attempt(c: &reqwest::Client, url: &str, key: &str, n: u32) -> reqwest::Response {
    c.post(format!("{url}/v1/chat/completions"))
        .bearer_auth(key)
        .header("x-stainless-retry-count", n.to_string())
        .json(&chat_body("the same prompt"))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_retry_before_retry_after_is_early_and_one_that_waits_is_not() {
    // 60 a minute: a key that spent them gets a 429 with about a second of `retry-after`.
    let m = start("[limits]\nrequests_per_minute = 60").await;
    let c = client();
    for key in ["sk-eager", "sk-patient"] {
        for _ in 0..60 {
            assert_eq!(chat(&c, &m.url, key, "drain").await.unwrap().status(), 200);
        }
    }
    // The eager client retries at once; the patient one waits what it was told.
    let first = attempt(&c, &m.url, "sk-eager", 0).await;
    assert_eq!(first.status(), 429);
    attempt(&c, &m.url, "sk-eager", 1).await;
    let told = attempt(&c, &m.url, "sk-patient", 0).await;
    assert_eq!(told.status(), 429);
    let wait: u64 = told.headers()["retry-after-ms"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait <= 1_000, "{wait}");
    tokio::time::sleep(Duration::from_millis(wait + 50)).await;
    assert_eq!(attempt(&c, &m.url, "sk-patient", 1).await.status(), 200);

    let v = view(&c, &m.url).await;
    let t = &v["totals"];
    assert_eq!(t["attempts"], 124);
    assert_eq!(t["answers_429"], 3);
    assert_eq!(t["retries"], 2);
    assert_eq!(t["retries_by_header"], 2);
    assert_eq!(t["early_after_429"], 1, "{v}");
    assert_eq!(t["early_retries_after_429"], 1);
    let early_by = t["early_by_ms_max"].as_f64().unwrap();
    assert!(early_by > 500.0 && early_by <= 1_000.0, "{early_by}");
    assert!(t["early_by_ms_sum"].as_f64().unwrap() == early_by);
    let example = &t["examples"][0];
    assert_eq!(example["kind"], "early_after_429");
    assert_eq!(
        example["key"],
        mock_upstream::upstream_view::mask("sk-eager")
    );
    assert_eq!(example["retry_count"], 1);
    assert_eq!(t["first_retry_delay_ms"]["count"], 2);
    assert!(v["intervals"].as_array().unwrap().len() >= 2);
}

#[tokio::test]
async fn retries_of_a_quota_error_are_non_retryable_retries() {
    let m = start("[limits]\nrequests_per_day = 1").await;
    let c = client();
    assert_eq!(chat(&c, &m.url, "sk-q", "hi").await.unwrap().status(), 200);
    let refused = chat(&c, &m.url, "sk-q", "hi").await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["x-should-retry"], "false");
    // A naive gateway retries it, without any header: the same body gives it away.
    for _ in 0..3 {
        chat(&c, &m.url, "sk-q", "hi").await.unwrap();
    }
    let v = view(&c, &m.url).await;
    let t = &v["totals"];
    assert_eq!(t["attempts"], 5);
    assert_eq!(t["non_retryable_answers"], 4);
    assert_eq!(t["retries"], 3, "the 200's repeat is not a retry: {v}");
    assert_eq!(t["non_retryable_retries"], 3);
    assert!(t["prompt_tokens_resent"].as_u64().unwrap() > 0);
    let charged = t["tokens_charged"].as_u64().unwrap();
    assert!(charged > 0 && charged < t["prompt_tokens"].as_u64().unwrap() * 5);
    assert!(t["examples"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "non_retryable_retry" && e["previous_status"] == 429));
}

#[tokio::test]
async fn answers_a_retry_cannot_change_say_so_and_a_reset_zeroes_the_view() {
    let m = start("").await;
    let c = client();
    let bad = c
        .post(format!("{}/v1/chat/completions", m.url))
        .bearer_auth("k")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(bad.headers()["x-should-retry"], "false");
    let missing = c
        .get(format!("{}/v1/nothing-here", m.url))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["x-should-retry"], "false");
    let v = view(&c, &m.url).await;
    assert_eq!(v["totals"]["attempts"], 2, "/_mock routes are not attempts");
    assert_eq!(v["totals"]["non_retryable_answers"], 2);
    assert_eq!(v["interval_ms"], 1000.0);
    c.post(format!("{}/_mock/reset", m.url))
        .send()
        .await
        .unwrap();
    assert_eq!(view(&c, &m.url).await["totals"]["attempts"], 0);
}

#[tokio::test]
async fn a_stream_is_in_flight_until_its_body_ends() {
    let m = start("[stream]\ntime_to_first_token = \"0ms\"\nper_token = \"20ms\"").await;
    let c = client();
    let mut body = chat_body("a streamed answer");
    body["stream"] = Value::Bool(true);
    let r = c
        .post(format!("{}/v1/chat/completions", m.url))
        .bearer_auth("k")
        .json(&body)
        .send()
        .await
        .unwrap();
    let _ = r.bytes().await.unwrap();
    let busy = view(&c, &m.url).await["totals"]["busy_ms"]
        .as_f64()
        .unwrap();
    assert!(busy >= 20.0, "busy only until the head: {busy}");
}

#[tokio::test]
async fn an_attempt_its_client_gave_up_on_still_counts() {
    let m = start("[latency]\ndistribution = \"fixed\"\nvalue = \"400ms\"").await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    assert!(chat(&impatient, &m.url, "sk-t", "slow").await.is_err());
    // The retry of a timed-out attempt is a retry: no answer is an error.
    assert!(chat(&impatient, &m.url, "sk-t", "slow").await.is_err());
    tokio::time::sleep(Duration::from_millis(50)).await;
    let t = view(&client(), &m.url).await["totals"].clone();
    assert_eq!(t["attempts"], 2, "{t}");
    assert_eq!(t["abandoned"], 2);
    assert_eq!(t["retries"], 1);
    assert!(
        t["prompt_tokens_resent"].as_u64().unwrap() > 0,
        "the note outlives the handler"
    );
}
