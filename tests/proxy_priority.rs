//! A caller's class through `gauntlet proxy`, end to end over real HTTP: a caller -> the proxy
//! (a limiter that keeps half the quota for interactive callers) -> the mock (four requests a
//! minute, reported in `x-ratelimit-remaining-requests`). Once three interactive answers have
//! left a quarter of the quota, a request marked `batch` in `x-gauntlet-priority` is held back
//! until its wait runs out and then refused with a 429 the SDK retries later, while an
//! interactive one still goes; the scrape counts the expired deferral. A class no one
//! knows is a 400 naming the header. And a deferral that ends in an answer once the limiter's
//! own bucket refills past the reserve.

mod common;

use common::scrape::{sample, scrape};
use gauntlet::proxy::{ProxyConfig, RunningProxy};
use serde_json::json;

/// Sends one chat completion through the proxy at `url`, marked with `class` when given.
async fn chat(
    client: &reqwest::Client,
    url: &str,
    i: u32,
    class: Option<&str>,
) -> reqwest::Response {
    let body = json!({"model": "gpt-4o-mini",
                      "messages": [{"role": "user", "content": format!("question {i}")}]});
    let mut req = client
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth("sk-caller")
        .json(&body);
    if let Some(class) = class {
        req = req.header("x-gauntlet-priority", class);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn a_batch_request_waits_for_the_reserve_and_an_interactive_one_goes() {
    let m = common::mock("[limits]\nrequests_per_minute = 4\n").await;
    let text = format!(
        "[client.limiter]\nrate = \"100/s\"\nbatch_reserve = \"50%\"\nbatch_max_wait = \"300ms\"\n\
         [proxy]\nlisten = \"127.0.0.1:0\"\nupstream = \"{}\"\n",
        m.url
    );
    let config = ProxyConfig::parse(&text, "proxy.toml").expect("valid proxy config");
    let p = RunningProxy::start(config, false).expect("proxy starts");
    let client = reqwest::Client::new();
    for (i, class) in [
        (0, None),
        (1, Some("interactive")),
        (2, Some("Interactive")),
    ] {
        assert_eq!(chat(&client, &p.url, i, class).await.status(), 200);
    }
    let t0 = std::time::Instant::now();
    let held = chat(&client, &p.url, 3, Some("batch")).await;
    let waited = t0.elapsed();
    assert_eq!(held.status(), 429);
    assert!(
        held.headers().contains_key("retry-after"),
        "{:?}",
        held.headers()
    );
    assert!(
        waited >= std::time::Duration::from_millis(300),
        "held for its batch_max_wait, not refused at once: {waited:?}"
    );
    assert_eq!(chat(&client, &p.url, 4, None).await.status(), 200);

    let typo = chat(&client, &p.url, 5, Some("urgent")).await;
    assert_eq!(typo.status(), 400);
    let body: serde_json::Value = typo.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    assert_eq!(body["error"]["param"], "x-gauntlet-priority", "{body}");

    let scrape = scrape(&p.url).await;
    // It waited out its batch_max_wait: an expired deferral, not one that went on.
    let expired = sample(&scrape, "gauntlet_proxy_deferrals_expired_total");
    assert_eq!(expired, 1.0, "{scrape}");
    assert_eq!(sample(&scrape, "gauntlet_proxy_deferred_total"), 0.0);
    let stats: serde_json::Value = reqwest::get(format!("{}/_mock/stats", m.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        stats["requests"], 4,
        "the batch request never reached the mock: {stats}"
    );
}

/// A deferral that ends in an answer: with no quota report from the mock, the spare share is the
/// limiter's own bucket (4 permits, one a second back). Three interactive requests leave about a
/// quarter (under half as long as they take under a second, a loaded machine included); a batch
/// request waits below the 50 % reserve until the bucket refills past it, then goes, and the
/// scrape counts one deferral and its wait.
#[tokio::test]
async fn a_deferred_batch_request_goes_once_the_bucket_refills() {
    let m = common::mock("").await;
    let text = format!(
        "[client.limiter]\nrate = \"1/s\"\nburst = 4\nbatch_reserve = \"50%\"\nbatch_max_wait = \"5s\"\n\
         [proxy]\nlisten = \"127.0.0.1:0\"\nupstream = \"{}\"\n",
        m.url
    );
    let config = ProxyConfig::parse(&text, "proxy.toml").expect("valid proxy config");
    let p = RunningProxy::start(config, false).expect("proxy starts");
    let client = reqwest::Client::new();
    for i in 0..3 {
        assert_eq!(chat(&client, &p.url, i, None).await.status(), 200);
    }
    assert_eq!(chat(&client, &p.url, 3, Some("batch")).await.status(), 200);
    let scrape = scrape(&p.url).await;
    assert_eq!(
        sample(&scrape, "gauntlet_proxy_deferred_total"),
        1.0,
        "{scrape}"
    );
    assert_eq!(
        sample(&scrape, "gauntlet_proxy_deferral_wait_seconds_count"),
        1.0
    );
    assert_eq!(
        sample(&scrape, "gauntlet_proxy_deferrals_expired_total"),
        0.0
    );
}
