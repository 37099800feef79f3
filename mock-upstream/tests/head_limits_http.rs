//! Heads over the mock's limits get OpenAI's JSON error body, over raw 127.0.0.1 sockets (an
//! HTTP client would refuse to send some of these heads, or hide the raw answer).

use std::time::Duration;

use mock_upstream::faults::FaultConfig;
use mock_upstream::server::{MockOptions, RunningMock, MAX_HEADER_BYTES, MAX_URI_BYTES};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Long enough that a test fails instead of hanging; never what a test asserts.
const GUARD: Duration = Duration::from_secs(20);

/// One raw exchange: a response's status, lower-cased head and body.
struct Raw {
    status: u16,
    head: String,
    body: Vec<u8>,
}

async fn start() -> RunningMock {
    RunningMock::start_local(FaultConfig::default(), MockOptions::default())
        .await
        .unwrap()
}

/// Sends `request` on a new connection and reads until the server closes it (the requests
/// here say `connection: close`, or are ones hyper closes on).
async fn exchange(m: &RunningMock, request: &[u8]) -> Raw {
    let mut s = TcpStream::connect(m.addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut all = Vec::new();
    tokio::time::timeout(GUARD, s.read_to_end(&mut all))
        .await
        .expect("the server should have answered and closed")
        .unwrap();
    let split = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(&all)));
    let head = String::from_utf8_lossy(&all[..split]).to_ascii_lowercase();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    Raw {
        status,
        head,
        body: all[split + 4..].to_vec(),
    }
}

/// A `GET` of `target` with `extra` header lines, closing after the answer.
fn get(target: &str, extra: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nhost: x\r\n{extra}connection: close\r\n\r\n").into_bytes()
}

/// The body parses as OpenAI's error shape; its `code`.
fn openai_error(raw: &Raw) -> String {
    assert!(
        raw.head.contains("content-type: application/json"),
        "{}",
        raw.head
    );
    let v: Value = serde_json::from_slice(&raw.body).expect("a JSON body");
    let e = &v["error"];
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    assert_eq!(e["type"], "invalid_request_error", "{v}");
    assert!(e["param"].is_null(), "{v}");
    e["code"].as_str().expect("a code").to_string()
}

#[tokio::test]
async fn a_header_section_of_100_kib_gets_431_with_openais_json_body() {
    let m = start().await;
    // Ten 10 KiB headers: over the mock's 64 KiB, well under hyper's buffer and field count.
    let pad = "h".repeat(10 * 1024);
    let extra: String = (0..10).map(|i| format!("x-pad-{i}: {pad}\r\n")).collect();
    assert!(extra.len() > MAX_HEADER_BYTES);
    let raw = exchange(&m, &get("/v1/models", &extra)).await;
    assert_eq!(raw.status, 431, "{}", raw.head);
    assert_eq!(openai_error(&raw), "request_header_fields_too_large");
    assert!(raw.head.contains("x-request-id: "), "{}", raw.head);
    assert_eq!(m.state.stats().by_status["431"], 1);
}

/// hyper's default buffer (8 KiB + 400 KiB) would answer this head itself, bare; serve raises
/// it so that the mock's layer answers.
#[tokio::test]
async fn a_header_section_over_hypers_default_buffer_still_gets_json() {
    let m = start().await;
    let pad = "h".repeat(60 * 1024);
    let extra: String = (0..10).map(|i| format!("x-pad-{i}: {pad}\r\n")).collect();
    assert!(extra.len() > 8192 + 4096 * 100);
    let raw = exchange(&m, &get("/v1/models", &extra)).await;
    assert_eq!(raw.status, 431, "{}", raw.head);
    assert_eq!(openai_error(&raw), "request_header_fields_too_large");
}

#[tokio::test]
async fn a_request_target_of_20_kib_gets_414_with_openais_json_body() {
    let m = start().await;
    let target = format!("/v1/models?pad={}", "u".repeat(20 * 1024));
    assert!(target.len() > MAX_URI_BYTES);
    let raw = exchange(&m, &get(&target, "")).await;
    assert_eq!(raw.status, 414, "{}", raw.head);
    assert_eq!(openai_error(&raw), "uri_too_long");
    assert_eq!(m.state.stats().by_status["414"], 1);
}

#[tokio::test]
async fn a_normal_request_next_to_the_limits_still_works() {
    let m = start().await;
    // Just under both limits.
    let target = format!("/v1/models?pad={}", "u".repeat(MAX_URI_BYTES / 2));
    let extra = format!("x-pad: {}\r\n", "h".repeat(MAX_HEADER_BYTES / 2));
    let raw = exchange(&m, &get(&target, &extra)).await;
    assert_eq!(raw.status, 200, "{}", raw.head);
    let v: Value = serde_json::from_slice(&raw.body).expect("a JSON body");
    assert_eq!(v["object"], "list", "{v}");
}

/// Pins down the limitation the README documents: hyper answers a head it cannot parse itself,
/// with a bare 400 and no hook to give it a body. If this starts failing, hyper changed and
/// the README's note should be revisited.
#[tokio::test]
async fn a_garbage_request_line_still_gets_hypers_bare_400() {
    let m = start().await;
    let raw = exchange(&m, b"NOT A\x01REQUEST\r\n\r\n").await;
    assert_eq!(raw.status, 400, "{}", raw.head);
    assert!(raw.body.is_empty());
}
