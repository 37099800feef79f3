//! A minimal stand-in for the observability engineer's `metrics`, `health` and `access_log`
//! modules (branch `proxy-obs`), behind the same signatures, so the server is wired to them now;
//! it is deleted when that branch is merged (only the `use` in `mod.rs` changes).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gauntlet_client::observer::BreakerState;
use gauntlet_client::{NoopObserver, SharedObserver};

/// Requests counted by route, outcome and status.
#[derive(Debug, Default)]
pub struct ProxyMetrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
}

impl ProxyMetrics {
    /// No requests yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The stack's observer (the stand-in counts nothing from it).
    pub fn observer(self: &Arc<Self>) -> SharedObserver {
        Arc::new(NoopObserver)
    }

    /// One finished proxied request.
    pub fn request_done(&self, route: &str, outcome: &str, status: u16, _latency: Duration) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((route.into(), outcome.into(), status)).or_default() += 1;
        }
    }

    /// What the upstream last said about its quota (ignored by the stand-in).
    pub fn upstream_quota(&self, _requests: Option<u64>, _tokens: Option<u64>) {}

    /// Prometheus text.
    pub fn render(&self, stack: &gauntlet_client::ClientStack) -> String {
        let mut out = String::from("# TYPE gauntlet_proxy_requests_total counter\n");
        if let Ok(m) = self.requests.lock() {
            for ((route, outcome, status), n) in m.iter() {
                out.push_str(&format!(
                    "gauntlet_proxy_requests_total{{route=\"{route}\",outcome=\"{outcome}\",status=\"{status}\"}} {n}\n"
                ));
            }
        }
        out.push_str(&format!(
            "# TYPE gauntlet_proxy_limiter_queue_depth gauge\ngauntlet_proxy_limiter_queue_depth {}\n",
            stack.queue_depth()
        ));
        out
    }
}

/// Whether the upstream answered recently.
#[derive(Debug)]
pub struct Health {
    window: Duration,
    last: Mutex<Option<tokio::time::Instant>>,
}

impl Health {
    /// "Recently" is within `window`.
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            last: Mutex::new(None),
        }
    }

    /// Any HTTP answer from the upstream.
    pub fn upstream_answered(&self) {
        if let Ok(mut l) = self.last.lock() {
            *l = Some(tokio::time::Instant::now());
        }
    }

    /// Answered recently, or the breaker is closed (or absent).
    pub fn ready(&self, breaker: Option<BreakerState>) -> bool {
        let recent = self
            .last
            .lock()
            .ok()
            .and_then(|l| *l)
            .is_some_and(|t| t.elapsed() <= self.window);
        recent || !matches!(breaker, Some(BreakerState::Open))
    }
}

/// One line of the access log.
pub mod access_log {
    use std::time::Duration;

    /// One proxied request.
    #[derive(Debug)]
    pub struct AccessLine<'a> {
        /// `x-request-id`.
        pub request_id: &'a str,
        /// The route path.
        pub route: &'a str,
        /// Who the caller is, if known.
        pub caller: Option<&'a str>,
        /// The status sent.
        pub status: u16,
        /// The stack's outcome or error kind.
        pub outcome: &'a str,
        /// Upstream attempts.
        pub attempts: u32,
        /// Time to the answer's head (or the stream's end).
        pub latency: Duration,
        /// Whether the answer streamed.
        pub stream: bool,
        /// The prompt, only when asked for.
        pub prompt: Option<&'a str>,
    }

    /// One JSON object per line.
    pub fn write_line(out: &mut dyn std::io::Write, line: &AccessLine<'_>) -> std::io::Result<()> {
        let v = serde_json::json!({
            "request_id": line.request_id, "route": line.route, "caller": line.caller, "status": line.status,
            "outcome": line.outcome, "attempts": line.attempts, "latency_ms": line.latency.as_secs_f64() * 1000.0,
            "stream": line.stream, "prompt": line.prompt,
        });
        writeln!(out, "{v}")
    }
}
