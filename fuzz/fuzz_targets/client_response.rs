//! An upstream's answer, through the whole client stack: the input is a status line's code,
//! header lines and a body (split at the first blank line), answered to a plain and to a
//! streamed request. The stack must classify whatever comes and never panic or hang (the
//! runtime's clock is paused, so the stack's timeouts end any wait at once).
#![no_main]

use bytes::Bytes;
use gauntlet_client::transport::{BoxError, Transport};
use gauntlet_client::{ChatRequest, ClientConfig, ClientStack};
use http_body_util::{BodyExt, Full};
use libfuzzer_sys::fuzz_target;

fn response(data: &[u8]) -> http::Response<Bytes> {
    let split = data.windows(2).position(|w| w == b"\n\n");
    let (head, body) = match split {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &[][..]),
    };
    let mut lines = head.split(|b| *b == b'\n');
    let status = lines
        .next()
        .and_then(|l| std::str::from_utf8(l).ok())
        .and_then(|l| l.trim().parse::<u16>().ok())
        .and_then(|s| http::StatusCode::from_u16(s).ok())
        .unwrap_or(http::StatusCode::OK);
    let mut builder = http::Response::builder().status(status);
    for line in lines {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(&line[..colon]),
            http::HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
        ) else {
            continue;
        };
        builder = builder.header(name, value);
    }
    builder
        .body(Bytes::copy_from_slice(body))
        .unwrap_or_else(|_| http::Response::new(Bytes::new()))
}

fuzz_target!(|data: &[u8]| {
    let answer = response(data);
    let transport = Transport::new(move |_req| {
        let answer = answer.clone();
        async move {
            let (parts, body) = answer.into_parts();
            let body = Full::new(body)
                .map_err(|never| -> BoxError { match never {} })
                .boxed_unsync();
            Ok(http::Response::from_parts(parts, body))
        }
    });
    let config: ClientConfig = match serde_json::from_str(
        r#"{"adapter": {"base_url": "http://fuzz.invalid"},
            "retry": {"max_attempts": 2, "base_delay": "1ms"},
            "timeout": {"attempt": "1s", "total": "3s"}}"#,
    ) {
        Ok(c) => c,
        Err(_) => return,
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
    else {
        return;
    };
    runtime.block_on(async move {
        let Ok(stack) = ClientStack::builder(&config).transport(transport).build() else {
            return;
        };
        let _ = stack.send(ChatRequest::user_text("m", "hello")).await;
        let mut streamed = ChatRequest::user_text("m", "hello");
        streamed.stream = true;
        let _ = stack.send(streamed).await;
    });
});
