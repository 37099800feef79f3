//! The exposition read back by the strict parser of `test_parser`, and the counters checked
//! against the events fed through the observer.

use std::sync::Arc;
use std::time::Duration;

use gauntlet_client::observer::{BreakerState, Event};
use gauntlet_client::{ClientConfig, ClientStack, Outcome};
use mock_upstream::faults::FaultConfig;
use mock_upstream::server::{router, MockOptions, MockState};

use super::test_parser::{parse, parse_sample};
use super::{escape_label, Kind, Metric, ProxyMetrics, LATENCY_BUCKETS};
use crate::in_process::in_process_transport;

/// A stack with the layers `toml` turns on, over the mock in-process: only its gauges are read.
fn stack(toml: &str) -> ClientStack {
    let cfg: ClientConfig = toml::from_str(toml).expect("valid client config");
    let state = MockState::new(FaultConfig::default(), MockOptions::default());
    ClientStack::builder(&cfg)
        .transport(in_process_transport(router(state)))
        .build()
        .expect("stack builds")
}

#[test]
fn every_metric_has_help_and_type_and_the_exposition_parses() {
    let m = ProxyMetrics::new();
    let exp = parse(&m.render(&stack("[breaker]\n[limiter]\nrate = \"5/s\"")));
    for metric in Metric::ALL {
        assert_eq!(
            exp.types.get(metric.name()).map(String::as_str),
            Some(metric.kind().as_str()),
            "{}",
            metric.name()
        );
        match metric.kind() {
            Kind::Counter => assert!(metric.name().ends_with("_total")),
            Kind::Histogram => assert!(metric.name().ends_with("_seconds")),
            Kind::Gauge => assert!(!metric.name().ends_with("_total")),
        }
    }
    assert_eq!(
        exp.value("gauntlet_proxy_upstream_attempts_total", &[]),
        Some(0.0)
    );
    assert_eq!(
        exp.value("gauntlet_proxy_limiter_queue_depth", &[]),
        Some(0.0)
    );
    assert_eq!(
        exp.value("gauntlet_proxy_breaker_state", &[("state", "closed")]),
        Some(1.0)
    );
    assert_eq!(
        exp.value("gauntlet_proxy_breaker_state", &[("state", "open")]),
        Some(0.0)
    );
    assert!(
        exp.family("gauntlet_proxy_upstream_remaining_requests")
            .is_empty(),
        "an upstream gauge nobody reported is absent, not 0"
    );
}

#[test]
fn label_values_are_escaped_and_read_back() {
    let raw = "a\"b\\c\nd";
    assert_eq!(escape_label(raw), "a\\\"b\\\\c\\nd");
    let line = format!("x_total{{k=\"{}\",j=\"\"}} 3", escape_label(raw));
    let s = parse_sample(&line).unwrap();
    assert_eq!(
        s.labels,
        vec![("k".into(), raw.into()), ("j".into(), String::new())]
    );
    assert!(
        parse_sample("x_total{k=\"a\\q\"} 1").is_err(),
        "the parser is strict"
    );
}

