//! A scenario whose mock breaks streams part-way: the report counts the streams that broke after
//! their first token as `stream_broken`, with what they had delivered, apart from other errors;
//! and their restarts, when the client is told to make them. On virtual time, through the whole
//! stack and the mock's own carry-out (in-process), so the figures are exact.

use gauntlet::report::Summary;
use gauntlet::scenario::Scenario;

/// Every request streams a ten-token reply; a fifth of them meet a stream error after 3
/// pieces, a tenth end unfinished after all 10, a tenth stall after 2 for longer than the
/// attempt timeout, and a tenth are cut to 4 tokens (a success with `finish_reason: "length"`).
fn scenario(restart: bool) -> Scenario {
    let text = format!(
        r#"
name = "broken-streams"
seed = 3
duration = "20s"

[upstream]
reply = {{ tokens = {{ distribution = "fixed", value = 10 }} }}
stream = {{ time_to_first_token = "50ms", per_token = "10ms" }}

[[upstream.failures]]
kind = "stream_error"
probability = 0.2
after = 3

[[upstream.failures]]
kind = "unfinished"
probability = 0.1

[[upstream.failures]]
kind = "stall"
probability = 0.1
after = 2
for = "5s"

[[upstream.failures]]
kind = "early_length"
probability = 0.1
after = 4

[workload]
arrivals = "constant"
stages = [{{ for = "20s", rate = "10/s" }}]
prompts = {{ distinct = 100000, zipf_exponent = 0.0 }}
stream_share = 1.0

[client.retry]
max_attempts = 3
base_delay = "10ms"
restart_broken_streams = {restart}

[client.timeout]
attempt = "1s"
total = "30s"

[client.breaker]
enabled = false
"#
    );
    Scenario::parse(&text, "broken-streams.toml").unwrap()
}

#[test]
fn streams_broken_after_their_first_token_are_an_outcome_of_their_own() {
    let s = scenario(false);
    let run = gauntlet::sim::run(&s, std::future::pending()).unwrap();
    let by_fault = run.mock_stats.as_ref().unwrap().by_fault.clone();
    let summary = Summary::build(&s, &run, "sim");
    let hits = |k: &str| by_fault.get(k).copied().unwrap_or(0);
    let (errors, unfinished, stalls) = (hits("stream_error"), hits("unfinished"), hits("stall"));
    assert!(errors > 0 && unfinished > 0 && stalls > 0, "{by_fault:?}");
    assert!(hits("early_length") > 0, "{by_fault:?}");
    // Each of them struck after content, so none was sent again: one request each.
    let broken = errors + unfinished + stalls;
    assert_eq!(summary.outcomes["stream_broken"], broken);
    assert_eq!(summary.error_kinds["stream_broken"], broken);
    assert_eq!(summary.outcomes["error"], 0, "{:?}", summary.error_kinds);
    assert_eq!(summary.requests.errors, broken);
    assert_eq!(
        summary.streams.tokens_before_break,
        3 * errors + 10 * unfinished + 2 * stalls
    );
    assert_eq!((summary.upstream.retries, summary.streams.restarts), (0, 0));
    assert_eq!(summary.upstream.calls, summary.requests.total);
    assert!(summary.metric("outcomes.stream_broken") > 0.0);
}

#[test]
fn restarts_of_broken_streams_are_counted_when_the_client_makes_them() {
    let s = scenario(true);
    let run = gauntlet::sim::run(&s, std::future::pending()).unwrap();
    let summary = Summary::build(&s, &run, "sim");
    assert!(summary.streams.restarts > 0);
    assert_eq!(summary.streams.restarts, summary.upstream.retries);
    assert_eq!(
        summary.upstream.calls,
        summary.requests.total + summary.streams.restarts
    );
    // A restarted stream that broke again on its last attempt is still counted as broken.
    assert!(summary.outcomes["stream_broken"] > 0);
    assert!(summary.outcomes["upstream"] > 0);
}
