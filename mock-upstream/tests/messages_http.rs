//! Anthropic's Messages API (`POST /v1/messages`) over real HTTP: the answer and the stream in
//! Anthropic's shapes, the shared fault engine in Anthropic's statuses and headers, the
//! request checks, `max_tokens` and stop sequences, determinism.

mod common;

use common::{client, start, start_with};
use gauntlet_wire::anthropic::{
    BlockDelta, ContentBlock, ErrorResponse, ErrorType, Message, StopReason, StreamEvent,
};
use mock_upstream::server::MockOptions;
use serde_json::{json, Value};

const VERSION: &str = "2023-06-01";

fn body(prompt: &str) -> Value {
    json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": prompt}]
    })
}

/// Sends `body` as the official SDKs do: `x-api-key` and `anthropic-version`.
async fn send(url: &str, key: Option<&str>, body: &Value) -> reqwest::Response {
    let mut req = client()
        .post(format!("{url}/v1/messages"))
        .header("anthropic-version", VERSION)
        .json(body);
    if let Some(k) = key {
        req = req.header("x-api-key", k);
    }
    req.send().await.unwrap()
}

async fn message(url: &str, body: &Value) -> Message {
    let r = send(url, Some("k"), body).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// The error body, checked to be Anthropic's envelope with the `request-id` header's id.
async fn error(r: reqwest::Response) -> ErrorResponse {
    let id = r.headers()["request-id"].to_str().unwrap().to_string();
    assert_eq!(r.headers()["x-request-id"], id.as_str());
    let e: ErrorResponse = r.json().await.unwrap();
    assert_eq!(e.kind, "error");
    assert_eq!(e.request_id.as_deref(), Some(id.as_str()));
    e
}

/// Reads an SSE body as Anthropic's SDKs do: `event:` and `data:` lines, the event's name the
/// same as its data's `type`.
fn parse_sse(text: &str) -> Vec<StreamEvent> {
    text.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let (name, data) = e.split_once('\n').expect("an event line and a data line");
            let name = name.strip_prefix("event: ").expect("named event");
            let data = data.strip_prefix("data: ").expect("data line");
            let event: StreamEvent = serde_json::from_str(data).expect("each event is JSON");
            assert_eq!(event.name(), name);
            event
        })
        .collect()
}

