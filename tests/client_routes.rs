//! The client stack on every API route against the real mock over HTTP on 127.0.0.1: what each
//! route's request asks for comes back in the stack's one response type, through the cache and
//! the retry layer as for chat; and a scenario's `[workload.mix]` reaches each route in its
//! share, over HTTP (the mock's `/_mock/stats`) and in simulation.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::mock;
use gauntlet::client::wire::openai::responses::{JsonSchemaFormat, ToolChoiceMode};
use gauntlet::client::{ChatRequest, ClientConfig, ClientStack, Outcome, Route};
use serde_json::Value;

fn stack(toml: &str, url: &str) -> ClientStack {
    let mut c: ClientConfig = toml::from_str(toml).expect("valid client config");
    c.adapter.base_url = url.to_string();
    ClientStack::from_config(&c).unwrap()
}

fn on(route: Route, text: &str) -> ChatRequest {
    ChatRequest {
        route,
        ..ChatRequest::user_text("gpt-4o-mini", text)
    }
}

fn lookup_tool() -> gauntlet::client::wire::openai::responses::FunctionTool {
    gauntlet::client::wire::openai::responses::FunctionTool {
        name: "lookup_topic".into(),
        description: Some("Looks a topic up.".into()),
        parameters: Some(serde_json::json!({
            "type": "object",
            "properties": {"topic": {"type": "string"}},
            "required": ["topic"],
            "additionalProperties": false
        })),
        strict: Some(true),
    }
}

#[tokio::test]
async fn responses_answers_plain_and_streamed_alike() {
    let m = mock("").await;
    let s = stack("[cache]\nenabled = false", &m.url);

    let plain = s
        .send(on(Route::Responses, "Explain backoff"))
        .await
        .unwrap();
    assert_eq!(plain.outcome, Outcome::Upstream);
    assert!(!plain.text.is_empty());
    assert_eq!(plain.finish_reason.as_deref(), Some("stop"));
    let usage = plain.usage.unwrap();
    assert!(usage.prompt_tokens > 0 && usage.completion_tokens > 0);

    let streamed = s
        .send(ChatRequest {
            stream: true,
            ..on(Route::Responses, "Explain backoff")
        })
        .await
        .unwrap();
    assert!(streamed.ttft.is_some());
    assert_eq!(streamed.text, plain.text, "the same seed and prompt");
    assert_eq!(streamed.usage, plain.usage);

    let stats = m.state.stats();
    assert_eq!(stats.by_route.get("/v1/responses"), Some(&2), "{stats:?}");
}

#[tokio::test]
async fn chat_answers_tool_calls_and_structured_output() {
    let m = mock("").await;
    let s = stack("[cache]\nenabled = false", &m.url);
    let called = s
        .send(ChatRequest {
            tools: vec![lookup_tool()],
            tool_choice: Some(ToolChoiceMode::Required),
            ..on(Route::Chat, "Look up rate limiting")
        })
        .await
        .unwrap();
    assert_eq!(
        called.finish_reason.as_deref(),
        Some("tool_calls"),
        "{called:?}"
    );
    assert_eq!(called.tool_calls.len(), 1, "{called:?}");
    assert_eq!(called.tool_calls[0].name, "lookup_topic");
    let args: Value = serde_json::from_str(&called.tool_calls[0].arguments).unwrap();
    assert!(args["topic"].is_string(), "{args}");
    let structured = s
        .send(ChatRequest {
            response_format: Some(answer_format()),
            ..on(Route::Chat, "Answer in JSON")
        })
        .await
        .unwrap();
    let json: Value = serde_json::from_str(&structured.text).unwrap();
    assert!(
        json["answer"].is_string() && json["confidence"].is_number(),
        "{json}"
    );
}

fn answer_format() -> JsonSchemaFormat {
    JsonSchemaFormat {
        name: "answer".into(),
        schema: serde_json::json!({
            "type": "object",
            "properties": {"answer": {"type": "string"}, "confidence": {"type": "number"}},
            "required": ["answer", "confidence"],
            "additionalProperties": false
        }),
        description: None,
        strict: Some(true),
    }
}

