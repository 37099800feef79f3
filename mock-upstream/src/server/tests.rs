//! The router in-process, as a tower `Service` with no socket, on a paused clock.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

use super::{router, MockOptions, MockState, ResetConnection};
use crate::faults::parse_toml;

fn chat(key: &str) -> Request<Body> {
    Request::post("/v1/chat/completions")
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(Body::from(
            r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#,
        ))
        .unwrap()
}

fn mock(toml: &str) -> axum::Router {
    let cfg = parse_toml(toml, "test").unwrap();
    router(MockState::new(cfg, MockOptions::default()))
}

#[tokio::test(start_paused = true)]
async fn buckets_and_windows_follow_virtual_time() {
    let app = mock(
        "[limits]\nrequests_per_minute = 2\n\
         [latency]\ndistribution = \"fixed\"\nvalue = \"300ms\"\n\
         [[timeline]]\nat = \"30s\"\nfor = \"15s\"\nkind = \"outage\"\nstatus = 503",
    );
    let t0 = tokio::time::Instant::now();
    for _ in 0..2 {
        let resp = app.clone().oneshot(chat("k")).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }
    // Latency elapsed on the virtual clock, exactly.
    assert_eq!(t0.elapsed(), Duration::from_millis(600));
    let resp = app.clone().oneshot(chat("k")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    // 2 per minute refill one every 30 s; 600 ms have passed.
    assert_eq!(resp.headers()["retry-after-ms"], "29400");
    tokio::time::advance(Duration::from_millis(29_400)).await;
    // 30 s in: the bucket has one token again, and the outage has begun.
    let resp = app.clone().oneshot(chat("k")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    tokio::time::advance(Duration::from_secs(15)).await;
    let resp = app.clone().oneshot(chat("k")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn reset_is_a_marker_in_process() {
    let app = mock("[[failures]]\nkind = \"reset\"\nprobability = 1.0");
    let resp = app.oneshot(chat("k")).await.unwrap();
    assert!(resp.extensions().get::<ResetConnection>().is_some());
}

/// `GET /_test/panic`, routed only in this crate's unit tests: a handler with a bug.
pub(super) async fn panics() -> axum::response::Response {
    panic!("injected by the test route")
}

#[tokio::test]
async fn a_panicking_handler_answers_500_over_http_and_is_counted() {
    let cfg = parse_toml("", "test").unwrap();
    let state = MockState::new(cfg, MockOptions::default());
    let listener = super::listen(std::net::SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(super::serve(listener, router(state.clone()), async {
        let _ = stopped.await;
    }));
    let c = reqwest::Client::new();
    for _ in 0..2 {
        let r = c.get(format!("{url}/_test/panic")).send().await.unwrap();
        assert_eq!(r.status(), 500);
        assert!(r.headers().contains_key("x-request-id"));
        let b: serde_json::Value = r.json().await.unwrap();
        assert_eq!(b["error"]["type"], "server_error");
        let msg = b["error"]["message"].as_str().unwrap();
        assert!(msg.contains("injected by the test route"), "{msg}");
    }
    // The connection, and the server, carry on.
    let r = c.get(format!("{url}/_mock/health")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let s: serde_json::Value = c
        .get(format!("{url}/_mock/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["panics"], 2);
    assert_eq!(s["by_status"]["500"], 2);
    let m = c
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("mock_upstream_panics_total 2\n"), "{m}");
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
