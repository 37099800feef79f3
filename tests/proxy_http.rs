//! `gauntlet proxy` end to end over real HTTP: a caller -> the proxy -> the mock (or a test
//! upstream), both on 127.0.0.1 port 0, checked from the caller's side and the mock's stats.

mod common;

use std::sync::{Arc, Mutex};

use gauntlet::proxy::{ProxyConfig, RunningProxy};
use serde_json::{json, Value};

/// A proxy in front of `upstream` with `client` tables.
fn proxy(upstream: &str, client: &str) -> RunningProxy {
    let text = format!("{client}\n[proxy]\nlisten = \"127.0.0.1:0\"\nupstream = \"{upstream}\"\n");
    let config = ProxyConfig::parse(&text, "proxy.toml").expect("valid proxy config");
    RunningProxy::start(config, false).expect("proxy starts")
}

fn chat_body(text: &str, stream: bool) -> Value {
    json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], "stream": stream})
}

async fn post(url: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .bearer_auth("sk-caller")
        .json(body)
        .send()
        .await
        .unwrap()
}

fn chat_requests(m: &mock_upstream::server::RunningMock) -> u64 {
    m.state
        .stats()
        .by_route
        .get("/v1/chat/completions")
        .copied()
        .unwrap_or(0)
}

#[tokio::test]
async fn plain_chat_goes_through_the_stack_with_the_headers_the_caller_needs() {
    let m = common::mock("").await;
    let p = proxy(&m.url, "");
    let r = post(
        &format!("{}/v1/chat/completions", p.url),
        &chat_body("hello", false),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-gauntlet-attempts"], "1");
    assert!(r.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .starts_with("req_"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert!(!v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .is_empty());
    assert_eq!(chat_requests(&m), 1);
}

#[tokio::test]
async fn a_streamed_chat_arrives_as_several_frames_and_ends_with_done() {
    let m = common::mock(
        "[reply]\ntokens = { distribution = \"fixed\", value = 8 }\n[stream]\nper_token = \"5ms\"",
    )
    .await;
    let p = proxy(&m.url, "");
    let mut r = post(
        &format!("{}/v1/chat/completions", p.url),
        &chat_body("stream me", true),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut frames = Vec::new();
    while let Some(chunk) = r.chunk().await.unwrap() {
        frames.push(String::from_utf8(chunk.to_vec()).unwrap());
    }
    assert!(frames.len() > 3, "{} frames: {frames:?}", frames.len());
    let all = frames.concat();
    assert!(all.trim_end().ends_with("data: [DONE]"), "{all}");
    assert!(all.matches("chat.completion.chunk").count() >= 8, "{all}");
}

#[tokio::test]
async fn responses_embeddings_and_models_pass_through() {
    let m = common::mock("").await;
    let p = proxy(&m.url, "");
    let r = post(
        &format!("{}/v1/responses", p.url),
        &json!({"model": "gpt-4o-mini", "input": "hi"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["object"], "response");
    let r = post(
        &format!("{}/v1/responses", p.url),
        &json!({"model": "gpt-4o-mini", "input": "hi", "stream": true}),
    )
    .await;
    let text = r.text().await.unwrap();
    assert!(text.contains("event: response.completed"), "{text}");
    let r = post(
        &format!("{}/v1/embeddings", p.url),
        &json!({"model": "text-embedding-3-small", "input": "hi"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["data"][0]["object"], "embedding");
    let models: Value = reqwest::get(format!("{}/v1/models", p.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let direct: Value = reqwest::get(format!("{}/v1/models", m.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models, direct);
    let id = models["data"][0]["id"].as_str().unwrap();
    let one = reqwest::get(format!("{}/v1/models/{id}", p.url))
        .await
        .unwrap();
    assert_eq!(one.status(), 200);
}

#[tokio::test]
async fn a_cached_answer_never_reaches_the_mock_and_a_cached_stream_replays_as_sse() {
    let m = common::mock("").await;
    let p = proxy(&m.url, "[client.cache]\nttl = \"5m\"");
    let url = format!("{}/v1/chat/completions", p.url);
    let first: Value = post(&url, &chat_body("same question", false))
        .await
        .json()
        .await
        .unwrap();
    let r = post(&url, &chat_body("same question", false)).await;
    assert_eq!(r.headers()["x-gauntlet-outcome"], "cache_hit");
    assert_eq!(r.headers()["x-gauntlet-attempts"], "0");
    let again: Value = r.json().await.unwrap();
    assert_eq!(
        again["choices"][0]["message"]["content"],
        first["choices"][0]["message"]["content"]
    );
    let r = post(&url, &chat_body("same question", true)).await;
    let text = r.text().await.unwrap();
    assert!(
        text.contains("chat.completion.chunk") && text.trim_end().ends_with("data: [DONE]"),
        "{text}"
    );
    assert_eq!(
        chat_requests(&m),
        1,
        "only the first request reached the mock"
    );
}

#[tokio::test]
async fn a_full_limiter_is_a_429_with_retry_after_and_the_mock_sees_the_pacing() {
    let m = common::mock("").await;
    let p = proxy(
        &m.url,
        "[client.limiter]\nrate = \"1/m\"\nburst = 1\nmax_wait = \"0s\"",
    );
    let url = format!("{}/v1/chat/completions", p.url);
    assert_eq!(post(&url, &chat_body("a", false)).await.status(), 200);
    let r = post(&url, &chat_body("b", false)).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "60");
    assert_eq!(r.headers()["retry-after-ms"], "60000");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
    assert_eq!(
        chat_requests(&m),
        1,
        "the refused request never reached the mock"
    );
}

#[tokio::test]
async fn an_outage_answers_the_upstreams_status_then_the_breakers_503() {
    let m = common::mock("[[timeline]]\nat = \"0s\"\nkind = \"outage\"\nstatus = 503").await;
    let p = proxy(&m.url, "[client.breaker]\nfailure_ratio = 0.5\nwindow = \"30s\"\nmin_calls = 2\nopen_for = \"30s\"");
    let url = format!("{}/v1/chat/completions", p.url);
    for _ in 0..2 {
        let r = post(&url, &chat_body("q", false)).await;
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["x-gauntlet-outcome"], "server_error");
    }
    let r = post(&url, &chat_body("q", false)).await;
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["x-gauntlet-outcome"], "rejected_breaker_open");
    assert_eq!(r.headers()["retry-after"], "30");
    assert_eq!(chat_requests(&m), 2);
}

#[tokio::test]
async fn a_stream_cut_short_ends_the_callers_stream_with_an_error_event() {
    let m = common::mock("[reply]\ntokens = { distribution = \"fixed\", value = 10 }\n[[failures]]\nkind = \"unfinished\"\nprobability = 1.0").await;
    let p = proxy(&m.url, "[client.retry]\nmax_attempts = 3");
    let text = post(
        &format!("{}/v1/chat/completions", p.url),
        &chat_body("q", true),
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(text.contains("chat.completion.chunk"), "{text}");
    let last = text.trim_end().rsplit("\n\n").next().unwrap();
    assert!(last.starts_with("data: {\"error\""), "{text}");
    assert!(!text.contains("data: [DONE]"));
    assert_eq!(
        chat_requests(&m),
        1,
        "a stream the caller saw is not retried"
    );
}

#[tokio::test]
async fn fields_the_stack_does_not_model_reach_the_upstream() {
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
            log.lock().unwrap().push(v);
            async {
                axum::Json(json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
                    "system_fingerprint": "fp_test",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop", "logprobs": null}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let p = proxy(&format!("http://{addr}"), "");
    let mut body = chat_body("q", false);
    body["top_p"] = json!(0.25);
    body["logprobs"] = json!(true);
    body["metadata"] = json!({"team": "a"});
    body["user"] = json!("u-7");
    let r = post(&format!("{}/v1/chat/completions", p.url), &body).await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["system_fingerprint"], "fp_test",
        "the upstream's own body reaches the caller"
    );
    let got = seen.lock().unwrap()[0].clone();
    for key in ["top_p", "logprobs", "metadata", "user", "messages", "model"] {
        assert_eq!(got[key], body[key], "{key}");
    }
}

#[tokio::test]
async fn bad_bodies_are_400_naming_the_field_and_big_ones_413() {
    let m = common::mock("").await;
    let text = format!(
        "[proxy]\nlisten = \"127.0.0.1:0\"\nupstream = \"{}\"\nmax_body_bytes = 1000\n",
        m.url
    );
    let p = RunningProxy::start(ProxyConfig::parse(&text, "p.toml").unwrap(), false).unwrap();
    let url = format!("{}/v1/chat/completions", p.url);
    let r = post(&url, &json!({"model": "m", "messages": "no"})).await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["param"], "messages");
    let r = post(&url, &chat_body(&"x".repeat(2000), false)).await;
    assert_eq!(r.status(), 413);
    assert_eq!(chat_requests(&m), 0);
}

#[test]
fn config_errors_exit_2_at_line_and_column_and_remote_needs_allow_remote() {
    let dir = std::env::temp_dir().join(format!("gauntlet-proxy-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[proxy]\nupstream = \"http://127.0.0.1:9\"\ncolour = 1\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(["proxy", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:3:1"), "{err}");
    let ok = dir.join("ok.toml");
    std::fs::write(&ok, "[proxy]\nupstream = \"http://127.0.0.1:9\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(["proxy", ok.to_str().unwrap(), "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-remote"));
}

/// Checks every line of a text exposition: `# HELP`/`# TYPE` comments, and samples
/// `name{k="v",...} number` of a family whose `# TYPE` came first. The samples, as
/// (name with labels, value).
fn exposition(text: &str) -> Vec<(String, f64)> {
    let mut typed: Vec<String> = Vec::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect(line);
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            typed.push(name.to_string());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect(line);
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value of {line}"));
        let name = series.split('{').next().unwrap();
        assert!(
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "{line}"
        );
        if let Some(labels) = series.strip_prefix(name).filter(|l| !l.is_empty()) {
            let inner = labels.strip_prefix('{').and_then(|l| l.strip_suffix('}'));
            let inner = inner.unwrap_or_else(|| panic!("labels of {line}"));
            for pair in inner.split("\",") {
                let (k, v) = pair.split_once("=\"").unwrap_or_else(|| panic!("{line}"));
                assert!(
                    k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
                    "{line}"
                );
                assert!(!v.trim_end_matches('"').contains('"'), "{line}");
            }
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| typed.iter().any(|t| t == f))
            })
            .unwrap_or(name);
        assert!(
            typed.iter().any(|t| t == family),
            "sample before its TYPE: {line}"
        );
        samples.push((series.to_string(), value));
    }
    samples
}

fn sample(samples: &[(String, f64)], series: &str) -> f64 {
    samples
        .iter()
        .find(|(s, _)| s == series)
        .map_or(0.0, |(_, v)| *v)
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_outcome_and_the_retries_of_injected_503s() {
    let m = common::mock("[[failures]]\nkind = \"status\"\nstatus = 503\nprobability = 0.5").await;
    let p = proxy(
        &m.url,
        "[client.retry]\nmax_attempts = 8\nbase_delay = \"1ms\"\nmax_delay = \"2ms\"",
    );
    let url = format!("{}/v1/chat/completions", p.url);
    for i in 0..6 {
        let r = post(&url, &chat_body(&format!("question {i}"), false)).await;
        assert_eq!(r.status(), 200);
    }
    let bad = post(&url, &json!({"model": 7})).await;
    assert_eq!(bad.status(), 400);
    let r = reqwest::get(format!("{}/metrics", p.url)).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let s = exposition(&r.text().await.unwrap());
    let chat = "route=\"/v1/chat/completions\"";
    assert_eq!(
        sample(
            &s,
            &format!("gauntlet_proxy_requests_total{{{chat},outcome=\"upstream\"}}")
        ),
        6.0
    );
    assert_eq!(
        sample(
            &s,
            &format!("gauntlet_proxy_requests_total{{{chat},outcome=\"bad_request\"}}")
        ),
        1.0,
        "the proxy's own refusal is counted by name"
    );
    let injected = common::status_count(&m, "503") as f64;
    assert!(injected >= 1.0, "the seed injected no 503");
    assert_eq!(
        sample(&s, "gauntlet_proxy_retries_total{reason=\"server_error\"}"),
        injected,
        "every injected 503 was retried"
    );
    assert_eq!(
        sample(&s, "gauntlet_proxy_upstream_attempts_total"),
        chat_requests(&m) as f64
    );
}

/// An upstream on 127.0.0.1 that resets every connection until `up` is set, then serves the
/// mock's router: a breaker can open before the upstream ever answered.
async fn switchable_upstream(up: Arc<std::sync::atomic::AtomicBool>) -> String {
    use tower::ServiceExt;
    let config = mock_upstream::faults::parse_toml("", "test.toml").unwrap();
    let app = mock_upstream::server::router(mock_upstream::server::MockState::new(
        config,
        Default::default(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            if !up.load(std::sync::atomic::Ordering::SeqCst) {
                drop(socket);
                continue;
            }
            let app = app.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| app.clone().oneshot(req));
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(socket), service)
                .await;
            });
        }
    });
    url
}

#[tokio::test]
async fn readyz_is_503_with_the_breaker_open_and_no_answer_then_200_once_the_upstream_answers() {
    let up = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let upstream = switchable_upstream(up.clone()).await;
    let p = proxy(
        &upstream,
        "[client.breaker]\nfailure_ratio = 0.5\nwindow = \"60s\"\nmin_calls = 2\nopen_for = \"600s\"",
    );
    let get = |path: &str| reqwest::get(format!("{}{path}", p.url));
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    assert_eq!(
        get("/readyz").await.unwrap().status(),
        200,
        "closed breaker"
    );
    let url = format!("{}/v1/chat/completions", p.url);
    for _ in 0..2 {
        assert_eq!(post(&url, &chat_body("q", false)).await.status(), 502);
    }
    let r = post(&url, &chat_body("q", false)).await;
    assert_eq!(r.headers()["x-gauntlet-outcome"], "rejected_breaker_open");
    assert_eq!(get("/readyz").await.unwrap().status(), 503);
    assert_eq!(
        get("/healthz").await.unwrap().status(),
        200,
        "alive all along"
    );
    up.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(get("/v1/models").await.unwrap().status(), 200);
    assert_eq!(
        get("/readyz").await.unwrap().status(),
        200,
        "the upstream answered recently, though the breaker is still open"
    );
}

#[test]
fn the_access_log_on_stderr_has_a_line_per_request_and_no_prompt() {
    use std::io::{BufRead, BufReader};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let m = rt.block_on(common::mock(""));
    let dir = std::env::temp_dir().join(format!("gauntlet-proxy-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("proxy.toml");
    std::fs::write(
        &cfg,
        format!(
            "[proxy]\nlisten = \"127.0.0.1:0\"\nupstream = \"{}\"\n",
            m.url
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(["proxy", cfg.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let addr = first.trim().rsplit("http://").next().unwrap().to_string();
    let secret = "my very private prompt 4711";
    let r = rt.block_on(post(
        &format!("http://{addr}/v1/chat/completions"),
        &chat_body(secret, false),
    ));
    assert_eq!(r.status(), 200);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(v["request_id"], id.as_str());
    assert_eq!(v["route"], "/v1/chat/completions");
    assert_eq!(v["status"], 200);
    assert_eq!(v["outcome"], "upstream");
    assert!(v.get("prompt").is_none(), "{line}");
    assert!(!line.contains("private prompt"), "{line}");
}

/// A CA the test makes, and a server certificate for 127.0.0.1 signed by it (rcgen).
fn test_ca() -> (
    String,
    rustls::pki_types::CertificateDer<'static>,
    rustls::pki_types::PrivateKeyDer<'static>,
) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "gauntlet proxy test CA");
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    (issuer.pem(), cert.der().clone(), key)
}

/// The mock's router served over TLS on 127.0.0.1 with `cert`; its `https://` URL.
async fn tls_mock(
    cert: rustls::pki_types::CertificateDer<'static>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
) -> String {
    use tower::ServiceExt;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let config = mock_upstream::faults::parse_toml("", "test.toml").unwrap();
    let app = mock_upstream::server::router(mock_upstream::server::MockState::new(
        config,
        Default::default(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(socket).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |req| app.clone().oneshot(req));
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
            });
        }
    });
    url
}

#[tokio::test]
async fn an_https_upstream_is_trusted_with_upstream_ca_and_refused_as_tls_without_it() {
    let (ca_pem, cert, key) = test_ca();
    let upstream = tls_mock(cert, key).await;
    let dir = std::env::temp_dir().join(format!("gauntlet-proxy-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    let with_ca = format!(
        "[proxy]\nlisten = \"127.0.0.1:0\"\nupstream = \"{upstream}\"\nupstream_ca = \"{}\"\n",
        ca.display()
    );
    let p =
        RunningProxy::start(ProxyConfig::parse(&with_ca, "proxy.toml").unwrap(), false).unwrap();
    let r = post(
        &format!("{}/v1/chat/completions", p.url),
        &chat_body("hi", false),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    let models = reqwest::get(format!("{}/v1/models", p.url)).await.unwrap();
    assert_eq!(
        models.status(),
        200,
        "the pass-through GET trusts the CA too"
    );

    let bare = proxy(&upstream, "");
    let r = post(
        &format!("{}/v1/chat/completions", bare.url),
        &chat_body("hi", false),
    )
    .await;
    assert_eq!(r.status(), 502);
    let v: Value = r.json().await.unwrap();
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("TLS:"), "{message}");
    assert!(message.contains("UnknownIssuer"), "{message}");
    let r = reqwest::get(format!("{}/v1/models", bare.url))
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"].as_str().unwrap().starts_with("TLS:"),
        "{v}"
    );
}

#[test]
fn a_bad_upstream_ca_file_exits_2_naming_it() {
    let dir = std::env::temp_dir().join(format!("gauntlet-proxy-badca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("not-a-ca.pem");
    std::fs::write(&ca, "hello\n").unwrap();
    let cfg = dir.join("proxy.toml");
    std::fs::write(
        &cfg,
        format!(
            "[proxy]\nupstream = \"https://127.0.0.1:9\"\nupstream_ca = \"{}\"\n",
            ca.display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(["proxy", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("proxy.toml:3:1: proxy.upstream_ca"), "{err}");
    assert!(
        err.contains(&format!("{}: no certificate", ca.display())),
        "{err}"
    );
}

#[tokio::test]
async fn the_upstreams_quota_headers_of_streamed_and_plain_answers_reach_the_gauges() {
    let m = common::mock("[limits]\nrequests_per_minute = 3\ntokens_per_minute = 100000").await;
    let p = proxy(&m.url, "");
    let url = format!("{}/v1/chat/completions", p.url);
    let gauges = || async {
        let text = reqwest::get(format!("{}/metrics", p.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let s = exposition(&text);
        let find = |name: &str| s.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
        (
            find("gauntlet_proxy_upstream_remaining_requests"),
            find("gauntlet_proxy_upstream_remaining_tokens"),
        )
    };
    assert_eq!(gauges().await, (None, None), "nothing reported yet");
    let text = post(&url, &chat_body("stream me", true))
        .await
        .text()
        .await
        .unwrap();
    assert!(text.contains("data: [DONE]"), "{text}");
    let (requests, tokens) = gauges().await;
    assert_eq!(requests, Some(2.0), "from the streamed answer's headers");
    let tokens = tokens.expect("x-ratelimit-remaining-tokens of the stream");
    assert!(tokens > 0.0 && tokens < 100_000.0, "{tokens}");
    assert_eq!(post(&url, &chat_body("plain", false)).await.status(), 200);
    let (requests, after) = gauges().await;
    assert!(after.is_some());
    assert_eq!(
        requests,
        Some(1.0),
        "from the plain answer's headers (a request refills every 20 s)"
    );
}

#[tokio::test]
async fn a_tls_failure_is_not_retried_nor_counted_by_the_breaker() {
    let (_ca, cert, key) = test_ca();
    let upstream = tls_mock(cert, key).await;
    let p = proxy(
        &upstream,
        "[client.retry]\nmax_attempts = 3\nbase_delay = \"1ms\"\n\
         [client.breaker]\nfailure_ratio = 0.5\nwindow = \"60s\"\nmin_calls = 2\nopen_for = \"600s\"",
    );
    let url = format!("{}/v1/chat/completions", p.url);
    for _ in 0..3 {
        let r = post(&url, &chat_body("hi", false)).await;
        assert_eq!(r.status(), 502, "never the breaker's 503");
        assert_eq!(r.headers()["x-gauntlet-attempts"], "1", "not retried");
        assert_eq!(r.headers()["x-gauntlet-outcome"], "tls");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "upstream_tls");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("TLS:") && message.contains("not retried"),
            "{message}"
        );
    }
    let s = exposition(
        &reqwest::get(format!("{}/metrics", p.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(sample(&s, "gauntlet_proxy_upstream_attempts_total"), 3.0);
    assert_eq!(
        sample(&s, "gauntlet_proxy_breaker_state{state=\"closed\"}"),
        1.0
    );
}