/// A Responses tool-call request gets a `function_call` item whose arguments follow the tool's
/// schema; a `text.format` json_schema request gets JSON following it.
#[tokio::test]
async fn responses_answers_tool_calls_and_structured_output() {
    let m = mock("").await;
    let s = stack("[cache]\nenabled = false", &m.url);
    let called = s
        .send(ChatRequest {
            tools: vec![lookup_tool()],
            tool_choice: Some(ToolChoiceMode::Required),
            ..on(Route::Responses, "Look up rate limiting")
        })
        .await
        .unwrap();
    assert_eq!(called.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(called.tool_calls.len(), 1, "{called:?}");
    assert_eq!(called.tool_calls[0].name, "lookup_topic");
    let args: Value = serde_json::from_str(&called.tool_calls[0].arguments).unwrap();
    assert!(args["topic"].is_string(), "{args}");

    let structured = s
        .send(ChatRequest {
            response_format: Some(JsonSchemaFormat {
                name: "answer".into(),
                schema: serde_json::json!({
                    "type": "object",
                    "properties": {"answer": {"type": "string"}, "confidence": {"type": "number"}},
                    "required": ["answer", "confidence"],
                    "additionalProperties": false
                }),
                description: None,
                strict: Some(true),
            }),
            ..on(Route::Responses, "Answer in JSON")
        })
        .await
        .unwrap();
    let json: Value = serde_json::from_str(&structured.text).unwrap();
    assert!(
        json["answer"].is_string() && json["confidence"].is_number(),
        "{json}"
    );
}

#[tokio::test]
async fn embeddings_come_back_as_vectors_and_are_cached_apart_from_chat() {
    let m = mock("").await;
    let s = stack("[cache]\nenabled = true", &m.url);
    let a = s.send(on(Route::Embeddings, "tail latency")).await.unwrap();
    assert!(!a.embeddings.is_empty() && !a.embeddings[0].is_empty());
    let usage = a.usage.unwrap();
    assert_eq!(usage.completion_tokens, 0);
    assert!(usage.prompt_tokens > 0);
    // The same input again: a cache hit, with the vectors.
    let b = s.send(on(Route::Embeddings, "tail latency")).await.unwrap();
    assert_eq!(b.outcome, Outcome::CacheHit);
    assert_eq!(b.embeddings, a.embeddings);
    // The same text as a chat request and as a Responses request: neither is that cache entry.
    let chat = s.send(on(Route::Chat, "tail latency")).await.unwrap();
    let resp = s.send(on(Route::Responses, "tail latency")).await.unwrap();
    assert_eq!(
        (chat.outcome, resp.outcome),
        (Outcome::Upstream, Outcome::Upstream)
    );
    assert!(chat.embeddings.is_empty() && !chat.text.is_empty());
    let stats = m.state.stats();
    for path in ["/v1/embeddings", "/v1/chat/completions", "/v1/responses"] {
        assert_eq!(stats.by_route.get(path), Some(&1), "{path}: {stats:?}");
    }
}

#[tokio::test]
async fn every_route_is_retried_and_classified_like_chat() {
    // An outage: each route's request is tried max_attempts times, then fails as a server error.
    let m = mock("[[timeline]]\nat = \"0s\"\nkind = \"outage\"\nstatus = 503").await;
    let s = stack(
        "[cache]\nenabled = false\n[retry]\nmax_attempts = 3\nbase_delay = \"1ms\"\njitter = \"none\"",
        &m.url,
    );
    for route in Route::ALL {
        let err = s.send(on(route, "q")).await.unwrap_err();
        assert_eq!(err.kind(), "server_error", "{route:?}");
    }
    let stats = m.state.stats();
    for path in ["/v1/chat/completions", "/v1/responses", "/v1/embeddings"] {
        assert_eq!(stats.by_route.get(path), Some(&3), "{path}: {stats:?}");
    }
    // Responses deprecated: a 410, not retried (and no API switch: that is chat's migration);
    // embeddings still answer.
    let m =
        mock("[[timeline]]\nat = \"0s\"\nkind = \"deprecate\"\nroute = \"/v1/responses\"").await;
    let s = stack(
        "[cache]\nenabled = false\n[adapter]\napi = \"auto\"\n[retry]\nmax_attempts = 3\nbase_delay = \"1ms\"",
        &m.url,
    );
    let err = s.send(on(Route::Responses, "q")).await.unwrap_err();
    assert_eq!(err.kind(), "client_error");
    assert!(s.send(on(Route::Embeddings, "q")).await.is_ok());
    let stats = m.state.stats();
    assert_eq!(stats.by_route.get("/v1/responses"), Some(&1), "{stats:?}");
    assert_eq!(stats.by_route.get("/v1/chat"), None, "{stats:?}");
}

const BIN: &str = env!("CARGO_BIN_EXE_gauntlet");

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gauntlet-routes-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A scenario of 600 requests in the mix, at `target` (absent: the embedded mock).
fn mixed_scenario(target: Option<&str>) -> String {
    let upstream = target.map_or(String::new(), |t| format!("[upstream]\ntarget = \"{t}\"\n"));
    format!(
        r#"
name = "mix"
seed = 11
duration = "4s"
{upstream}
[workload]
arrivals = "constant"
stages = [{{ for = "4s", rate = "150/s" }}]
prompts = {{ distinct = 100000, zipf_exponent = 0.0 }}
stream_share = 0.5
[workload.mix]
chat = 0.5
responses = 0.3
embeddings = 0.2
tool_calls = 0.2
structured_output = 0.2
[client.cache]
enabled = false
"#
    )
}

/// Runs `gauntlet run` on `scenario` with `extra` flags; the summary.
fn run(name: &str, scenario: &str, extra: &[&str]) -> Value {
    let dir = temp_dir(name);
    let file = dir.join("scenario.toml");
    std::fs::write(&file, scenario).unwrap();
    let out = dir.join("report");
    let output = Command::new(BIN)
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .args(extra)
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(output.status.code(), Some(0), "{shown}");
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(md.contains("| route responses:"), "{md}");
    serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap()
}

/// Each route's share of `counts`, against the mix's.
fn assert_shares(counts: &[(&str, f64)], what: &str) {
    let total: f64 = counts.iter().map(|c| c.1).sum();
    assert!(total >= 590.0, "{what}: {counts:?}");
    for ((_, n), want) in counts.iter().zip([0.5, 0.3, 0.2]) {
        let share = n / total;
        assert!((share - want).abs() < 0.05, "{what}: {counts:?}");
    }
}

/// The summary's requests per route, checked for no errors.
fn summary_counts(s: &Value) -> Vec<(&'static str, f64)> {
    Route::ALL
        .iter()
        .map(|r| {
            let f = &s["by_route"][r.as_str()];
            assert_eq!(f["errors"], 0, "{}: {f}", r.as_str());
            assert!(f["latency_ms"]["p99"].as_f64().unwrap() > 0.0);
            (r.as_str(), f["requests"].as_f64().unwrap())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mix_reaches_each_route_in_its_share_over_http() {
    let m = mock("").await;
    let scenario = mixed_scenario(Some(&m.url));
    let summary = tokio::task::spawn_blocking(move || run("http", &scenario, &[]))
        .await
        .unwrap();
    assert_eq!(summary["error_rate"], 0.0, "{summary}");
    let stats: Value = reqwest::get(format!("{}/_mock/stats", m.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let by_route = &stats["by_route"];
    let counts: Vec<(&str, f64)> = ["/v1/chat/completions", "/v1/responses", "/v1/embeddings"]
        .into_iter()
        .map(|p| (p, by_route[p].as_f64().unwrap_or(0.0)))
        .collect();
    assert_shares(&counts, "mock by_route");
    let from_summary = summary_counts(&summary);
    // The client's count of each route is the mock's: one attempt per request, no errors.
    for ((_, mock_n), (_, ours)) in counts.iter().zip(&from_summary) {
        assert_eq!(mock_n, ours, "{stats} {summary}");
    }
}

#[test]
fn a_mix_reaches_each_route_in_its_share_in_simulation() {
    let summary = run("sim", &mixed_scenario(None), &["--sim"]);
    assert_eq!(summary["error_rate"], 0.0, "{summary}");
    assert_shares(&summary_counts(&summary), "sim by_route");
}
