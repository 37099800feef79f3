//! The whole stack over real HTTP on 127.0.0.1 against an upstream that answers raw bytes: a
//! hostile or broken answer ends as the right error kind, never a panic or a hang.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use gauntlet_client::{
    ChatRequest, ClientConfig, ClientError, ClientStack, CountingObserver, Event,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A server that reads each request and writes `answer` as is, then closes the connection.
/// Returns its base URL and the count of requests it read.
async fn raw_upstream(answer: &'static [u8]) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let counted = requests.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let counted = counted.clone();
            tokio::spawn(async move {
                if read_request(socket, answer).await.is_ok() {
                    counted.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });
    (url, requests)
}

/// Reads one request (head and `content-length` body), answers, closes.
async fn read_request(mut socket: TcpStream, answer: &[u8]) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    socket.write_all(answer).await?;
    socket.shutdown().await
}

/// Retries on (three attempts, 1 ms apart: real time), attempt and total timeouts on.
fn config(base_url: &str) -> ClientConfig {
    toml::from_str(&format!(
        r#"
        [adapter]
        base_url = "{base_url}"
        [retry]
        max_attempts = 3
        base_delay = "1ms"
        max_delay = "1ms"
        [timeout]
        attempt = "10s"
        total = "20s"
        "#
    ))
    .unwrap()
}

async fn kind_of(answer: &'static [u8], stream: bool) -> (&'static str, usize) {
    let (url, requests) = raw_upstream(answer).await;
    let stack = ClientStack::from_config(&config(&url)).unwrap();
    let req = ChatRequest {
        stream,
        ..ChatRequest::user_text("gpt-4o-mini", "hello")
    };
    let kind = match stack.send(req).await {
        Ok(_) => "ok",
        Err(e) => e.kind(),
    };
    (kind, requests.load(Ordering::SeqCst))
}

#[tokio::test]
async fn a_huge_retry_after_ends_the_retries_at_once() {
    for header in [
        "retry-after: 1e300",
        "retry-after-ms: 1e300",
        "retry-after: 99999999999999999999",
    ] {
        let answer: &'static [u8] = format!(
            "HTTP/1.1 429 Too Many Requests\r\n{header}\r\ncontent-type: application/json\r\n\
             content-length: 2\r\nconnection: close\r\n\r\n{{}}"
        )
        .leak()
        .as_bytes();
        assert_eq!(
            kind_of(answer, false).await,
            ("rate_limited", 1),
            "{header}"
        );
    }
}

#[tokio::test]
async fn a_non_json_200_is_malformed() {
    let answer = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 17\r\n\
                   connection: close\r\n\r\n<html>busy</html>";
    assert_eq!(kind_of(answer, false).await, ("malformed", 3));
}