#[test]
fn counters_move_with_the_events_fed_through_the_observer() {
    let m = Arc::new(ProxyMetrics::new());
    let obs = m.observer();
    let events = [
        Event::Attempt { number: 1 },
        Event::Attempt { number: 2 },
        Event::Retry {
            attempt: 1,
            delay: Duration::from_millis(100),
            error: "server_error",
        },
        Event::Retry {
            attempt: 2,
            delay: Duration::from_millis(200),
            error: "not a kind",
        },
        Event::RetryBudgetExhausted,
        Event::LimiterWait {
            wait: Duration::from_millis(30),
        },
        Event::LimiterRejected,
        Event::LimiterRate { rate: 2.5 },
        Event::LimiterRate { rate: f64::NAN },
        Event::Breaker {
            from: BreakerState::Closed,
            to: BreakerState::Open,
        },
        Event::RateLimitSeen {
            remaining_requests: Some(41),
            limit_requests: Some(60),
        },
        Event::CacheMiss,
        Event::Served {
            outcome: Outcome::CacheHit,
        },
        Event::Served {
            outcome: Outcome::Coalesced,
        },
        Event::Served {
            outcome: Outcome::Stale,
        },
        Event::Filtered {
            action: "redact",
            matches: 2,
        },
    ];
    for e in &events {
        obs.on_event(e);
    }
    m.upstream_quota(None, Some(9000));
    let exp = parse(&m.render(&stack("")));
    let v = |name: &str, labels: &[(&str, &str)]| exp.value(name, labels);
    assert_eq!(v("gauntlet_proxy_upstream_attempts_total", &[]), Some(2.0));
    assert_eq!(
        v(
            "gauntlet_proxy_retries_total",
            &[("reason", "server_error")]
        ),
        Some(1.0)
    );
    assert_eq!(
        v("gauntlet_proxy_retries_total", &[("reason", "other")]),
        Some(1.0),
        "a reason outside the closed list is other"
    );
    assert_eq!(
        v("gauntlet_proxy_retry_budget_exhausted_total", &[]),
        Some(1.0)
    );
    assert_eq!(v("gauntlet_proxy_limiter_waits_total", &[]), Some(1.0));
    assert_eq!(
        v("gauntlet_proxy_limiter_wait_seconds_count", &[]),
        Some(1.0)
    );
    assert_eq!(
        v("gauntlet_proxy_limiter_wait_seconds_sum", &[]),
        Some(0.03)
    );
    assert_eq!(
        v(
            "gauntlet_proxy_limiter_wait_seconds_bucket",
            &[("le", "0.025")]
        ),
        Some(0.0)
    );
    assert_eq!(
        v(
            "gauntlet_proxy_limiter_wait_seconds_bucket",
            &[("le", "0.05")]
        ),
        Some(1.0)
    );
    assert_eq!(v("gauntlet_proxy_limiter_rejections_total", &[]), Some(1.0));
    assert_eq!(
        v("gauntlet_proxy_limiter_rate", &[]),
        Some(2.5),
        "NaN ignored"
    );
    assert_eq!(
        v(
            "gauntlet_proxy_breaker_transitions_total",
            &[("from", "closed"), ("to", "open")]
        ),
        Some(1.0)
    );
    assert_eq!(
        exp.family("gauntlet_proxy_breaker_state").len(),
        0,
        "no breaker"
    );
    assert_eq!(
        v("gauntlet_proxy_upstream_remaining_requests", &[]),
        Some(41.0)
    );
    assert_eq!(v("gauntlet_proxy_upstream_limit_requests", &[]), Some(60.0));
    assert_eq!(
        v("gauntlet_proxy_upstream_remaining_tokens", &[]),
        Some(9000.0)
    );
    assert_eq!(v("gauntlet_proxy_cache_misses_total", &[]), Some(1.0));
    for (outcome, n) in [
        ("cache_hit", 1.0),
        ("coalesced", 1.0),
        ("stale", 1.0),
        ("fallback", 0.0),
        ("queued", 0.0),
    ] {
        assert_eq!(
            v(
                "gauntlet_proxy_local_answers_total",
                &[("outcome", outcome)]
            ),
            Some(n),
            "{outcome}"
        );
    }
    assert_eq!(
        v(
            "gauntlet_proxy_local_answers_total",
            &[("outcome", "upstream")]
        ),
        None
    );
    assert_eq!(v("gauntlet_proxy_filtered_total", &[]), Some(1.0));
    m.upstream_quota(Some(40), None);
    let exp = parse(&m.render(&stack("")));
    assert_eq!(
        exp.value("gauntlet_proxy_upstream_remaining_tokens", &[]),
        Some(9000.0),
        "a missing header keeps the last figure"
    );
    assert_eq!(
        exp.value("gauntlet_proxy_upstream_remaining_requests", &[]),
        Some(40.0)
    );
}

#[test]
fn requests_are_counted_by_route_outcome_and_status_with_unknowns_as_other() {
    let m = ProxyMetrics::new();
    let chat = "/v1/chat/completions";
    m.request_done(chat, "upstream", 200, Duration::from_millis(3));
    m.request_done(chat, "upstream", 200, Duration::from_millis(70));
    m.request_done(chat, "rejected_limiter", 429, Duration::from_millis(1));
    m.request_done("/v1/embeddings", "cache_hit", 200, Duration::from_millis(1));
    m.request_done("/etc/passwd", "\"}evil", 404, Duration::from_millis(1));
    m.request_done(chat, "upstream", 0, Duration::from_millis(1));
    let exp = parse(&m.render(&stack("")));
    let req = |route: &str, outcome: &str| {
        exp.value(
            "gauntlet_proxy_requests_total",
            &[("route", route), ("outcome", outcome)],
        )
    };
    assert_eq!(req(chat, "upstream"), Some(3.0));
    assert_eq!(req(chat, "rejected_limiter"), Some(1.0));
    assert_eq!(req("/v1/embeddings", "cache_hit"), Some(1.0));
    assert_eq!(req("other", "other"), Some(1.0));
    let status = |route: &str, status: &str| {
        exp.value(
            "gauntlet_proxy_responses_total",
            &[("route", route), ("status", status)],
        )
    };
    assert_eq!(status(chat, "200"), Some(2.0), "status 0 is not counted");
    assert_eq!(status(chat, "429"), Some(1.0));
    assert_eq!(status("other", "404"), Some(1.0));
    assert!(
        exp.samples
            .iter()
            .flat_map(|s| &s.labels)
            .all(|(_, v)| !v.contains("evil") && !v.contains("passwd")),
        "no label value from the caller"
    );
}

