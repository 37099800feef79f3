//! The metrics fed by a real `ClientStack` over the mock upstream in-process, on a paused clock:
//! a retried outage, limiter waits and a breaker opening, read back from the rendered text.

use std::sync::Arc;
use std::time::Duration;

use gauntlet_client::{ChatRequest, ClientConfig, ClientStack};
use mock_upstream::faults::parse_toml;
use mock_upstream::server::{router, MockOptions, MockState};
use tokio::time::Instant;

use super::test_parser::{parse, Exposition};
use super::ProxyMetrics;
use crate::in_process::in_process_transport;

const CHAT: &str = "/v1/chat/completions";

/// A stack built from `client` toml over a mock with `faults`, reporting to `metrics`.
fn stack_over_mock(faults: &str, client: &str, metrics: &Arc<ProxyMetrics>) -> ClientStack {
    let faults = parse_toml(faults, "faults.toml").expect("valid fault config");
    let state = MockState::new(faults, MockOptions::default());
    let cfg: ClientConfig = toml::from_str(client).expect("valid client config");
    ClientStack::builder(&cfg)
        .transport(in_process_transport(router(state)))
        .observer(metrics.observer())
        .build()
        .expect("stack builds")
}

/// Sends one request and counts it as the proxy's handler does.
async fn send(stack: &ClientStack, metrics: &ProxyMetrics, prompt: &str) -> Result<(), String> {
    let started = Instant::now();
    let result = stack.send(ChatRequest::user_text("m", prompt)).await;
    let (outcome, status) = match &result {
        Ok(r) => (r.outcome.as_str(), 200),
        Err(e) => (e.kind(), 503),
    };
    metrics.request_done(CHAT, outcome, status, started.elapsed());
    result.map(|_| ()).map_err(|e| e.kind().to_string())
}

fn value(exp: &Exposition, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    exp.value(name, labels)
}

#[tokio::test(start_paused = true)]
async fn a_retried_outage_and_limiter_waits_show_in_the_exposition() {
    let metrics = Arc::new(ProxyMetrics::new());
    let stack = stack_over_mock(
        "[limits]\nrequests_per_minute = 6000\n\
         [[timeline]]\nat = \"0s\"\nfor = \"1s\"\nkind = \"outage\"\nstatus = 503",
        "[retry]\nmax_attempts = 4\nbase_delay = \"200ms\"\nmultiplier = 2.0\njitter = \"none\"\n\
         [limiter]\nrate = \"10/s\"\nburst = 1\nmax_wait = \"10s\"\n\
         [breaker]\nmin_calls = 100",
        &metrics,
    );
    // Attempts at 0, 200 and 600 ms meet the outage; the one at 1400 ms is answered.
    send(&stack, &metrics, "first").await.unwrap();
    let exp = parse(&metrics.render(&stack));
    assert_eq!(
        value(&exp, "gauntlet_proxy_upstream_attempts_total", &[]),
        Some(4.0)
    );
    assert_eq!(
        value(
            &exp,
            "gauntlet_proxy_retries_total",
            &[("reason", "server_error")]
        ),
        Some(3.0)
    );
    assert_eq!(exp.family("gauntlet_proxy_retries_total").len(), 1);
    assert_eq!(
        value(&exp, "gauntlet_proxy_limiter_waits_total", &[]),
        Some(0.0)
    );
    assert!(
        value(&exp, "gauntlet_proxy_upstream_remaining_requests", &[]).is_some(),
        "the mock's x-ratelimit-remaining-requests reached the gauge"
    );
    assert_eq!(
        value(&exp, "gauntlet_proxy_upstream_limit_requests", &[]),
        Some(6000.0)
    );
    assert_eq!(
        value(
            &exp,
            "gauntlet_proxy_request_duration_seconds_bucket",
            &[("route", CHAT), ("le", "1")]
        ),
        Some(0.0),
        "1.4 s of backoff is above the 1 s bucket"
    );
    assert_eq!(
        value(
            &exp,
            "gauntlet_proxy_request_duration_seconds_bucket",
            &[("route", CHAT), ("le", "2.5")]
        ),
        Some(1.0)
    );

    // The last attempt spent the only permit at 1400 ms: two more wait 100 and 200 ms for theirs,
    // and while they wait the queue-depth gauge, read from the stack, says so.
    let tasks: Vec<_> = ["second", "third"]
        .into_iter()
        .map(|p| {
            let (stack, metrics) = (stack.clone(), metrics.clone());
            tokio::spawn(async move { send(&stack, &metrics, p).await })
        })
        .collect();
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    let waiting = parse(&metrics.render(&stack));
    assert_eq!(
        value(&waiting, "gauntlet_proxy_limiter_queue_depth", &[]),
        Some(2.0)
    );
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let exp = parse(&metrics.render(&stack));
    assert_eq!(
        value(&exp, "gauntlet_proxy_limiter_queue_depth", &[]),
        Some(0.0)
    );
    assert_eq!(
        value(&exp, "gauntlet_proxy_limiter_waits_total", &[]),
        Some(2.0)
    );
    let wait = |le: &str| {
        value(
            &exp,
            "gauntlet_proxy_limiter_wait_seconds_bucket",
            &[("le", le)],
        )
    };
    assert_eq!(wait("0.05"), Some(0.0));
    assert_eq!(wait("0.1"), Some(1.0));
    assert_eq!(wait("0.25"), Some(2.0));
    assert_eq!(wait("+Inf"), Some(2.0));
    assert_eq!(
        value(&exp, "gauntlet_proxy_limiter_wait_seconds_count", &[]),
        Some(2.0)
    );
    assert_eq!(
        value(
            &exp,
            "gauntlet_proxy_requests_total",
            &[("route", CHAT), ("outcome", "upstream")]
        ),
        Some(3.0)
    );
    assert_eq!(
        value(&exp, "gauntlet_proxy_breaker_state", &[("state", "closed")]),
        Some(1.0)
    );
}

