//! Every fault kind and every header, over real HTTP on 127.0.0.1.

mod common;

use common::{chat, chat_body, client, start};
use serde_json::Value;

#[tokio::test]
async fn ok_answers_carry_every_header() {
    let m = start("[limits]\nrequests_per_minute = 60\ntokens_per_minute = 40000").await;
    let r = chat(&client(), &m.url, "k", "hello").await.unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert_eq!(h["x-ratelimit-limit-requests"], "60");
    assert_eq!(h["x-ratelimit-remaining-requests"], "59");
    assert_eq!(h["x-ratelimit-reset-requests"], "1s");
    assert_eq!(h["x-ratelimit-limit-tokens"], "40000");
    let remaining: u32 = h["x-ratelimit-remaining-tokens"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body: Value = r.json().await.unwrap();
    let total = body["usage"]["total_tokens"].as_u64().unwrap() as u32;
    assert_eq!(remaining, 40000 - total);
    assert!(h["x-ratelimit-reset-tokens"]
        .to_str()
        .unwrap()
        .ends_with("ms"));
    assert!(h["x-request-id"].to_str().unwrap().starts_with("req_"));
    assert!(h.contains_key("openai-processing-ms"));
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn rpm_breach_is_a_provider_429() {
    let m = start("[limits]\nrequests_per_minute = 3").await;
    let c = client();
    for _ in 0..3 {
        assert_eq!(chat(&c, &m.url, "k", "x").await.unwrap().status(), 200);
    }
    let r = chat(&c, &m.url, "k", "x").await.unwrap();
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let retry_ms: u64 = r.headers()["retry-after-ms"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((19..=20).contains(&retry), "{retry}");
    assert!((19_000..=20_000).contains(&retry_ms), "{retry_ms}");
    assert_eq!(r.headers()["x-ratelimit-remaining-requests"], "0");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["type"], "requests");
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert!(body["error"]["param"].is_null());
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("requests per min (RPM): Limit 3, Used 3, Requested 1"),
        "{msg}"
    );
}

#[tokio::test]
async fn tpm_breach_names_tokens() {
    let m = start("[limits]\ntokens_per_minute = 100\n[reply]\ntokens = { distribution = \"fixed\", value = 40 }").await;
    let c = client();
    // Each request costs 3 + 4 + 1 prompt tokens + 40 completion = 48.
    assert_eq!(chat(&c, &m.url, "k", "x").await.unwrap().status(), 200);
    assert_eq!(chat(&c, &m.url, "k", "x").await.unwrap().status(), 200);
    let r = chat(&c, &m.url, "k", "x").await.unwrap();
    assert_eq!(r.status(), 429);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["type"], "tokens");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Requested 48"));
}

#[tokio::test]
async fn quota_exhaustion_says_do_not_retry() {
    let m = start("[limits]\nrequests_per_day = 1").await;
    let c = client();
    assert_eq!(chat(&c, &m.url, "k", "x").await.unwrap().status(), 200);
    let r = chat(&c, &m.url, "k", "x").await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["x-should-retry"], "false");
    assert!(!r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["type"], "insufficient_quota");
    assert_eq!(body["error"]["code"], "insufficient_quota");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("You exceeded your current quota"));
}

#[tokio::test]
async fn unknown_keys_get_401_only_when_keys_are_listed() {
    let open = start("").await;
    assert_eq!(
        chat(&client(), &open.url, "anything", "x")
            .await
            .unwrap()
            .status(),
        200
    );
    let m = start("[[keys]]\nkey = \"sk-free-1\"\nrequests_per_minute = 3").await;
    let c = client();
    assert_eq!(
        chat(&c, &m.url, "sk-free-1", "x").await.unwrap().status(),
        200
    );
    let r = chat(&c, &m.url, "sk-wrong", "x").await.unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_api_key");
    let r = c
        .post(format!("{}/v1/chat/completions", m.url))
        .json(&chat_body("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn injected_status_has_openai_body() {
    let m = start("[[failures]]\nkind = \"status\"\nstatus = 503\nprobability = 1.0").await;
    let r = chat(&client(), &m.url, "k", "x").await.unwrap();
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["type"], "server_error");
    assert_eq!(
        body["error"]["message"],
        "The server is overloaded or not ready yet."
    );
    assert_eq!(m.state.stats().by_fault["status"], 1);
}

#[tokio::test]
async fn reset_closes_the_connection_without_a_response() {
    let m = start("[[failures]]\nkind = \"reset\"\nprobability = 1.0").await;
    let err = chat(&client(), &m.url, "k", "x").await.unwrap_err();
    assert!(err.is_request(), "{err:?}");
    assert!(!err.is_timeout());
    assert_eq!(m.state.stats().by_status["no_response"], 1);
}

#[tokio::test]
async fn hang_gives_nothing_until_its_bound() {
    let m = start("[[failures]]\nkind = \"hang\"\nprobability = 1.0\nfor = \"200ms\"").await;
    let c = client();
    let err = chat(&c, &m.url, "k", "x").await.unwrap_err();
    assert!(
        !err.is_timeout(),
        "closed by the mock after 200 ms, not by the 10 s timeout"
    );
    let short = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(50))
        .build()
        .unwrap();
    let m = start("[[failures]]\nkind = \"hang\"\nprobability = 1.0\nfor = \"5s\"").await;
    assert!(chat(&short, &m.url, "k", "x")
        .await
        .unwrap_err()
        .is_timeout());
}

