//! `/metrics` in Prometheus' text format, so a running mock can be scraped next to the client.

use std::fmt::Write;

use super::stats::{StatsSnapshot, LATENCY_BUCKETS};

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The counters and the latency histogram in Prometheus' text format, for `GET /metrics`.
pub fn render(s: &StatsSnapshot) -> String {
    let mut out = String::new();
    out.push_str("# HELP mock_upstream_requests_total Requests answered, by route and status.\n");
    out.push_str("# TYPE mock_upstream_requests_total counter\n");
    for (route, statuses) in &s.by_route_status {
        for (status, n) in statuses {
            let _ = writeln!(
                out,
                "mock_upstream_requests_total{{route=\"{}\",status=\"{}\"}} {n}",
                escape(route),
                escape(status)
            );
        }
    }
    out.push_str("# HELP mock_upstream_faults_total Faults injected, by kind.\n");
    out.push_str("# TYPE mock_upstream_faults_total counter\n");
    for (fault, n) in &s.by_fault {
        let _ = writeln!(
            out,
            "mock_upstream_faults_total{{fault=\"{}\"}} {n}",
            escape(fault)
        );
    }
    out.push_str("# HELP mock_upstream_latency_spikes_total Requests that got a latency spike.\n");
    out.push_str("# TYPE mock_upstream_latency_spikes_total counter\n");
    let _ = writeln!(out, "mock_upstream_latency_spikes_total {}", s.spikes);
    out.push_str("# HELP mock_upstream_panics_total Handlers that panicked and answered 500.\n");
    out.push_str("# TYPE mock_upstream_panics_total counter\n");
    let _ = writeln!(out, "mock_upstream_panics_total {}", s.panics);
    out.push_str("# HELP mock_upstream_processing_seconds Time from request to response head.\n");
    out.push_str("# TYPE mock_upstream_processing_seconds histogram\n");
    let mut cumulative = 0u64;
    for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
        cumulative += s.latency_counts.get(i).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "mock_upstream_processing_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
        );
    }
    cumulative += s
        .latency_counts
        .get(LATENCY_BUCKETS.len())
        .copied()
        .unwrap_or(0);
    let _ = writeln!(
        out,
        "mock_upstream_processing_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
    );
    let _ = writeln!(
        out,
        "mock_upstream_processing_seconds_sum {}",
        s.latency_sum
    );
    let _ = writeln!(out, "mock_upstream_processing_seconds_count {cumulative}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::stats::{Observation, Stats};
    use std::time::Duration;

    #[test]
    fn histogram_is_cumulative_and_counts_match() {
        let stats = Stats::default();
        for ms in [1, 60, 70, 200_000] {
            stats.record(&Observation {
                route: "/v1/chat/completions",
                status: Some(200),
                fault: None,
                retry_count: None,
                spiked: false,
                processing: Duration::from_millis(ms),
            });
        }
        let text = render(&stats.snapshot());
        assert!(text.contains(
            "mock_upstream_requests_total{route=\"/v1/chat/completions\",status=\"200\"} 4"
        ));
        assert!(text.contains("mock_upstream_processing_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("mock_upstream_processing_seconds_bucket{le=\"0.1\"} 3\n"));
        assert!(text.contains("mock_upstream_processing_seconds_bucket{le=\"120\"} 3\n"));
        assert!(text.contains("mock_upstream_processing_seconds_bucket{le=\"+Inf\"} 4\n"));
        assert!(text.contains("mock_upstream_processing_seconds_count 4\n"));
    }
}