#[tokio::test(start_paused = true)]
async fn an_outage_opens_the_breaker_and_the_exposition_says_so() {
    let metrics = Arc::new(ProxyMetrics::new());
    let stack = stack_over_mock(
        "[[timeline]]\nat = \"0s\"\nfor = \"60s\"\nkind = \"outage\"\nstatus = 503",
        "[breaker]\nmin_calls = 5\nfailure_ratio = 0.5\nopen_for = \"30s\"",
        &metrics,
    );
    for i in 0..5 {
        let err = send(&stack, &metrics, &format!("q{i}")).await.unwrap_err();
        assert_eq!(err, "server_error");
    }
    let err = send(&stack, &metrics, "refused").await.unwrap_err();
    assert_eq!(err, "rejected_breaker_open");
    let exp = parse(&metrics.render(&stack));
    for (state, v) in [("closed", 0.0), ("open", 1.0), ("half_open", 0.0)] {
        assert_eq!(
            value(&exp, "gauntlet_proxy_breaker_state", &[("state", state)]),
            Some(v),
            "{state}"
        );
    }
    assert_eq!(
        value(
            &exp,
            "gauntlet_proxy_breaker_transitions_total",
            &[("from", "closed"), ("to", "open")]
        ),
        Some(1.0)
    );
    assert_eq!(
        exp.family("gauntlet_proxy_breaker_transitions_total").len(),
        1
    );
    assert_eq!(
        value(&exp, "gauntlet_proxy_upstream_attempts_total", &[]),
        Some(5.0),
        "the refused request never reached the upstream"
    );
    let req = |outcome: &str| {
        value(
            &exp,
            "gauntlet_proxy_requests_total",
            &[("route", CHAT), ("outcome", outcome)],
        )
    };
    assert_eq!(req("server_error"), Some(5.0));
    assert_eq!(req("rejected_breaker_open"), Some(1.0));

    // After open_for the breaker lets a probe through; it fails, so the breaker reopens.
    tokio::time::advance(Duration::from_secs(31)).await;
    send(&stack, &metrics, "probe").await.unwrap_err();
    let exp = parse(&metrics.render(&stack));
    let moved = |from: &str, to: &str| {
        value(
            &exp,
            "gauntlet_proxy_breaker_transitions_total",
            &[("from", from), ("to", to)],
        )
    };
    assert_eq!(moved("open", "half_open"), Some(1.0));
    assert_eq!(moved("half_open", "open"), Some(1.0));
    assert_eq!(
        value(&exp, "gauntlet_proxy_breaker_state", &[("state", "open")]),
        Some(1.0)
    );
}

#[tokio::test(start_paused = true)]
async fn a_model_chain_counts_degraded_answers_by_the_model_that_answered() {
    let metrics = Arc::new(ProxyMetrics::new());
    let stack = stack_over_mock(
        "models = [{ id = \"gpt-big\", requests_per_minute = 1 }, \"gpt-small\"]",
        "[models]\nchain = [\"gpt-big\", \"gpt-small\"]",
        &metrics,
    );
    // The big model's one request a minute, then two answers from the small one.
    for prompt in ["a", "b", "c"] {
        stack
            .send(ChatRequest::user_text("gpt-big", prompt))
            .await
            .unwrap();
    }
    let exp = parse(&metrics.render(&stack));
    assert_eq!(
        value(
            &exp,
            "gauntlet_proxy_degraded_total",
            &[("model", "gpt-small")]
        ),
        Some(2.0)
    );
    assert_eq!(exp.family("gauntlet_proxy_degraded_total").len(), 1);
    assert!(
        exp.family("gauntlet_proxy_key_requests_total").is_empty(),
        "no pool, no key series"
    );
}