#[tokio::test]
async fn truncated_body_breaks_off() {
    let m = start("[[failures]]\nkind = \"truncate\"\nprobability = 1.0").await;
    let r = chat(&client(), &m.url, "k", "x").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.is_err());
}

#[tokio::test]
async fn malformed_and_empty_bodies_are_200() {
    let m = start("[[failures]]\nkind = \"malformed\"\nprobability = 1.0").await;
    let r = chat(&client(), &m.url, "k", "x").await.unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err());
    let m = start("[[failures]]\nkind = \"empty\"\nprobability = 1.0").await;
    let r = chat(&client(), &m.url, "k", "x").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn concurrency_cap_rejects_or_queues() {
    let toml = "[latency]\ndistribution = \"fixed\"\nvalue = \"300ms\"\n[concurrency]\nlimit = 1\nmode = \"reject\"";
    let m = start(toml).await;
    let c = client();
    let (a, b) = tokio::join!(chat(&c, &m.url, "k", "a"), chat(&c, &m.url, "k", "b"));
    let mut statuses = [a.unwrap().status().as_u16(), b.unwrap().status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 503]);
    assert_eq!(m.state.stats().by_fault["overload"], 1);

    let m = start(&toml.replace("reject", "queue")).await;
    let (a, b) = tokio::join!(chat(&c, &m.url, "k", "a"), chat(&c, &m.url, "k", "b"));
    assert_eq!(a.unwrap().status(), 200);
    assert_eq!(b.unwrap().status(), 200);
}

#[tokio::test]
async fn latency_and_spikes_delay_the_answer() {
    let m = start(
        "[latency]\ndistribution = \"fixed\"\nvalue = \"100ms\"\n\
         [latency.spike]\nprobability = 1.0\ndistribution = \"fixed\"\nvalue = \"150ms\"",
    )
    .await;
    let r = chat(&client(), &m.url, "k", "x").await.unwrap();
    let ms: u64 = r.headers()["openai-processing-ms"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(ms >= 250, "{ms}");
    assert_eq!(m.state.stats().spikes, 1);
}

#[tokio::test]
async fn timeline_deprecates_the_legacy_route() {
    let m = start("[[timeline]]\nat = \"300ms\"\nkind = \"deprecate\"\nroute = \"/v1/chat\"").await;
    let c = client();
    let legacy = || {
        c.post(format!("{}/v1/chat", m.url))
            .json(&serde_json::json!({"prompt": "hi"}))
            .send()
    };
    let r = legacy().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(!body["reply"].as_str().unwrap().is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(350)).await;
    let r = legacy().await.unwrap();
    assert_eq!(r.status(), 410);
    let body: Value = r.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("/v1/chat/completions"));
    assert_eq!(chat(&c, &m.url, "k", "x").await.unwrap().status(), 200);
}

#[tokio::test]
async fn outage_window_answers_its_status() {
    let m =
        start("[[timeline]]\nat = \"0s\"\nfor = \"300ms\"\nkind = \"outage\"\nstatus = 502").await;
    let c = client();
    assert_eq!(chat(&c, &m.url, "k", "x").await.unwrap().status(), 502);
    tokio::time::sleep(std::time::Duration::from_millis(350)).await;
    assert_eq!(chat(&c, &m.url, "k", "x").await.unwrap().status(), 200);
    assert_eq!(m.state.stats().by_fault["outage"], 1);
}

#[tokio::test]
async fn abandoned_work_keeps_its_slot_when_asked() {
    let m = start(
        "[latency]\ndistribution = \"fixed\"\nvalue = \"500ms\"\n\
         [concurrency]\nlimit = 1\nmode = \"reject\"\nfinish_abandoned = true",
    )
    .await;
    let impatient = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(100))
        .build()
        .unwrap();
    assert!(chat(&impatient, &m.url, "k", "a")
        .await
        .unwrap_err()
        .is_timeout());
    // The client left at 100 ms, but the provider is still working on its request.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(
        chat(&client(), &m.url, "k", "b").await.unwrap().status(),
        503
    );
    tokio::time::sleep(std::time::Duration::from_millis(450)).await;
    assert_eq!(
        chat(&client(), &m.url, "k", "c").await.unwrap().status(),
        200
    );
}
