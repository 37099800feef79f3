//! The in-process transport: mock-upstream's `Router` called as a tower `Service`, no socket.
//! It lives in the toolkit, which knows both sides, so the client crate never depends on the mock.
//! A reset fault arrives as the `ResetConnection` response extension and becomes a
//! `TransportError::Reset`, exactly as a closed socket does over HTTP.

use bytes::Bytes;
use http_body_util::BodyExt;
use mock_upstream::server::ResetConnection;
use tower::ServiceExt;

use gauntlet_client::transport::{BoxError, Transport, TransportError};

/// A transport that calls `router` directly.
pub fn in_process_transport(router: axum::Router) -> Transport {
    Transport::new(move |req: http::Request<Bytes>| {
        let router = router.clone();
        async move {
            let resp = match router.oneshot(req.map(axum::body::Body::from)).await {
                Ok(resp) => resp,
                Err(never) => match never {},
            };
            if resp.extensions().get::<ResetConnection>().is_some() {
                return Err(TransportError::Reset(
                    "connection closed by the upstream (in-process)".into(),
                ));
            }
            Ok(resp.map(|b| b.map_err(|e| Box::new(e) as BoxError).boxed_unsync()))
        }
    })
}
