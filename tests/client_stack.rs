//! The whole client stack against the real mock-upstream: over HTTP on 127.0.0.1, and once
//! in-process on a paused clock where every delay is exact.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{mock, status_count};
use gauntlet::client::adapter::ApiVersion;
use gauntlet::client::{
    ChatRequest, ClientConfig, ClientError, ClientStack, CountingObserver, Outcome,
};
use gauntlet::in_process::in_process_transport;
use mock_upstream::faults::parse_toml;
use mock_upstream::server::{router, MockOptions, MockState};

fn config(toml: &str, url: &str) -> ClientConfig {
    let mut c: ClientConfig = toml::from_str(toml).expect("valid client config");
    c.adapter.base_url = url.to_string();
    c
}

#[tokio::test]
async fn a_matching_limiter_avoids_429s_entirely() {
    // The provider allows 60 per minute (a burst of 60, then one a second). The client keeps a
    // small margin below that (57/m, burst 59): its bucket starts a moment before the
    // provider's, so an exact copy of the limit would be a few milliseconds early.
    let m = mock("[limits]\nrequests_per_minute = 60").await;
    let cfg = config(
        "[limiter]\nrate = \"57/m\"\nburst = 59\nmax_wait = \"10s\"\n[retry]\nmax_attempts = 3",
        &m.url,
    );
    let stack = ClientStack::from_config(&cfg).unwrap();
    let tasks: Vec<_> = (0..62)
        .map(|i| {
            let stack = stack.clone();
            tokio::spawn(async move {
                stack
                    .send(ChatRequest::user_text("m", format!("q{i}")))
                    .await
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().outcome, Outcome::Upstream);
    }
    assert_eq!(status_count(&m, "429"), 0);
    assert_eq!(status_count(&m, "200"), 62);
}

#[tokio::test]
async fn retry_after_is_honoured_without_a_storm() {
    // One request per second, and no client limiter: the 3rd request is refused once, waits
    // what retry-after says, and succeeds; nothing hammers the provider meanwhile.
    let m = mock("[limits]\nrequests_per_minute = 2").await;
    let cfg = config(
        "[retry]\nmax_attempts = 5\nbase_delay = \"10ms\"\njitter = \"none\"\nmax_retry_after = \"40s\"",
        &m.url,
    );
    let stack = ClientStack::from_config(&cfg).unwrap();
    for i in 0..2 {
        stack
            .send(ChatRequest::user_text("m", format!("q{i}")))
            .await
            .unwrap();
    }
    // The third needs 30 s of refill; give up after 1 s of waiting by capping retry-after.
    let cfg = config(
        "[retry]\nmax_attempts = 5\nbase_delay = \"10ms\"\njitter = \"none\"\nmax_retry_after = \"1s\"",
        &m.url,
    );
    let short = ClientStack::from_config(&cfg).unwrap();
    let err = short
        .send(ChatRequest::user_text("m", "q3"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::RateLimited { retry_after: Some(d) } if d > Duration::from_secs(25))
    );
    assert_eq!(
        status_count(&m, "429"),
        1,
        "a long retry-after ends the retries at once"
    );
}

#[tokio::test]
async fn an_outage_opens_the_breaker_and_the_fallback_answers() {
    let m = mock("[[timeline]]\nat = \"0s\"\nfor = \"30s\"\nkind = \"outage\"\nstatus = 503").await;
    let obs = Arc::new(CountingObserver::default());
    let cfg = config(
        "[breaker]\nmin_calls = 5\nfailure_ratio = 0.5\nopen_for = \"30s\"\n[fallback]\norder = [\"local\"]",
        &m.url,
    );
    let stack = ClientStack::builder(&cfg)
        .observer(obs.clone())
        .build()
        .unwrap();
    for i in 0..20 {
        let r = stack
            .send(ChatRequest::user_text("m", format!("q{i}")))
            .await
            .unwrap();
        assert_eq!(r.outcome, Outcome::Fallback);
    }
    assert_eq!(
        status_count(&m, "503"),
        5,
        "after 5 failures the breaker stops the calls"
    );
    assert_eq!(
        stack.breaker_state(),
        Some(gauntlet::client::BreakerState::Open)
    );
    assert_eq!(CountingObserver::get(&obs.breaker_opened), 1);
}

#[tokio::test]
async fn identical_concurrent_prompts_make_one_upstream_call() {
    let m = mock("[latency]\ndistribution = \"fixed\"\nvalue = \"200ms\"").await;
    let cfg = config("[cache]\nttl = \"1m\"\ncoalesce = true", &m.url);
    let stack = ClientStack::from_config(&cfg).unwrap();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let stack = stack.clone();
            tokio::spawn(async move {
                stack
                    .send(ChatRequest::user_text("m", "same question"))
                    .await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap().unwrap().outcome);
    }
    assert_eq!(m.state.stats().requests, 1);
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == Outcome::Coalesced)
            .count(),
        9
    );
    let again = stack
        .send(ChatRequest::user_text("m", "same question"))
        .await
        .unwrap();
    assert_eq!(again.outcome, Outcome::CacheHit);
    assert_eq!(m.state.stats().requests, 1);
}

#[tokio::test]
async fn a_quota_exhausted_key_is_not_retried() {
    let m = mock("[limits]\nrequests_per_day = 1").await;
    let cfg = config("[retry]\nmax_attempts = 5\nbase_delay = \"10ms\"", &m.url);
    let stack = ClientStack::from_config(&cfg).unwrap();
    stack.send(ChatRequest::user_text("m", "a")).await.unwrap();
    let req = ChatRequest::user_text("m", "b");
    let trace = req.trace.clone();
    let err = stack.send(req).await.unwrap_err();
    assert_eq!(err, ClientError::QuotaExhausted);
    assert_eq!(trace.attempts(), 1);
    assert_eq!(m.state.stats().requests, 2);
    assert_eq!(m.state.stats().by_retry_count.get("0"), Some(&2));
}