async fn stream(url: &str, mut body: Value) -> Vec<StreamEvent> {
    body["stream"] = json!(true);
    let r = send(url, Some("k"), &body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    parse_sse(&r.text().await.unwrap())
}

fn text_of(m: &Message) -> &str {
    match m.content.as_slice() {
        [ContentBlock::Text { text }] => text,
        other => panic!("one text block expected: {other:?}"),
    }
}

/// The text deltas joined, and the `message_delta`'s stop reason, sequence and output tokens.
fn streamed(events: &[StreamEvent]) -> (String, StopReason, Option<String>, u32) {
    let text = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ContentBlockDelta {
                index: 0,
                delta: BlockDelta::TextDelta { text },
            } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    let (reason, seq, tokens) = events
        .iter()
        .find_map(|e| match e {
            StreamEvent::MessageDelta { delta, usage } => Some((
                delta.stop_reason.expect("set"),
                delta.stop_sequence.clone(),
                usage.output_tokens,
            )),
            _ => None,
        })
        .expect("a message_delta");
    (text, reason, seq, tokens)
}

#[tokio::test]
async fn a_plain_answer_is_a_message() {
    let m = start("").await;
    let r = send(&m.url, Some("sk-ant"), &body("hello")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let id = r.headers()["request-id"].to_str().unwrap().to_string();
    assert!(id.starts_with("req_"), "{id}");
    assert_eq!(r.headers()["x-request-id"], id.as_str());
    let raw: Value = r.json().await.unwrap();
    assert!(raw["stop_sequence"].is_null(), "null, not absent");
    let msg: Message = serde_json::from_value(raw).unwrap();
    assert!(msg.id.starts_with("msg_"), "{}", msg.id);
    assert_eq!(msg.kind, "message");
    assert_eq!(msg.model, "claude-sonnet-4-5");
    assert_eq!(msg.stop_reason, Some(StopReason::EndTurn));
    let text = text_of(&msg);
    assert!(!text.is_empty());
    assert_eq!(msg.usage.output_tokens as usize, text.len().div_ceil(4));
    // 3 for the request, 4 + 2 for "hello".
    assert_eq!(msg.usage.input_tokens, 9);
}

#[tokio::test]
async fn the_stream_is_anthropics_event_sequence_and_adds_up_to_the_answer() {
    let m = start("[stream]\ntime_to_first_token = \"20ms\"\nper_token = \"1ms\"").await;
    let events = stream(&m.url, body("tell me")).await;
    let names: Vec<&str> = events.iter().map(StreamEvent::name).collect();
    let deltas = names.len() - 6;
    assert!(deltas > 0);
    let mut expected = vec!["message_start", "content_block_start", "ping"];
    expected.extend(std::iter::repeat_n("content_block_delta", deltas));
    expected.extend(["content_block_stop", "message_delta", "message_stop"]);
    assert_eq!(names, expected);
    let StreamEvent::MessageStart { message: start } = &events[0] else {
        unreachable!()
    };
    assert!(start.content.is_empty() && start.stop_reason.is_none());
    let (text, reason, seq, tokens) = streamed(&events);
    let full = message(&m.url, &body("tell me")).await;
    assert_eq!(text, text_of(&full));
    assert_eq!(
        (reason, seq, tokens),
        (StopReason::EndTurn, None, full.usage.output_tokens)
    );
    assert_eq!(start.id.len(), full.id.len());
    assert_eq!(start.usage.input_tokens, full.usage.input_tokens);
}

#[tokio::test]
async fn a_rate_limit_is_a_429_rate_limit_error_with_anthropics_headers() {
    let options = MockOptions {
        epoch_secs: 1_700_000_000,
        ..MockOptions::default()
    };
    let m = start_with(
        "[limits]\nrequests_per_minute = 2\ntokens_per_minute = 100000",
        options,
    )
    .await;
    for remaining in ["1", "0"] {
        let r = send(&m.url, Some("k"), &body("x")).await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["anthropic-ratelimit-requests-remaining"],
            remaining
        );
    }
    let r = send(&m.url, Some("k"), &body("x")).await;
    assert_eq!(r.status(), 429);
    let h = r.headers().clone();
    // One request refills in 30 s; whole seconds, rounded up.
    let wait: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((29..=30).contains(&wait), "{wait}");
    assert_eq!(h["anthropic-ratelimit-requests-limit"], "2");
    assert_eq!(h["anthropic-ratelimit-requests-remaining"], "0");
    assert_eq!(h["anthropic-ratelimit-tokens-limit"], "100000");
    assert!(
        h.get("x-ratelimit-limit-requests").is_none(),
        "no OpenAI headers"
    );
    // The bucket is full again a minute after the two requests (RFC 3339, from epoch_secs).
    let reset = h["anthropic-ratelimit-requests-reset"].to_str().unwrap();
    let secs = since_epoch_on_2023_11_14(reset);
    assert!((1_700_000_059..=1_700_000_061).contains(&secs), "{reset}");
    let e = error(r).await;
    assert_eq!(e.error.kind, ErrorType::RateLimitError);
    assert!(
        e.error.message.contains("requests per minute"),
        "{}",
        e.error.message
    );
}

/// Seconds since the epoch of `2023-11-14THH:MM:SSZ` (the day of `epoch_secs` 1 700 000 000).
fn since_epoch_on_2023_11_14(t: &str) -> u64 {
    let clock = t
        .strip_prefix("2023-11-14T")
        .and_then(|c| c.strip_suffix('Z'))
        .unwrap_or_else(|| panic!("not RFC 3339 on that day: {t}"));
    let parts: Vec<u64> = clock.split(':').map(|p| p.parse().unwrap()).collect();
    let midnight = 1_700_000_000 - (22 * 3600 + 13 * 60 + 20);
    midnight + parts[0] * 3600 + parts[1] * 60 + parts[2]
}

#[tokio::test]
async fn an_outage_and_an_injected_503_are_529_overloaded_errors() {
    for toml in [
        "[[timeline]]\nat = \"0s\"\nkind = \"outage\"",
        "[[failures]]\nkind = \"status\"\nstatus = 503\nprobability = 1.0",
    ] {
        let m = start(toml).await;
        let r = send(&m.url, Some("k"), &body("x")).await;
        assert_eq!(r.status().as_u16(), 529, "{toml}");
        let e = error(r).await;
        assert_eq!(e.error.kind, ErrorType::OverloadedError);
        assert_eq!(e.error.message, "Overloaded");
        // A streamed request is refused the same way, before the stream begins.
        let mut b = body("x");
        b["stream"] = json!(true);
        assert_eq!(send(&m.url, Some("k"), &b).await.status().as_u16(), 529);
    }
}

#[tokio::test]
async fn other_server_failures_keep_their_status_with_anthropics_types() {
    for (status, kind) in [(500, ErrorType::ApiError), (504, ErrorType::TimeoutError)] {
        let m = start(&format!(
            "[[failures]]\nkind = \"status\"\nstatus = {status}\nprobability = 1.0"
        ))
        .await;
        let r = send(&m.url, Some("k"), &body("x")).await;
        assert_eq!(r.status().as_u16(), status);
        assert_eq!(error(r).await.error.kind, kind);
    }
}

#[tokio::test]
async fn a_full_gate_is_a_529() {
    let m = start(
        "[latency]\ndistribution = \"fixed\"\nvalue = \"500ms\"\n\
         [concurrency]\nlimit = 1\nmode = \"reject\"",
    )
    .await;
    let (first, second) = (body("a"), body("b"));
    let (a, b) = tokio::join!(
        send(&m.url, Some("k"), &first),
        send(&m.url, Some("k"), &second)
    );
    let (refused, served) = if a.status() == 200 { (b, a) } else { (a, b) };
    assert_eq!(served.status(), 200);
    assert_eq!(refused.status().as_u16(), 529);
    assert_eq!(error(refused).await.error.kind, ErrorType::OverloadedError);
    assert_eq!(m.state.stats().by_fault["overload"], 1);
}

#[tokio::test]
async fn listed_keys_only_and_either_header_carries_the_key() {
    let m = start("[[keys]]\nkey = \"sk-ant-a\"").await;
    let r = send(&m.url, None, &body("x")).await;
    assert_eq!(r.status(), 401);
    let e = error(r).await;
    assert_eq!(e.error.kind, ErrorType::AuthenticationError);
    assert_eq!(e.error.message, "x-api-key header is required");
    let r = send(&m.url, Some("sk-ant-b"), &body("x")).await;
    assert_eq!(r.status(), 401);
    assert_eq!(error(r).await.error.message, "invalid x-api-key");
    assert_eq!(
        send(&m.url, Some("sk-ant-a"), &body("x")).await.status(),
        200
    );
    let r = client()
        .post(format!("{}/v1/messages", m.url))
        .header("anthropic-version", VERSION)
        .bearer_auth("sk-ant-a")
        .json(&body("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_spent_quota_is_a_400_not_to_be_retried() {
    let m = start("[limits]\nrequests_per_day = 1").await;
    assert_eq!(send(&m.url, Some("k"), &body("x")).await.status(), 200);
    let r = send(&m.url, Some("k"), &body("x")).await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["x-should-retry"], "false");
    assert!(r.headers().get("retry-after").is_none());
    let e = error(r).await;
    assert_eq!(e.error.kind, ErrorType::InvalidRequestError);
    assert!(e
        .error
        .message
        .starts_with("Your credit balance is too low"));
    assert_eq!(m.state.stats().by_fault["quota_exhausted"], 1);
}

#[tokio::test]
async fn truncation_breaks_the_answer_and_the_stream() {
    let m = start(
        "[reply]\ntokens = { distribution = \"fixed\", value = 40 }\n\
         [[failures]]\nkind = \"truncate\"\nprobability = 1.0",
    )
    .await;
    let r = send(&m.url, Some("k"), &body("x")).await;
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.is_err(), "the body breaks off");
    let mut b = body("x");
    b["stream"] = json!(true);
    let r = send(&m.url, Some("k"), &b).await;
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.is_err(), "the stream breaks off");
    assert_eq!(m.state.stats().by_fault["truncate"], 2);
}

