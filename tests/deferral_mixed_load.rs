//! Deferral end to end in simulation (the real mock, driver and stack on virtual time): a mixed
//! interactive / batch load that outruns a requests-per-minute quota for 40 s, then a quiet
//! minute. Holding batch requests back while less than `batch_reserve` of the quota is left
//! keeps the interactive error rate and p99 down, and the deferred batch requests are still
//! answered, later, in the quiet minute (directly or through the fallback's queue step).

use gauntlet::report::Summary;
use gauntlet::scenario::Scenario;

/// The scenario, with `deferral` added to `[client.limiter]`.
fn scenario(deferral: &str) -> Scenario {
    let text = format!(
        r#"
name = "deferral-mixed-load"
seed = 18
duration = "100s"

[upstream]
limits = {{ requests_per_minute = 60 }}
latency = {{ distribution = "fixed", value = "200ms" }}

[workload]
stages = [{{ for = "40s", rate = "4/s" }}, {{ for = "60s", rate = "0.2/s" }}]
batch_share = 0.5
drain = "150s"

[client.limiter]
rate = "20/s"
burst = 20
max_wait = "5s"
priorities = true
{deferral}

[client.fallback]
order = ["queue"]
queue_max_wait = "120s"
queue_retry_every = "2s"
"#
    );
    Scenario::parse(&text, "deferral-mixed-load.toml").unwrap()
}

fn simulate(deferral: &str) -> Summary {
    let s = scenario(deferral);
    let run = gauntlet::sim::run(&s, std::future::pending()).unwrap();
    Summary::build(&s, &run, "sim")
}

#[test]
fn deferring_batch_keeps_the_quota_for_interactive_and_still_answers_batch() {
    let plain = simulate("");
    let deferred = simulate("batch_reserve = \"50%\"\nbatch_max_wait = \"60s\"");
    let class = |s: &Summary, c: &str| s.by_priority[c].clone();
    let (pi, di) = (
        class(&plain, "interactive"),
        class(&deferred, "interactive"),
    );
    let (pb, db) = (class(&plain, "batch"), class(&deferred, "batch"));
    eprintln!(
        "interactive error rate {:.3} -> {:.3}, p99 {:.0} -> {:.0} ms; batch error rate {:.3} -> {:.3}, p50 {:.0} -> {:.0} ms; deferred {} expired {}",
        pi.error_rate, di.error_rate, pi.latency_ms.p99, di.latency_ms.p99,
        pb.error_rate, db.error_rate, pb.latency_ms.p50, db.latency_ms.p50,
        deferred.limiter.deferred, deferred.limiter.deferrals_expired,
    );
    assert_eq!(plain.limiter.deferred + plain.limiter.deferrals_expired, 0);
    let held = deferred.limiter.deferred + deferred.limiter.deferrals_expired;
    assert!(held > 20, "only {held} batch requests were held back");
    // Interactive traffic is better off: no more errors, and its p99 (the requests the
    // fallback had to queue behind the batch share) far lower.
    assert!(
        di.error_rate <= pi.error_rate,
        "interactive error rate {} vs {}",
        di.error_rate,
        pi.error_rate
    );
    assert!(
        di.latency_ms.p99 < pi.latency_ms.p99 / 2.0,
        "interactive p99 {} vs {}",
        di.latency_ms.p99,
        pi.latency_ms.p99
    );
    // Batch requests are still answered, later than without deferral.
    assert!(db.error_rate <= 0.05, "batch error rate {}", db.error_rate);
    assert!(db.latency_ms.p50 > pb.latency_ms.p50 * 10.0);
}