#[test]
fn histogram_buckets_are_cumulative_and_inf_is_the_count() {
    let m = ProxyMetrics::new();
    let route = "/v1/responses";
    let latencies_ms = [1, 5, 6, 60, 70, 999, 1000, 200_000, 86_400_000 * 3];
    for ms in latencies_ms {
        m.request_done(route, "upstream", 200, Duration::from_millis(ms));
    }
    let exp = parse(&m.render(&stack("")));
    let name = "gauntlet_proxy_request_duration_seconds";
    let buckets: Vec<(f64, f64)> = exp
        .family(name)
        .into_iter()
        .filter(|s| s.name.ends_with("_bucket"))
        .map(|s| {
            let le = s.labels.iter().find(|(k, _)| k == "le").unwrap();
            let bound = if le.1 == "+Inf" {
                f64::INFINITY
            } else {
                le.1.parse().unwrap()
            };
            (bound, s.value)
        })
        .collect();
    assert_eq!(buckets.len(), LATENCY_BUCKETS.len() + 1);
    for ((bound, _), expected) in buckets.iter().zip(LATENCY_BUCKETS) {
        assert_eq!(*bound, expected);
    }
    for pair in buckets.windows(2) {
        assert!(pair[0].0 < pair[1].0 && pair[0].1 <= pair[1].1, "{pair:?}");
    }
    for (bound, cumulative) in &buckets {
        let at_most = latencies_ms
            .iter()
            .filter(|ms| **ms as f64 / 1000.0 <= *bound)
            .count();
        assert_eq!(*cumulative, at_most as f64, "le={bound}");
    }
    let count = exp.value(&format!("{name}_count"), &[("route", route)]);
    assert_eq!(buckets.last().map(|b| b.1), count);
    assert_eq!(count, Some(latencies_ms.len() as f64));
    let sum = exp
        .value(&format!("{name}_sum"), &[("route", route)])
        .unwrap();
    let expected_sum = (1 + 5 + 6 + 60 + 70 + 999 + 1000 + 200_000 + 86_400_000) as f64 / 1000.0;
    assert!(
        (sum - expected_sum).abs() < 1e-6,
        "{sum}: a day at most per observation"
    );
    assert!(
        exp.value(
            &format!("{name}_count"),
            &[("route", "/v1/chat/completions")]
        )
        .is_none(),
        "a route never asked for has no histogram"
    );
}

#[test]
fn the_readme_table_names_every_metric() {
    let readme = include_str!("../../../README.md");
    let section = readme
        .split("### Metrics")
        .nth(1)
        .expect("README has a ### Metrics section");
    for m in Metric::ALL {
        let row = format!("| `{}` | {} |", m.name(), m.kind().as_str());
        assert!(section.contains(&row), "README misses the row {row}");
    }
}