#[tokio::test]
async fn malformed_bodies_look_like_anthropics_but_do_not_parse() {
    let m = start("[[failures]]\nkind = \"malformed\"\nprobability = 1.0").await;
    let text = send(&m.url, Some("k"), &body("x"))
        .await
        .text()
        .await
        .unwrap();
    assert!(text.starts_with("{\"id\":\"msg_broken\""), "{text}");
    assert!(serde_json::from_str::<Value>(&text).is_err());
}

#[tokio::test]
async fn stats_count_the_route() {
    let m = start("").await;
    for _ in 0..3 {
        send(&m.url, Some("k"), &body("x")).await;
    }
    send(&m.url, Some("k"), &json!({"model": "m"})).await;
    let s: Value = client()
        .get(format!("{}/_mock/stats", m.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["by_route"]["/v1/messages"], 4);
    assert_eq!(s["by_route_status"]["/v1/messages"]["200"], 3);
    assert_eq!(s["by_route_status"]["/v1/messages"]["400"], 1);
}

#[tokio::test]
async fn bad_requests_are_400s_naming_the_field() {
    let m = start("max_body_bytes = 2048").await;
    let mut no_max = body("x");
    no_max.as_object_mut().unwrap().remove("max_tokens");
    let cases = [
        (no_max, "max_tokens: Field required"),
        (
            json!({"model": "m", "max_tokens": 5, "messages": []}),
            "messages: at least one message is required",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}),
            "messages.0.role: ",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": ""}]}),
            "messages.0: all messages must have non-empty content",
        ),
        (
            json!({"model": "m", "max_tokens": 0, "messages": [{"role": "user", "content": "x"}]}),
            "max_tokens: ",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "temperature": 1.5, "messages": [{"role": "user", "content": "x"}]}),
            "temperature: ",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "stop_sequences": [""], "messages": [{"role": "user", "content": "x"}]}),
            "stop_sequences.0: ",
        ),
    ];
    for (b, expected) in cases {
        let r = send(&m.url, Some("k"), &b).await;
        assert_eq!(r.status(), 400, "{b}");
        assert_eq!(r.headers()["x-should-retry"], "false");
        let e = error(r).await;
        assert_eq!(e.error.kind, ErrorType::InvalidRequestError);
        assert!(
            e.error.message.starts_with(expected),
            "{}: {}",
            b,
            e.error.message
        );
    }
    // Without the version header, and with one the API does not know.
    let r = client()
        .post(format!("{}/v1/messages", m.url))
        .header("x-api-key", "k")
        .json(&body("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        error(r).await.error.message,
        "anthropic-version: header is required"
    );
    // Not JSON, and over the body limit.
    let r = client()
        .post(format!("{}/v1/messages", m.url))
        .header("anthropic-version", VERSION)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error(r).await.error.kind, ErrorType::InvalidRequestError);
    let r = send(&m.url, Some("k"), &body(&"x".repeat(4096))).await;
    assert_eq!(r.status(), 413);
    assert_eq!(error(r).await.error.kind, ErrorType::RequestTooLarge);
    assert_eq!(m.state.stats().by_route["/v1/messages"], 10);
}

