//! The answer cap against the real mock over HTTP on 127.0.0.1: with a token-per-minute quota,
//! capping `max_tokens` once the quota is low makes the mock spend fewer completion tokens per
//! answer (its `/_mock/stats`) and fits more answers into the same quota.

use std::sync::Arc;

use gauntlet_client::{ChatRequest, ClientConfig, ClientStack, CountingObserver};
use mock_upstream::faults::parse_toml;
use mock_upstream::server::{MockOptions, RunningMock};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// 4000 tokens a minute, every answer 200 tokens long unless `max_tokens` cuts it.
const MOCK: &str = "[limits]\ntokens_per_minute = 4000\n\
                    [reply.tokens]\ndistribution = \"fixed\"\nvalue = 200.0\n";

/// `/_mock/stats`, read over plain HTTP/1.0.
async fn stats(m: &RunningMock) -> serde_json::Value {
    let mut s = tokio::net::TcpStream::connect(m.addr).await.unwrap();
    s.write_all(b"GET /_mock/stats HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1;
    serde_json::from_str(body).unwrap()
}

/// What one run of `n` sequential requests got: answers, completion tokens the mock counted,
/// requests capped.
struct Spent {
    answered: u64,
    completion: u64,
    capped: u64,
}

async fn run(client_toml: &str, n: usize) -> Spent {
    let config = parse_toml(MOCK, "mock.toml").unwrap();
    let m = RunningMock::start_local(config, MockOptions::default())
        .await
        .unwrap();
    let mut c: ClientConfig = toml::from_str(client_toml).unwrap();
    c.adapter.base_url = m.url.clone();
    let obs = Arc::new(CountingObserver::default());
    let stack = ClientStack::builder(&c)
        .observer(obs.clone())
        .build()
        .unwrap();
    for i in 0..n {
        let _ = stack
            .send(ChatRequest::user_text("m", format!("q{i}")))
            .await;
    }
    let s = stats(&m).await;
    Spent {
        answered: s["by_status"]["200"].as_u64().unwrap_or(0),
        completion: s["tokens"]["completion"].as_u64().unwrap(),
        capped: CountingObserver::get(&obs.answers_capped),
    }
}

#[tokio::test]
async fn capping_answers_fits_more_of_them_into_a_token_quota() {
    let plain = run("", 60).await;
    let capped = run(
        "[answer_cap]\nwhen_remaining_below = \"30%\"\nmax_tokens = 16",
        60,
    )
    .await;
    eprintln!(
        "answered {} -> {}, completion tokens {} -> {}, capped {}",
        plain.answered, capped.answered, plain.completion, capped.completion, capped.capped
    );
    // Without the cap: about 4000 / 200 answers, then 429s.
    assert!(
        (15..=25).contains(&plain.answered),
        "plain answered {}",
        plain.answered
    );
    assert_eq!(plain.completion, plain.answered * 200);
    // With it: full answers until 30 % is left, then 16-token ones from the last 1200 tokens.
    assert!(capped.capped >= 20, "capped {}", capped.capped);
    assert!(
        capped.answered >= plain.answered + 20,
        "capped answered {} vs {}",
        capped.answered,
        plain.answered
    );
    let per_answer = |s: &Spent| s.completion as f64 / s.answered as f64;
    assert!(
        per_answer(&capped) < per_answer(&plain) * 0.6,
        "{} vs {} completion tokens per answer",
        per_answer(&capped),
        per_answer(&plain)
    );
}
