//! The upstream's view of an external target that is a mock: read from its `/_mock/stats`
//! at the run's start and end (a real API has no such route, and the run goes on without).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use mock_upstream::upstream_view::ViewSnapshot;
use serde::Deserialize;

use crate::client::transport::{http_transport, HttpTransportConfig};

/// How long a reading may take before the run goes on without it.
const WAIT: Duration = Duration::from_secs(2);
/// The most of a stats body read (a long run's intervals included).
const MAX_BYTES: usize = 64 << 20;

#[derive(Deserialize)]
struct Stats {
    upstream_view: Option<ViewSnapshot>,
}

/// The mock's view at `base_url` (the target the driver sends to), or `None` when it is not a
/// mock, needs an admin token, or does not answer in time.
pub(super) async fn read(base_url: String) -> Option<ViewSnapshot> {
    let uri = stats_uri(&base_url)?;
    let transport = http_transport(&HttpTransportConfig::default()).ok()?;
    let req = http::Request::get(uri).body(Bytes::new()).ok()?;
    let resp = tokio::time::timeout(WAIT, tower::ServiceExt::oneshot(transport, req))
        .await
        .ok()?
        .ok()?;
    if !resp.status().is_success() {
        return None;
    }
    let body = tokio::time::timeout(WAIT, collect(resp.into_body()))
        .await
        .ok()??;
    serde_json::from_slice::<Stats>(&body).ok()?.upstream_view
}

/// The body, up to [`MAX_BYTES`].
async fn collect(mut body: crate::client::transport::TransportBody) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.ok()?.into_data() {
            if out.len() + data.len() > MAX_BYTES {
                return None;
            }
            out.extend_from_slice(&data);
        }
    }
    Some(out)
}

/// `/_mock/stats` next to the API base (with or without its `/v1`).
fn stats_uri(base_url: &str) -> Option<http::Uri> {
    let base = base_url.trim_end_matches('/');
    let base = base.strip_suffix("/v1").unwrap_or(base);
    format!("{base}/_mock/stats").parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn stats_live_next_to_the_api() {
        for base in [
            "http://127.0.0.1:9/",
            "http://127.0.0.1:9/v1",
            "http://127.0.0.1:9",
        ] {
            assert_eq!(
                super::stats_uri(base).unwrap(),
                "http://127.0.0.1:9/_mock/stats"
            );
        }
    }
}