#[tokio::test]
async fn a_small_max_tokens_stops_with_max_tokens() {
    let m = start("[reply]\ntokens = { distribution = \"fixed\", value = 50 }").await;
    let mut b = body("x");
    b["max_tokens"] = json!(5);
    let msg = message(&m.url, &b).await;
    assert_eq!(msg.stop_reason, Some(StopReason::MaxTokens));
    assert_eq!(msg.usage.output_tokens, 5);
    assert_eq!(text_of(&msg).len(), 20);
    let (text, reason, _, tokens) = streamed(&stream(&m.url, b).await);
    assert_eq!(
        (text.as_str(), reason, tokens),
        (text_of(&msg), StopReason::MaxTokens, 5)
    );
}

#[tokio::test]
async fn a_stop_sequence_cuts_the_answer_where_it_first_occurs() {
    let m = start("[reply]\ntokens = { distribution = \"fixed\", value = 40 }").await;
    let full = message(&m.url, &body("x")).await;
    let full = text_of(&full).to_string();
    // The third word, with the space before it: it occurs at least once, maybe earlier too.
    let word = format!(" {}", full.split(' ').nth(2).unwrap());
    let cut = &full[..full.find(&word).unwrap()];
    let mut b = body("x");
    b["stop_sequences"] = json!(["never-in-the-vocabulary", word]);
    let msg = message(&m.url, &b).await;
    assert_eq!(text_of(&msg), cut);
    assert_eq!(msg.stop_reason, Some(StopReason::StopSequence));
    assert_eq!(msg.stop_sequence.as_deref(), Some(word.as_str()));
    assert_eq!(msg.usage.output_tokens as usize, cut.len().div_ceil(4));
    let (text, reason, seq, _) = streamed(&stream(&m.url, b).await);
    assert_eq!((text.as_str(), reason), (cut, StopReason::StopSequence));
    assert_eq!(seq.as_deref(), Some(word.as_str()));
}