#[tokio::test]
async fn an_empty_choices_array_is_malformed() {
    let answer = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 14\r\n\
                   connection: close\r\n\r\n{\"choices\":[]}";
    assert_eq!(kind_of(answer, false).await, ("malformed", 3));
}

#[tokio::test]
async fn a_garbage_sse_stream_is_malformed() {
    let answer = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n\
                   : hello\n\nevent: what\nid: 7\n\ndata: {not json at all\n\n";
    assert_eq!(kind_of(answer, true).await, ("malformed", 3));
}

/// A stream cut inside an event after its first token broke after content: it is not sent again.
#[tokio::test]
async fn a_truncated_sse_stream_after_content_is_broken_and_not_retried() {
    let answer = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n\
                   data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\
                   \"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n\
                   data: {\"id\":\"c\",\"obj";
    assert_eq!(kind_of(answer, true).await, ("stream_broken", 1));
}

/// The head of a 200 stream that closes its connection at its end, then `body`.
fn sse(body: &str) -> &'static [u8] {
    format!("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n{body}")
        .leak()
        .as_bytes()
}

const ROLE: &str = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n";
const PIECE: &str = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"abcd\"},\"finish_reason\":null}]}\n\n";

fn error_event(kind: &str, code: &str) -> String {
    format!(
        "data: {{\"error\":{{\"message\":\"m\",\"type\":\"{kind}\",\"param\":null,\"code\":{code}}}}}\n\n"
    )
}

/// The upstream's error event before any content is one more failed attempt, retried as its
/// type and code say; after content it breaks the stream, which is never sent again.
#[tokio::test]
async fn an_error_event_in_the_stream_is_classified_by_what_it_says_and_when() {
    let server = error_event("server_error", "null");
    let quota = error_event("insufficient_quota", "\"insufficient_quota\"");
    let cases = [
        (format!("{ROLE}{server}"), ("stream_error", 3)),
        (format!("{ROLE}{quota}"), ("stream_error", 1)),
        (
            format!("{ROLE}{PIECE}{PIECE}{server}"),
            ("stream_broken", 1),
        ),
        (format!("{ROLE}{PIECE}{quota}"), ("stream_broken", 1)),
    ];
    for (body, want) in cases {
        assert_eq!(kind_of(sse(&body), true).await, want, "{body}");
    }
}

/// A stream that ends cleanly between events without `[DONE]`: unfinished before content (and
/// retried, as a reset is), broken after it.
#[tokio::test]
async fn a_clean_end_without_done_is_unfinished_or_broken() {
    assert_eq!(kind_of(sse(ROLE), true).await, ("stream_unfinished", 3));
    let body = format!("{ROLE}{PIECE}{PIECE}");
    assert_eq!(kind_of(sse(&body), true).await, ("stream_broken", 1));
    let whole = format!("{ROLE}{PIECE}data: [DONE]\n\n");
    assert_eq!(kind_of(sse(&whole), true).await, ("ok", 1));
}

/// With `retry.restart_broken_streams`, a stream broken by a retryable cause is sent again
/// from the start, and each restart is a `Retry` of error `stream_broken`; a quota error in the
/// stream is still final.
#[tokio::test]
async fn restarting_broken_streams_is_opt_in_and_counted() {
    let body = format!("{ROLE}{PIECE}");
    let (url, requests) = raw_upstream(sse(&body)).await;
    let mut cfg = config(&url);
    cfg.retry.as_mut().unwrap().restart_broken_streams = true;
    let counting = Arc::new(CountingObserver::default());
    let stack = ClientStack::builder(&cfg)
        .observer(counting.clone())
        .build()
        .unwrap();
    let req = ChatRequest {
        stream: true,
        ..ChatRequest::user_text("gpt-4o-mini", "hello")
    };
    let err = stack.send(req).await.unwrap_err();
    assert_eq!(err.kind(), "stream_broken");
    assert_eq!(requests.load(Ordering::SeqCst), 3);
    assert_eq!(CountingObserver::get(&counting.retries), 2);
    let restarts = counting
        .events()
        .into_iter()
        .filter(|e| matches!(e, Event::Retry { error, .. } if *error == ClientError::STREAM_BROKEN))
        .count();
    assert_eq!(restarts, 2);

    let quota = error_event("insufficient_quota", "null");
    let (url, requests) = raw_upstream(sse(&format!("{ROLE}{PIECE}{quota}"))).await;
    let mut cfg = config(&url);
    cfg.retry.as_mut().unwrap().restart_broken_streams = true;
    let stack = ClientStack::from_config(&cfg).unwrap();
    let req = ChatRequest {
        stream: true,
        ..ChatRequest::user_text("gpt-4o-mini", "hello")
    };
    assert_eq!(stack.send(req).await.unwrap_err().kind(), "stream_broken");
    assert_eq!(requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_cut_chunked_stream_is_a_reset() {
    let answer =
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\
                   \r\n400\r\ndata: {\"id\"";
    assert_eq!(kind_of(answer, true).await, ("reset", 3));
}

#[tokio::test]
async fn a_garbage_status_line_is_malformed() {
    for answer in [
        &b"HTTP/1.1 abc OK\r\ncontent-length: 0\r\n\r\n"[..],
        b"SMTP ready\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: -5\r\n\r\n",
    ] {
        let answer: &'static [u8] = answer;
        assert_eq!(
            kind_of(answer, false).await.0,
            "malformed",
            "{:?}",
            String::from_utf8_lossy(answer)
        );
    }
}

#[tokio::test]
async fn an_unknown_status_is_classified() {
    let answer = b"HTTP/1.1 599 Whatever\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
    assert_eq!(kind_of(answer, false).await, ("server_error", 1));
    let answer =
        b"HTTP/1.1 302 Found\r\nlocation: /x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
    assert_eq!(kind_of(answer, false).await, ("malformed", 3));
}

/// A transport whose stream sends one keep-alive comment and then nothing, forever.
fn endless_stream() -> gauntlet_client::transport::Transport {
    use futures_util::StreamExt;
    use http_body_util::BodyExt;
    gauntlet_client::transport::Transport::new(|_| async {
        let first: Result<http_body::Frame<bytes::Bytes>, gauntlet_client::transport::BoxError> =
            Ok(http_body::Frame::data(bytes::Bytes::from_static(
                b": hi\n\n",
            )));
        let frames = futures_util::stream::iter([first]).chain(futures_util::stream::pending());
        let body = http_body_util::StreamBody::new(frames).boxed_unsync();
        let mut resp = http::Response::new(body);
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/event-stream"),
        );
        Ok(resp)
    })
}

async fn endless_outcome(toml_config: &str) -> (&'static str, std::time::Duration) {
    let config: ClientConfig = toml::from_str(toml_config).unwrap();
    let stack = ClientStack::builder(&config)
        .transport(endless_stream())
        .build()
        .unwrap();
    let t0 = tokio::time::Instant::now();
    let req = ChatRequest {
        stream: true,
        ..ChatRequest::user_text("gpt-4o-mini", "hello")
    };
    let err = stack.send(req).await.unwrap_err();
    (err.kind(), t0.elapsed())
}

/// A stream that never ends is the attempt timeout's (`timeout.attempt`): each attempt ends at
/// it exactly, and is retried; `timeout.total` bounds the whole.
#[tokio::test(start_paused = true)]
async fn an_endless_stream_ends_at_the_timeouts() {
    use std::time::Duration;
    let retried = r#"
        [retry]
        max_attempts = 2
        base_delay = "1ms"
        max_delay = "1ms"
        jitter = "none"
        [timeout]
        attempt = "2s"
        total = "60s"
    "#;
    assert_eq!(
        endless_outcome(retried).await,
        ("timeout_attempt", Duration::from_millis(4001))
    );
    let total_only = "[timeout]\nattempt = \"10s\"\ntotal = \"3s\"\n";
    assert_eq!(
        endless_outcome(total_only).await,
        ("timeout_total", Duration::from_secs(3))
    );
}

/// A transport whose stream sends a role chunk, `pieces` content chunks, and then nothing for
/// `stall` before `[DONE]`: the mock's `stall`, on the paused clock.
fn stalling_stream(
    pieces: usize,
    stall: std::time::Duration,
) -> gauntlet_client::transport::Transport {
    use futures_util::StreamExt;
    use http_body_util::BodyExt;
    gauntlet_client::transport::Transport::new(move |_| async move {
        type Frame = Result<http_body::Frame<bytes::Bytes>, gauntlet_client::transport::BoxError>;
        let data = |s: String| -> Frame { Ok(http_body::Frame::data(bytes::Bytes::from(s))) };
        let mut first = vec![data(ROLE.to_string())];
        first.extend((0..pieces).map(|_| data(PIECE.to_string())));
        let rest = futures_util::stream::once(async move {
            tokio::time::sleep(stall).await;
            data("data: [DONE]\n\n".to_string())
        });
        let frames = futures_util::stream::iter(first).chain(rest);
        let body = http_body_util::StreamBody::new(frames).boxed_unsync();
        let mut resp = http::Response::new(body);
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/event-stream"),
        );
        Ok(resp)
    })
}

async fn stalled_outcome(pieces: usize, toml_config: &str) -> (Result<String, ClientError>, u32) {
    let config: ClientConfig = toml::from_str(toml_config).unwrap();
    let stack = ClientStack::builder(&config)
        .transport(stalling_stream(pieces, std::time::Duration::from_secs(5)))
        .build()
        .unwrap();
    let req = ChatRequest {
        stream: true,
        ..ChatRequest::user_text("gpt-4o-mini", "hello")
    };
    let trace = req.trace.clone();
    (stack.send(req).await.map(|r| r.text), trace.attempts())
}

/// A stall is the timeouts' to end: before the first token the attempt timeout retries it;
/// after it the stream broke with what it had delivered, and is not sent again; a stall shorter
/// than the timeout is waited out.
#[tokio::test(start_paused = true)]
async fn a_stall_ends_at_the_timeout_as_broken_once_content_came() {
    use gauntlet_client::TimeoutScope;
    let cfg = r#"
        [retry]
        max_attempts = 3
        base_delay = "1ms"
        max_delay = "1ms"
        [timeout]
        attempt = "2s"
        total = "60s"
    "#;
    let (result, attempts) = stalled_outcome(0, cfg).await;
    assert_eq!(result.unwrap_err().kind(), "timeout_attempt");
    assert_eq!(attempts, 3);
    let (result, attempts) = stalled_outcome(2, cfg).await;
    let want = ClientError::StreamBroken {
        cause: Box::new(ClientError::Timeout {
            scope: TimeoutScope::Attempt,
        }),
        tokens: 2,
    };
    assert_eq!(result, Err(want));
    assert_eq!(attempts, 1);
    let total = "[timeout]\nattempt = \"30s\"\ntotal = \"3s\"\n";
    let (result, _) = stalled_outcome(1, total).await;
    let err = result.unwrap_err();
    assert!(
        matches!(&err, ClientError::StreamBroken { cause, tokens: 1 } if cause.kind() == "timeout_total"),
        "{err:?}"
    );
    let patient = "[timeout]\nattempt = \"10s\"\ntotal = \"20s\"\n";
    assert_eq!(stalled_outcome(3, patient).await, (Ok("abcd".repeat(3)), 1));
}
