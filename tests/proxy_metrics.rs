//! `/metrics` of `gauntlet proxy` for the key pool, end to end over real HTTP: a caller -> the
//! proxy with a `[client.pool]` of two keys -> the mock (which knows both keys, one with a daily
//! quota of two), checked from the scrape: requests per key (by its config name), the spent key,
//! the paid key's cost, and no secret; a key that says 429 resting (its cool-down counted).

mod common;

use common::scrape::{sample, scrape};
use gauntlet::proxy::{ProxyConfig, RunningProxy};
use serde_json::json;

const FREE_SECRET: &str = "sk-free-0123456789abcdef";
const PAID_SECRET: &str = "sk-paid-fedcba9876543210";

/// Sends one chat completion through the proxy at `url`; its 200 answer's body.
async fn chat(client: &reqwest::Client, url: &str, body: &serde_json::Value) -> serde_json::Value {
    let r = client
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth("sk-caller")
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{body}");
    r.json().await.unwrap()
}

/// A mock that knows both keys (the free one limited by `free_limit`, a line of its `[[keys]]`
/// entry) behind a proxy with `client` tables and a pool of the two (`paid_extra` added to the
/// paid key's entry); `n` distinct chat completions through it, each answered; the scrape after.
async fn pool_scrape(free_limit: &str, client: &str, paid_extra: &str, n: u32) -> String {
    let m = common::mock(&format!(
        "[[keys]]\nkey = \"{FREE_SECRET}\"\n{free_limit}\n\
         [[keys]]\nkey = \"{PAID_SECRET}\"\n"
    ))
    .await;
    let text = format!(
        "{client}[client.pool]\n\
         [[client.pool.keys]]\nname = \"free-tier\"\nkey = \"{FREE_SECRET}\"\n\
         [[client.pool.keys]]\nname = \"paid-tier\"\nkey = \"{PAID_SECRET}\"\n\
         {paid_extra}tier = 1\n\
         [proxy]\nlisten = \"127.0.0.1:0\"\nupstream = \"{}\"\n",
        m.url
    );
    let config = ProxyConfig::parse(&text, "proxy.toml").expect("valid proxy config");
    let p = RunningProxy::start(config, false).expect("proxy starts");
    let client = reqwest::Client::new();
    for i in 0..n {
        let body = json!({"model": "gpt-4o-mini",
                          "messages": [{"role": "user", "content": format!("question {i}")}]});
        chat(&client, &p.url, &body).await;
    }
    scrape(&p.url).await
}

#[tokio::test]
async fn a_two_key_pool_shows_requests_per_key_name_and_no_secret() {
    let scrape = pool_scrape("requests_per_day = 2", "", "cost_per_1k_tokens = 0.5\n", 5).await;
    let (free, paid) = ("free-tier", "paid-tier");
    let per_key = |name: &str, key: &str| sample(&scrape, &format!("{name}{{key=\"{key}\"}}"));
    // The free key answers twice, then says insufficient_quota: the third request moves to the
    // paid key on the spot, and so do the last two.
    assert_eq!(per_key("gauntlet_proxy_key_requests_total", free), 3.0);
    assert_eq!(per_key("gauntlet_proxy_key_requests_total", paid), 3.0);
    assert_eq!(per_key("gauntlet_proxy_keys_spent_total", free), 1.0);
    assert_eq!(per_key("gauntlet_proxy_keys_spent_total", paid), 0.0);
    assert_eq!(per_key("gauntlet_proxy_key_cooldowns_total", free), 0.0);
    assert!(per_key("gauntlet_proxy_key_tokens_total", free) > 0.0);
    let paid_tokens = per_key("gauntlet_proxy_key_tokens_total", paid);
    assert!(paid_tokens > 0.0);
    assert_eq!(per_key("gauntlet_proxy_key_cost_total", free), 0.0);
    let cost = per_key("gauntlet_proxy_key_cost_total", paid);
    assert!((cost - paid_tokens / 1000.0 * 0.5).abs() < 1e-9, "{cost}");
    for secret in [FREE_SECRET, PAID_SECRET, "sk-"] {
        assert!(
            !scrape.contains(secret),
            "{secret} in the scrape:\n{scrape}"
        );
    }
    assert_eq!(
        sample(
            &scrape,
            "gauntlet_proxy_requests_total{route=\"/v1/chat/completions\",outcome=\"upstream\"}"
        ),
        5.0
    );
}

/// The answer cap through the proxy: once the upstream reports its token quota nearly spent, the
/// caller's `max_completion_tokens` of 500 goes upstream lowered to the cap (the mock's answer
/// is no longer than the limit it was sent), and each capped request is counted.
#[tokio::test]
async fn the_answer_cap_reaches_the_upstream_and_is_counted() {
    let m = common::mock(
        "reply = { tokens = { distribution = \"fixed\", value = 40 } }\n\
         [limits]\ntokens_per_minute = 100000\n",
    )
    .await;
    let text = format!(
        "[client.answer_cap]\nwhen_remaining_below = \"100%\"\nmax_tokens = 5\n\
         [proxy]\nlisten = \"127.0.0.1:0\"\nupstream = \"{}\"\n",
        m.url
    );
    let config = ProxyConfig::parse(&text, "proxy.toml").expect("valid proxy config");
    let p = RunningProxy::start(config, false).expect("proxy starts");
    let client = reqwest::Client::new();
    let mut completions = Vec::new();
    for i in 0..3 {
        let body = json!({"model": "gpt-4o-mini", "max_completion_tokens": 500,
                          "messages": [{"role": "user", "content": format!("question {i}")}]});
        let v = chat(&client, &p.url, &body).await;
        completions.push(v["usage"]["completion_tokens"].as_u64().unwrap());
    }
    // The first request has no quota report to go by; the next two are capped.
    assert_eq!(completions, [40, 5, 5]);
    let scrape = scrape(&p.url).await;
    assert_eq!(sample(&scrape, "gauntlet_proxy_answers_capped_total"), 2.0);
}

/// A key's cool-down through the proxy: the mock lets the free key make one request a minute, so
/// its second says 429 with a `retry-after`; the pool rests that key, the retry goes out on the
/// paid key, and the caller sees three answers. The scrape counts one cool-down for the free key
/// and none for the paid one, and the paid key carries every request after the 429.
#[tokio::test]
async fn a_429_rests_the_key_and_the_cooldown_is_counted() {
    let retry = "[client.retry]\nmax_attempts = 2\nbase_delay = \"1ms\"\nmax_delay = \"1ms\"\n";
    let scrape = pool_scrape("requests_per_minute = 1", retry, "", 3).await;
    let (free, paid) = ("free-tier", "paid-tier");
    let per_key = |name: &str, key: &str| sample(&scrape, &format!("{name}{{key=\"{key}\"}}"));
    assert_eq!(
        per_key("gauntlet_proxy_key_cooldowns_total", free),
        1.0,
        "{scrape}"
    );
    assert_eq!(per_key("gauntlet_proxy_key_cooldowns_total", paid), 0.0);
    assert_eq!(per_key("gauntlet_proxy_key_requests_total", free), 2.0);
    assert_eq!(per_key("gauntlet_proxy_key_requests_total", paid), 2.0);
    assert_eq!(per_key("gauntlet_proxy_keys_spent_total", free), 0.0);
}