#[tokio::test]
async fn the_same_seed_gives_the_same_answers() {
    let run = |seed: u64| async move {
        let m = start_with(
            "",
            MockOptions {
                seed: Some(seed),
                ..MockOptions::default()
            },
        )
        .await;
        let mut out = Vec::new();
        for prompt in ["a", "b", "a"] {
            let msg = message(&m.url, &body(prompt)).await;
            out.push((msg.id.clone(), text_of(&msg).to_string()));
        }
        out
    };
    let (a, b, c) = (run(7).await, run(7).await, run(8).await);
    assert_eq!(a, b);
    assert_eq!(a[0].1, a[2].1, "the same prompt, the same reply");
    assert_ne!(a[0].0, a[2].0, "a new id per message");
    assert_ne!(a[0].1, c[0].1, "another seed, another reply");
}

fn weather_tools(choice: Value) -> Value {
    let mut b = body("What is the weather in Paris?");
    b["tools"] = json!([
        {"name": "get_weather", "description": "Weather of a city",
         "input_schema": {"type": "object", "additionalProperties": false,
            "properties": {"city": {"type": "string", "minLength": 1},
                           "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                           "days": {"type": "integer", "minimum": 1, "maximum": 7}},
            "required": ["city", "unit"]}},
        {"name": "get_time", "input_schema": {"type": "object", "properties": {"tz": {"type": "string"}}}}
    ]);
    b["tool_choice"] = choice;
    b
}

#[tokio::test]
async fn a_forced_tool_is_a_tool_use_valid_for_its_schema_and_streams_as_input_json() {
    let m = start("").await;
    let b = weather_tools(json!({"type": "tool", "name": "get_weather"}));
    let schema = b["tools"][0]["input_schema"].clone();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let msg = message(&m.url, &b).await;
    assert_eq!(msg.stop_reason, Some(StopReason::ToolUse));
    let [ContentBlock::ToolUse { id, name, input }] = msg.content.as_slice() else {
        panic!("one tool_use block: {:?}", msg.content)
    };
    assert!(id.starts_with("toolu_"), "{id}");
    assert_eq!(name, "get_weather");
    assert!(validator.is_valid(input), "{input}");

    let events = stream(&m.url, b).await;
    let mut json = String::new();
    for e in &events {
        match e {
            StreamEvent::ContentBlockStart {
                index: 0,
                content_block,
            } => {
                assert_eq!(
                    content_block,
                    &ContentBlock::ToolUse {
                        id: id.clone(),
                        name: name.clone(),
                        input: json!({})
                    }
                );
            }
            StreamEvent::ContentBlockDelta {
                index: 0,
                delta: BlockDelta::InputJsonDelta { partial_json },
            } => json.push_str(partial_json),
            StreamEvent::ContentBlockDelta { .. } => panic!("only input_json_delta: {e:?}"),
            _ => {}
        }
    }
    let sent: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(&sent, input, "the stream sends the same call");
    let (text, reason, _, tokens) = streamed(&events);
    assert!(text.is_empty(), "no text block");
    assert_eq!(
        (reason, tokens),
        (StopReason::ToolUse, msg.usage.output_tokens)
    );
}

#[tokio::test]
async fn tool_choices_any_none_and_a_bad_one() {
    let m = start("").await;
    let any = message(&m.url, &weather_tools(json!({"type": "any"}))).await;
    assert_eq!(any.stop_reason, Some(StopReason::ToolUse));
    assert!(any
        .content
        .iter()
        .all(|b| matches!(b, ContentBlock::ToolUse { .. })));
    assert!(!any.content.is_empty());
    let none = message(&m.url, &weather_tools(json!({"type": "none"}))).await;
    assert_eq!(none.stop_reason, Some(StopReason::EndTurn));
    text_of(&none);
    let r = send(
        &m.url,
        Some("k"),
        &weather_tools(json!({"type": "tool", "name": "nope"})),
    )
    .await;
    assert_eq!(r.status(), 400);
    let e = error(r).await;
    assert!(
        e.error.message.starts_with("tool_choice.name: "),
        "{}",
        e.error.message
    );
    // The refusal came before the engine: nothing was taken from the key's limits.
    let usage = m.state.key_usage();
    assert_eq!((usage.len(), usage[0].requests), (1, 2));
}
