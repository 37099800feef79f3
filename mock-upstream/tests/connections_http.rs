//! Connection bounds over real 127.0.0.1 sockets: slow-loris and idle clients are closed, and
//! connections beyond the cap wait until one closes.

use std::time::Duration;

use mock_upstream::faults::FaultConfig;
use mock_upstream::server::{listen, router, serve_with, MockOptions, MockState, ServeOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Long enough that a test fails instead of hanging; never what a test asserts.
const GUARD: Duration = Duration::from_secs(20);

const REQUEST: &[u8] = b"GET /_mock/health HTTP/1.1\r\nhost: x\r\n\r\n";

async fn start(options: ServeOptions) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = listen(std::net::SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(MockState::new(
        FaultConfig::default(),
        MockOptions::default(),
    ));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve_with(listener, app, options, async {
        let _ = rx.await;
    }));
    (addr, tx)
}

/// Reads until the server closes the connection; what was read.
async fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    tokio::time::timeout(GUARD, s.read_to_end(&mut all))
        .await
        .expect("the server should have closed the connection")
        .ok();
    all
}

/// Reads one response head plus the health body (`{"status":"ok"}`).
async fn read_health(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&got).ends_with("{\"status\":\"ok\"}") {
        let n = tokio::time::timeout(GUARD, s.read(&mut buf))
            .await
            .expect("no answer")
            .unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test]
async fn a_slow_loris_head_is_closed_after_the_header_read_timeout() {
    let (addr, _stop) = start(ServeOptions {
        header_read_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_secs(600),
        ..ServeOptions::default()
    })
    .await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /_mock/health HTTP/1.1\r\nhost:")
        .await
        .unwrap();
    // The head never completes: the server closes without answering.
    assert!(read_to_close(&mut s).await.is_empty());
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let (addr, _stop) = start(ServeOptions {
        header_read_timeout: Duration::from_secs(600),
        idle_timeout: Duration::from_millis(300),
        ..ServeOptions::default()
    })
    .await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(REQUEST).await.unwrap();
    assert!(read_health(&mut s).await.starts_with("HTTP/1.1 200"));
    // Kept alive, then nothing: closed with nothing more sent.
    assert!(read_to_close(&mut s).await.is_empty());
}

#[tokio::test]
async fn a_slow_answer_is_not_idleness() {
    let listener = listen(std::net::SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    let addr = listener.local_addr().unwrap();
    let config = mock_upstream::faults::parse_toml(
        "[latency]\ndistribution = \"fixed\"\nvalue = \"800ms\"\n",
        "t",
    )
    .unwrap();
    let app = router(MockState::new(config, MockOptions::default()));
    let options = ServeOptions {
        header_read_timeout: Duration::from_millis(200),
        idle_timeout: Duration::from_millis(200),
        ..ServeOptions::default()
    };
    tokio::spawn(serve_with(listener, app, options, std::future::pending()));
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/v1/chat/completions"))
        .json(&serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn beyond_the_cap_a_connection_waits_until_one_closes() {
    let (addr, _stop) = start(ServeOptions {
        max_connections: 1,
        ..ServeOptions::default()
    })
    .await;
    let mut first = TcpStream::connect(addr).await.unwrap();
    first.write_all(REQUEST).await.unwrap();
    read_health(&mut first).await;
    // The second connects (the kernel queues it) but is not served while the first is open...
    let mut second = TcpStream::connect(addr).await.unwrap();
    second.write_all(REQUEST).await.unwrap();
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(300), second.read(&mut byte)).await;
    assert!(
        early.is_err(),
        "the second connection was served beyond the cap"
    );
    // ...while the first still is.
    first.write_all(REQUEST).await.unwrap();
    read_health(&mut first).await;
    drop(first);
    assert!(read_health(&mut second).await.starts_with("HTTP/1.1 200"));
}