#[tokio::test]
async fn streams_record_time_to_first_token() {
    let m = mock("[stream]\ntime_to_first_token = \"150ms\"\nper_token = \"1ms\"").await;
    let stack = ClientStack::from_config(&config("", &m.url)).unwrap();
    let mut req = ChatRequest::user_text("m", "stream please");
    req.stream = true;
    let r = stack.send(req).await.unwrap();
    assert!(r.ttft.unwrap() >= Duration::from_millis(150));
    assert!(!r.text.is_empty());
    assert!(r.usage.unwrap().completion_tokens > 0);
}

/// A stream cut after its first token is restarted only when the scenario allows it: the
/// caller may already have shown those tokens (see the next test for the default).
#[tokio::test]
async fn truncated_streams_and_resets_are_retried() {
    let m = mock("[[failures]]\nkind = \"truncate\"\nprobability = 0.3\n[[failures]]\nkind = \"reset\"\nprobability = 0.2").await;
    let cfg = config(
        "[retry]\nmax_attempts = 10\nbase_delay = \"1ms\"\nmax_delay = \"5ms\"\nrestart_broken_streams = true",
        &m.url,
    );
    let stack = ClientStack::from_config(&cfg).unwrap();
    for i in 0..10 {
        let mut req = ChatRequest::user_text("m", format!("q{i}"));
        req.stream = i % 2 == 0;
        stack.send(req).await.unwrap();
    }
    assert!(m.state.stats().by_fault.values().sum::<u64>() > 0);
}

#[tokio::test]
async fn a_stream_cut_after_its_first_token_is_broken_not_retried() {
    let m = mock("[[failures]]\nkind = \"truncate\"\nprobability = 1.0\n[reply]\ntokens = { distribution = \"fixed\", value = 8 }").await;
    let cfg = config("[retry]\nmax_attempts = 5\nbase_delay = \"1ms\"", &m.url);
    let stack = ClientStack::from_config(&cfg).unwrap();
    let mut req = ChatRequest::user_text("m", "cut me");
    req.stream = true;
    let trace = req.trace.clone();
    let err = stack.send(req).await.unwrap_err();
    assert_eq!(err.kind(), "stream_broken", "{err:?}");
    assert_eq!(trace.attempts(), 1);
    assert_eq!(m.state.stats().requests, 1);
}

#[tokio::test]
async fn auto_adapter_moves_to_the_new_api_on_410() {
    let m = mock("[[timeline]]\nat = \"0s\"\nkind = \"deprecate\"\nroute = \"/v1/chat\"").await;
    let mut cfg = config("", &m.url);
    cfg.adapter.api = ApiVersion::Auto;
    let stack = ClientStack::from_config(&cfg).unwrap();
    assert!(!stack.uses_chat_completions());
    stack.send(ChatRequest::user_text("m", "a")).await.unwrap();
    assert!(stack.uses_chat_completions());
    stack.send(ChatRequest::user_text("m", "b")).await.unwrap();
    let routes = m.state.stats().by_route;
    assert_eq!(routes.get("/v1/chat"), Some(&1));
    assert_eq!(routes.get("/v1/chat/completions"), Some(&2));
}

/// The whole stack on a paused clock against the mock's Router in-process: every delay exact.
#[tokio::test(start_paused = true)]
async fn whole_stack_on_virtual_time_has_exact_delays() {
    let faults = parse_toml(
        "[latency]\ndistribution = \"fixed\"\nvalue = \"100ms\"\n\
         [[timeline]]\nat = \"0s\"\nfor = \"1s\"\nkind = \"outage\"\nstatus = 503",
        "t",
    )
    .unwrap();
    let state = MockState::new(faults, MockOptions::default());
    let cfg: ClientConfig = toml::from_str(
        "[retry]\nmax_attempts = 4\nbase_delay = \"200ms\"\nmultiplier = 2.0\njitter = \"none\"\n\
         [timeout]\nattempt = \"5s\"\ntotal = \"10s\"\n\
         [limiter]\nrate = \"100/s\"\nburst = 10\n\
         [breaker]\nmin_calls = 100\n\
         [cache]\nttl = \"1m\"\n\
         [fallback]\norder = [\"stale\", \"local\"]",
    )
    .unwrap();
    let stack = ClientStack::builder(&cfg)
        .transport(in_process_transport(router(state.clone())))
        .build()
        .unwrap();
    let t0 = tokio::time::Instant::now();
    let req = ChatRequest::user_text("m", "hello");
    let trace = req.trace.clone();
    let r = stack.send(req).await.unwrap();
    // Attempts at 0, 200 ms, 600 ms fail (outage); 1400 ms succeeds after 100 ms of latency.
    assert_eq!(r.outcome, Outcome::Upstream);
    assert_eq!(t0.elapsed(), Duration::from_millis(1500));
    assert_eq!(trace.attempts(), 4);
    assert_eq!(r.attempts, 4);
    assert_eq!(trace.retry_wait(), Duration::from_millis(1400));
    let hit = stack
        .send(ChatRequest::user_text("m", "hello"))
        .await
        .unwrap();
    assert_eq!(hit.outcome, Outcome::CacheHit);
    assert_eq!(t0.elapsed(), Duration::from_millis(1500));
}