#[test]
fn pool_chain_cap_and_deferral_events_have_their_series() {
    let m = Arc::new(ProxyMetrics::new());
    let obs = m.observer();
    let key = |k: &str| -> Arc<str> { k.into() };
    let events = [
        Event::KeyChosen { key: key("free") },
        Event::KeyChosen { key: key("free") },
        Event::KeyChosen { key: key("paid") },
        Event::KeyCooledDown {
            key: key("free"),
            rest: Duration::from_secs(2),
        },
        Event::KeySpent { key: key("free") },
        Event::KeyCost {
            key: key("paid"),
            tokens: 120,
            cost: 0.06,
            paid: true,
        },
        Event::KeyCost {
            key: key("paid"),
            tokens: 30,
            cost: f64::NAN,
            paid: true,
        },
        Event::Degraded {
            from: key("caller-\"}chosen"),
            to: key("gpt-small"),
        },
        Event::Degraded {
            from: key("gpt-big"),
            to: key("gpt-small"),
        },
        Event::AnswerCapped {
            requested: Some(4000),
            cap: 256,
        },
        Event::Deferred {
            wait: Duration::from_millis(300),
        },
        Event::DeferralExpired,
        Event::DeferralExpired,
    ];
    for e in &events {
        obs.on_event(e);
    }
    let text = m.render(&stack(""));
    let exp = parse(&text);
    let (free, paid) = ("free", "paid");
    let by_key = |name: &str, k: &str| exp.value(name, &[("key", k)]);
    assert_eq!(by_key("gauntlet_proxy_key_requests_total", free), Some(2.0));
    assert_eq!(by_key("gauntlet_proxy_key_requests_total", paid), Some(1.0));
    assert_eq!(
        by_key("gauntlet_proxy_key_cooldowns_total", free),
        Some(1.0)
    );
    assert_eq!(
        by_key("gauntlet_proxy_key_cooldowns_total", paid),
        Some(0.0),
        "a key seen has every series, zeros included"
    );
    assert_eq!(by_key("gauntlet_proxy_keys_spent_total", free), Some(1.0));
    assert_eq!(by_key("gauntlet_proxy_key_tokens_total", paid), Some(150.0));
    assert_eq!(
        by_key("gauntlet_proxy_key_cost_total", paid),
        Some(0.06),
        "a NaN cost is not added"
    );
    assert_eq!(by_key("gauntlet_proxy_key_cost_total", free), Some(0.0));
    assert_eq!(exp.family("gauntlet_proxy_key_requests_total").len(), 2);
    assert_eq!(
        exp.value("gauntlet_proxy_degraded_total", &[("model", "gpt-small")]),
        Some(2.0)
    );
    assert_eq!(exp.family("gauntlet_proxy_degraded_total").len(), 1);
    assert_eq!(
        exp.value("gauntlet_proxy_answers_capped_total", &[]),
        Some(1.0)
    );
    assert_eq!(exp.value("gauntlet_proxy_deferred_total", &[]), Some(1.0));
    assert_eq!(
        exp.value(
            "gauntlet_proxy_deferral_wait_seconds_bucket",
            &[("le", "0.25")]
        ),
        Some(0.0)
    );
    assert_eq!(
        exp.value(
            "gauntlet_proxy_deferral_wait_seconds_bucket",
            &[("le", "0.5")]
        ),
        Some(1.0)
    );
    assert_eq!(
        exp.value("gauntlet_proxy_deferral_wait_seconds_sum", &[]),
        Some(0.3)
    );
    assert_eq!(
        exp.value("gauntlet_proxy_deferrals_expired_total", &[]),
        Some(2.0)
    );
    for raw in ["caller", "gpt-big"] {
        assert!(!text.contains(raw), "{raw} in the exposition:\n{text}");
    }
}

#[test]
fn key_and_model_labels_are_bounded_and_the_rest_is_other() {
    let m = Arc::new(ProxyMetrics::new());
    let obs = m.observer();
    let n = 2 * gauntlet_client::pool::MAX_KEYS + 10;
    for i in 0..n {
        obs.on_event(&Event::KeyChosen {
            key: format!("k{i}").into(),
        });
        obs.on_event(&Event::Degraded {
            from: "x".into(),
            to: format!("m{i}").into(),
        });
    }
    let exp = parse(&m.render(&stack("")));
    let keys = exp.family("gauntlet_proxy_key_requests_total");
    assert_eq!(keys.len(), 2 * gauntlet_client::pool::MAX_KEYS + 1);
    assert_eq!(
        exp.value("gauntlet_proxy_key_requests_total", &[("key", "other")]),
        Some(10.0)
    );
    assert!(keys
        .iter()
        .all(|s| s.labels[0].1.starts_with('k') || s.labels[0].1 == "other"));
    let chain = 2 * gauntlet_client::models::MAX_CHAIN;
    assert_eq!(exp.family("gauntlet_proxy_degraded_total").len(), chain + 1);
    assert_eq!(
        exp.value("gauntlet_proxy_degraded_total", &[("model", "other")]),
        Some((n - chain) as f64)
    );
}

#[test]
fn a_new_stack_keeps_the_counters_and_unsets_the_old_limiters_rate() {
    let m = Arc::new(ProxyMetrics::new());
    let observer = m.observer();
    observer.on_event(&Event::LimiterRate { rate: 2.5 });
    observer.on_event(&Event::LimiterRejected);
    m.new_stack();
    let exp = parse(&m.render(&stack("[limiter]\nrate = \"5/s\"")));
    let v = |name: &str| exp.value(name, &[]);
    assert_eq!(v("gauntlet_proxy_limiter_rejections_total"), Some(1.0));
    assert_eq!(v("gauntlet_proxy_limiter_rate"), None);
}
