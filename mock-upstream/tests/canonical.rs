//! The canonical fault file means what its comments say.

use std::time::Duration;

use mock_upstream::faults::engine::{LimitResource, Outcome, RequestInfo, Route};
use mock_upstream::faults::{load_file, FaultEngine};
use tokio::time::Instant;

fn req(route: Route, key: &str) -> RequestInfo<'_> {
    RequestInfo {
        route,
        api_key: Some(key),
        model: "gpt-4o-mini",
        prompt_tokens: 20,
        prompt_hash: 3,
        max_tokens: None,
        queued: 0,
    }
}

#[test]
fn canonical_file_means_what_it_says() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/faults/canonical.toml");
    let cfg = load_file(path.as_ref()).unwrap();
    assert_eq!(cfg.spec().seed, Some(7));
    assert_eq!(cfg.spec().tools.auto_call_share.0, 0.3);
    let t0 = Instant::now();
    let at = |s: u64| t0 + Duration::from_secs(s);
    let mut e = FaultEngine::new(cfg, None, t0);

    // sk-free-1: 3 requests per minute of its own, tokens per minute inherited from [limits].
    let d = e.decide(at(0), &req(Route::ChatCompletions, "sk-free-1"));
    assert_eq!(d.rate_limits.requests.unwrap().limit, 3);
    assert_eq!(d.rate_limits.tokens.unwrap().limit, 40_000);
    // Unlisted keys get 401.
    assert!(matches!(
        e.decide(at(0), &req(Route::ChatCompletions, "sk-other"))
            .outcome,
        Outcome::Unauthorized { provided: true }
    ));
    // 30..45 s: outage 503.
    assert_eq!(
        e.decide(at(30), &req(Route::ChatCompletions, "sk-free-1"))
            .outcome,
        Outcome::Outage(503)
    );
    assert_eq!(
        e.decide(at(44), &req(Route::LegacyChat, "sk-free-1"))
            .outcome,
        Outcome::Outage(503)
    );
    // 60..80 s: latency x8. Two engines with the same seed make the same first draw, so the
    // one asked inside the window answers exactly 8 times slower (spikes come from their own
    // stream and are the same in both).
    let fresh = || FaultEngine::new(load_file(path.as_ref()).unwrap(), None, t0);
    let before = fresh().decide(at(0), &req(Route::ChatCompletions, "sk-free-1"));
    let inside = fresh().decide(at(60), &req(Route::ChatCompletions, "sk-free-1"));
    let after = fresh().decide(at(80), &req(Route::ChatCompletions, "sk-free-1"));
    assert_eq!(before.spiked, inside.spiked);
    assert!(!before.spiked, "seed 7's first request is not a spike");
    let ratio = inside.delay.as_secs_f64() / before.delay.as_secs_f64();
    assert!((ratio - 8.0).abs() < 1e-6, "{ratio}");
    assert_eq!(after.delay, before.delay);
    // From 90 s the default drops to 20 rpm; sk-free-1 keeps its own 3.
    let d = e.decide(at(95), &req(Route::ChatCompletions, "sk-free-1"));
    assert_eq!(d.rate_limits.requests.map(|v| v.limit), Some(3));
    // From 2 min, /v1/chat is gone but /v1/chat/completions is not.
    assert_eq!(
        e.decide(at(120), &req(Route::LegacyChat, "sk-free-1"))
            .outcome,
        Outcome::Gone
    );
    // sk-free-1's daily quota of 10 runs out.
    let mut quota_hit = false;
    for i in 0..40u64 {
        match e
            .decide(at(1000 + 30 * i), &req(Route::ChatCompletions, "sk-free-1"))
            .outcome
        {
            Outcome::QuotaExhausted => {
                quota_hit = true;
                break;
            }
            Outcome::RateLimited {
                resource: LimitResource::Requests,
                ..
            } => {}
            _ => {}
        }
    }
    assert!(quota_hit);
}

#[test]
fn the_default_limit_change_applies_to_unlisted_limits() {
    let toml = "[limits]\nrequests_per_minute = 60\n[[timeline]]\nat = \"90s\"\nkind = \"set\"\nlimits = { requests_per_minute = 20 }";
    let cfg = mock_upstream::faults::parse_toml(toml, "t").unwrap();
    let t0 = Instant::now();
    let mut e = FaultEngine::new(cfg, None, t0);
    let d = e.decide(t0, &req(Route::ChatCompletions, "anyone"));
    assert_eq!(d.rate_limits.requests.unwrap().limit, 60);
    let d = e.decide(
        t0 + Duration::from_secs(90),
        &req(Route::ChatCompletions, "anyone"),
    );
    assert_eq!(d.rate_limits.requests.unwrap().limit, 20);
}
