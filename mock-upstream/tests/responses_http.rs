//! The Responses API (`POST /v1/responses`) over real HTTP: the response object, the typed
//! stream, `previous_response_id`, bad input, and the fault engine on this route.

mod common;

use common::{chat, client, start, start_with};
use gauntlet_wire::openai::responses::{OutputItem, Response, ResponseStatus, ResponseStreamEvent};
use gauntlet_wire::tokens::approx_tokens;
use mock_upstream::server::MockOptions;
use serde_json::{json, Value};

async fn post(url: &str, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{url}/v1/responses"))
        .bearer_auth("k")
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn answer(url: &str, body: &Value) -> (Response, Value) {
    let r = post(url, body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let raw: Value = r.json().await.unwrap();
    let typed: Response = serde_json::from_value(raw.clone()).expect("the wire type reads it");
    (typed, raw)
}

/// Reads a Responses stream as the SDKs do: `event: <type>` and `data: <json>` per event, the
/// name equal to the data's `type`.
fn parse_events(text: &str) -> Vec<ResponseStreamEvent> {
    text.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let (name, data) = e
                .strip_prefix("event: ")
                .and_then(|e| e.split_once("\ndata: "))
                .expect("every event is an event line and a data line");
            let raw: Value = serde_json::from_str(data).expect("each event is JSON");
            assert_eq!(raw["type"], name, "the event's name is its type");
            serde_json::from_value(raw).expect("each event is a known typed event")
        })
        .collect()
}

async fn stream(url: &str, mut body: Value) -> Vec<ResponseStreamEvent> {
    body["stream"] = json!(true);
    let r = post(url, &body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    parse_events(&r.text().await.unwrap())
}

fn message_text(r: &Response) -> &str {
    match &r.output[..] {
        [OutputItem::Message(m)] => match &m.content[..] {
            [gauntlet_wire::openai::responses::OutputContent::OutputText { text, .. }] => text,
            other => panic!("one output_text part expected, got {other:?}"),
        },
        other => panic!("one message expected, got {other:?}"),
    }
}

#[tokio::test]
async fn plain_answer_is_a_response_object() {
    let m = start("").await;
    let body = json!({"model": "gpt-4.1-mini", "input": "tell me something",
        "instructions": "be brief", "metadata": {"run": "7"}});
    let (r, raw) = answer(&m.url, &body).await;
    assert!(
        r.id.starts_with("resp_") && r.id.len() == 5 + 48,
        "{}",
        r.id
    );
    assert_eq!(r.object, "response");
    assert_eq!(r.status, ResponseStatus::Completed);
    assert_eq!(r.model, "gpt-4.1-mini");
    assert_eq!(r.instructions.as_deref(), Some("be brief"));
    assert_eq!(r.metadata["run"], "7");
    let text = message_text(&r).to_string();
    assert!(!text.is_empty());
    assert_eq!(r.output_text(), text);
    let usage = r.usage.unwrap();
    // Priming 3, the instructions (4 + 2) and the input (4 + 5).
    assert_eq!(usage.input_tokens, 3 + 4 + 2 + 4 + 5);
    assert_eq!(usage.output_tokens, approx_tokens(&text));
    assert_eq!(usage.total_tokens, usage.input_tokens + usage.output_tokens);
    // What the SDKs require is there, `null` where the spec allows; `output_text` is the
    // SDKs' own and not sent.
    for key in ["error", "incomplete_details", "previous_response_id"] {
        assert!(raw[key].is_null(), "{key}: {raw}");
    }
    assert!(raw.get("output_text").is_none());
    assert_eq!(raw["tool_choice"], "auto");
    assert_eq!(raw["tools"], json!([]));
    assert_eq!(raw["parallel_tool_calls"], true);
    assert_eq!(raw["text"], json!({"format": {"type": "text"}}));
    assert_eq!(raw["output"][0]["role"], "assistant");
    assert_eq!(raw["output"][0]["status"], "completed");
    assert_eq!(raw["output"][0]["content"][0]["annotations"], json!([]));
    assert_eq!(raw["usage"]["input_tokens_details"]["cached_tokens"], 0);
    assert_eq!(raw["usage"]["output_tokens_details"]["reasoning_tokens"], 0);
}

#[tokio::test]
async fn stream_sends_the_typed_events_in_order() {
    let m = start("[stream]\ntime_to_first_token = \"5ms\"\nper_token = \"1ms\"").await;
    let body = json!({"model": "m", "input": [{"role": "user", "content": [
        {"type": "input_text", "text": "stream "}, {"type": "input_text", "text": "this"}]}]});
    let events = stream(&m.url, body.clone()).await;
    let kinds: Vec<_> = events.iter().map(|e| e.kind()).collect();
    let deltas = kinds
        .iter()
        .filter(|k| **k == "response.output_text.delta")
        .count();
    assert!(deltas > 0);
    let mut want = vec![
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ];
    want.extend(std::iter::repeat_n("response.output_text.delta", deltas));
    want.extend([
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]);
    assert_eq!(kinds, want);
    let seqs: Vec<u64> = events.iter().map(|e| e.sequence_number()).collect();
    assert_eq!(seqs, (0..events.len() as u64).collect::<Vec<_>>());

    let ResponseStreamEvent::Created { response, .. } = &events[0] else {
        unreachable!()
    };
    assert_eq!(response.status, ResponseStatus::InProgress);
    assert!(response.output.is_empty() && response.usage.is_none());
    let joined: String = events
        .iter()
        .filter_map(|e| match e {
            ResponseStreamEvent::OutputTextDelta { delta, .. } => Some(delta.as_str()),
            _ => None,
        })
        .collect();
    let done_text = events.iter().find_map(|e| match e {
        ResponseStreamEvent::OutputTextDone { text, .. } => Some(text.clone()),
        _ => None,
    });
    assert_eq!(done_text.as_deref(), Some(joined.as_str()));
    let Some(ResponseStreamEvent::Completed { response, .. }) = events.last() else {
        unreachable!()
    };
    assert_eq!(response.status, ResponseStatus::Completed);
    assert_eq!(response.id, {
        let ResponseStreamEvent::Created { response: r, .. } = &events[0] else {
            unreachable!()
        };
        r.id.clone()
    });
    assert_eq!(message_text(response), joined);

    // The same input without streaming gets the same text and usage.
    let (whole, _) = answer(&m.url, &body).await;
    assert_eq!(message_text(&whole), joined);
    assert_eq!(whole.usage, response.usage);
}

#[tokio::test]
async fn max_output_tokens_makes_it_incomplete() {
    let m = start("[reply]\ntokens = { distribution = \"fixed\", value = 50 }").await;
    let body = json!({"model": "m", "input": "x", "max_output_tokens": 20});
    let (r, raw) = answer(&m.url, &body).await;
    assert_eq!(r.status, ResponseStatus::Incomplete);
    assert_eq!(
        raw["incomplete_details"],
        json!({"reason": "max_output_tokens"})
    );
    assert_eq!(raw["output"][0]["status"], "incomplete");
    assert_eq!(raw["max_output_tokens"], 20);
    assert_eq!(r.usage.unwrap().output_tokens, 20);
    let events = stream(&m.url, body).await;
    let last = events.last().unwrap();
    assert_eq!(last.kind(), "response.incomplete");
    assert!(events.iter().all(|e| e.kind() != "response.completed"));
}

#[tokio::test]
async fn previous_response_id_carries_the_conversation() {
    let m = start("").await;
    let (first, _) = answer(&m.url, &json!({"model": "m", "input": "hello there"})).await;
    let u1 = first.usage.unwrap();
    let next = json!({"model": "m", "input": "and then?", "previous_response_id": first.id});
    let (second, raw) = answer(&m.url, &next).await;
    assert_eq!(raw["previous_response_id"], first.id);
    let u2 = second.usage.unwrap();
    // This request's priming and input, plus the first turn's input and its answer.
    assert_eq!(
        u2.input_tokens,
        3 + (4 + approx_tokens("and then?")) + (u1.input_tokens - 3) + (4 + u1.output_tokens)
    );
    // The same input without the earlier turns is a different conversation.
    let (alone, _) = answer(&m.url, &json!({"model": "m", "input": "and then?"})).await;
    assert!(alone.usage.unwrap().input_tokens < u2.input_tokens);
    // A chain: the third turn counts both before it.
    let third = json!({"model": "m", "input": "ok", "previous_response_id": second.id});
    let (r3, _) = answer(&m.url, &third).await;
    assert_eq!(
        r3.usage.unwrap().input_tokens,
        3 + (4 + 1) + (u2.input_tokens - 3) + (4 + u2.output_tokens)
    );
}

#[tokio::test]
async fn unknown_or_unstored_previous_response_is_the_apis_400() {
    let m = start("").await;
    let (unstored, raw) =
        answer(&m.url, &json!({"model": "m", "input": "x", "store": false})).await;
    assert_eq!(raw["store"], false);
    for id in ["resp_nope", unstored.id.as_str()] {
        let r = post(
            &m.url,
            &json!({"model": "m", "input": "y", "previous_response_id": id}),
        )
        .await;
        assert_eq!(r.status(), 400);
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"]["type"], "invalid_request_error");
        assert_eq!(e["error"]["code"], "previous_response_not_found");
        assert_eq!(e["error"]["param"], "previous_response_id");
        assert_eq!(
            e["error"]["message"],
            format!("Previous response with id '{id}' not found.")
        );
    }
    // A reset forgets what was stored.
    let (kept, _) = answer(&m.url, &json!({"model": "m", "input": "x"})).await;
    m.state.reset();
    let r = post(
        &m.url,
        &json!({"model": "m", "input": "y", "previous_response_id": kept.id}),
    )
    .await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn bad_input_is_a_400_naming_the_param() {
    let m = start("").await;
    let cases = [
        (json!({"model": "m"}), "input"),
        (json!({"model": "m", "input": 7}), "input"),
        (
            json!({"model": "m", "input": [{"type": "reasoning"}]}),
            "input[0]",
        ),
        (
            json!({"model": "m", "input": [{"role": "user", "content": 7}]}),
            "input[0].content",
        ),
        (
            json!({"model": "m", "input": "x", "tool_choice": "maybe"}),
            "tool_choice",
        ),
        (
            json!({"model": "m", "input": "x", "max_output_tokens": 5}),
            "max_output_tokens",
        ),
        (
            json!({"model": "m", "input": "x", "tools": [{"type": "web_search"}]}),
            "tools[0].type",
        ),
        (
            json!({"model": "m", "input": "x", "stream": "yes"}),
            "stream",
        ),
    ];
    for (body, param) in cases {
        let r = post(&m.url, &body).await;
        assert_eq!(r.status(), 400, "{body}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"]["type"], "invalid_request_error", "{body}");
        assert_eq!(e["error"]["param"], param, "{body}: {e}");
    }
    assert_eq!(m.state.stats().by_route["/v1/responses"], 8);
}

#[tokio::test]
async fn items_calls_and_outputs_are_read_and_counted() {
    let m = start("").await;
    let body = json!({"model": "m", "input": [
        {"role": "user", "content": "weather?"},
        {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "{\"c\":21}"},
    ]});
    let (r, _) = answer(&m.url, &body).await;
    let want = 3 + (4 + 2) + (4 + approx_tokens("get_weather({})")) + (4 + 2);
    assert_eq!(r.usage.unwrap().input_tokens, want);
}

#[tokio::test]
async fn json_object_format_answers_a_json_object() {
    let m = start("").await;
    let body = json!({"model": "m", "input": "x", "text": {"format": {"type": "json_object"}}});
    let (r, raw) = answer(&m.url, &body).await;
    assert_eq!(raw["text"]["format"]["type"], "json_object");
    let doc: Value = serde_json::from_str(message_text(&r)).expect("the text is JSON");
    assert!(doc.is_object());
    assert_eq!(
        r.usage.unwrap().output_tokens,
        approx_tokens(message_text(&r))
    );
}

#[tokio::test]
async fn rate_limits_apply_with_openai_headers() {
    let m = start("[limits]\nrequests_per_minute = 1").await;
    let body = json!({"model": "gpt-4.1", "input": "x"});
    let ok = post(&m.url, &body).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["x-ratelimit-limit-requests"], "1");
    let r = post(&m.url, &body).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(r.headers()["x-ratelimit-remaining-requests"], "0");
    assert!(r.headers().contains_key("x-ratelimit-reset-requests"));
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "rate_limit_exceeded");
    assert!(e["error"]["message"].as_str().unwrap().contains("gpt-4.1"));
}

#[tokio::test]
async fn quota_exhaustion_says_do_not_retry() {
    let m = start("[limits]\nrequests_per_day = 1").await;
    let body = json!({"model": "m", "input": "x"});
    assert_eq!(post(&m.url, &body).await.status(), 200);
    let r = post(&m.url, &body).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["x-should-retry"], "false");
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "insufficient_quota");
}

#[tokio::test]
async fn an_outage_window_answers_its_status() {
    let m =
        start("[[timeline]]\nat = \"0s\"\nfor = \"300ms\"\nkind = \"outage\"\nstatus = 503").await;
    let body = json!({"model": "m", "input": "x"});
    let r = post(&m.url, &body).await;
    assert_eq!(r.status(), 503);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["type"], "server_error");
    tokio::time::sleep(std::time::Duration::from_millis(350)).await;
    assert_eq!(post(&m.url, &body).await.status(), 200);
    assert_eq!(m.state.stats().by_fault["outage"], 1);
}

#[tokio::test]
async fn the_timeline_deprecates_the_route_alone() {
    let m =
        start("[[timeline]]\nat = \"0s\"\nkind = \"deprecate\"\nroute = \"/v1/responses\"").await;
    let r = post(&m.url, &json!({"model": "m", "input": "x"})).await;
    assert_eq!(r.status(), 410);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "endpoint_deprecated");
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains("/v1/responses"));
    assert_eq!(
        chat(&client(), &m.url, "k", "x").await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn truncation_cuts_the_answer_and_the_stream() {
    let m = start("[[failures]]\nkind = \"truncate\"\nprobability = 1.0").await;
    let body = json!({"model": "m", "input": "x"});
    let r = post(&m.url, &body).await;
    assert_eq!(r.status(), 200);
    // Either half a body, or the connection closed part-way.
    if let Ok(b) = r.bytes().await {
        assert!(serde_json::from_slice::<Value>(&b).is_err(), "half a body");
    }
    let r = post(&m.url, &json!({"model": "m", "input": "x", "stream": true})).await;
    assert_eq!(r.status(), 200);
    let got = r.bytes().await;
    if let Ok(b) = &got {
        let text = String::from_utf8_lossy(b);
        assert!(!text.contains("response.completed"), "{text}");
    }
    assert_eq!(m.state.stats().by_fault["truncate"], 2);
}

#[tokio::test]
async fn stats_count_the_route() {
    let m = start("").await;
    for _ in 0..3 {
        post(&m.url, &json!({"model": "m", "input": "x"})).await;
    }
    let s: Value = client()
        .get(format!("{}/_mock/stats", m.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["by_route"]["/v1/responses"], 3);
}

#[tokio::test]
async fn same_seed_same_input_same_answer() {
    let opts = || MockOptions {
        seed: Some(42),
        ..Default::default()
    };
    let a = start_with("", opts()).await;
    let b = start_with("", opts()).await;
    let body = json!({"model": "m", "input": "what is the answer?"});
    let (ra, _) = answer(&a.url, &body).await;
    let (rb, _) = answer(&b.url, &body).await;
    assert_eq!(message_text(&ra), message_text(&rb));
    assert_eq!(ra.id, rb.id);
    let other = json!({"model": "m", "input": "a different question entirely"});
    let (rc, _) = answer(&a.url, &other).await;
    assert_ne!(message_text(&ra), message_text(&rc));
}

fn weather_tool() -> Value {
    json!({"type": "function", "name": "get_weather", "description": "The weather in a city",
        "strict": true,
        "parameters": {"type": "object", "additionalProperties": false, "required": ["city", "unit"],
            "properties": {"city": {"type": "string", "minLength": 2},
                           "unit": {"type": "string", "enum": ["c", "f"]}}}})
}

fn calls(r: &Response) -> Vec<&gauntlet_wire::openai::responses::FunctionCall> {
    r.output
        .iter()
        .map(|i| match i {
            OutputItem::FunctionCall(c) => c,
            OutputItem::Message(_) => panic!("only calls expected: {r:?}"),
        })
        .collect()
}

#[tokio::test]
async fn a_forced_function_is_called_with_arguments_valid_for_its_schema() {
    let m = start("").await;
    let tool = weather_tool();
    let validator = jsonschema::validator_for(&tool["parameters"]).unwrap();
    let body = json!({"model": "m", "input": "weather in Paris?", "tools": [tool],
        "tool_choice": {"type": "function", "name": "get_weather"}});
    let (r, raw) = answer(&m.url, &body).await;
    assert_eq!(raw["output"][0]["type"], "function_call");
    let [call] = calls(&r)[..] else {
        panic!("one call")
    };
    assert_eq!(call.name, "get_weather");
    assert!(call.call_id.starts_with("call_"));
    assert!(call.id.as_deref().unwrap().starts_with("fc_"));
    let args: Value = serde_json::from_str(&call.arguments).unwrap();
    assert!(validator.is_valid(&args), "{args}");
    assert_eq!(
        r.usage.unwrap().output_tokens,
        approx_tokens(&call.arguments)
    );
    assert_eq!(
        raw["tool_choice"],
        json!({"type": "function", "name": "get_weather"})
    );
    assert_eq!(raw["tools"][0]["name"], "get_weather");

    // Streamed: the arguments come as deltas, then done with the name, then the item.
    let events = stream(&m.url, body).await;
    let kinds: Vec<_> = events.iter().map(|e| e.kind()).collect();
    assert_eq!(
        &kinds[..3],
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added"
        ]
    );
    assert!(!kinds.contains(&"response.output_text.delta"));
    let joined: String = events
        .iter()
        .filter_map(|e| match e {
            ResponseStreamEvent::FunctionCallArgumentsDelta { delta, .. } => Some(delta.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(joined, call.arguments);
    let done = events.iter().find_map(|e| match e {
        ResponseStreamEvent::FunctionCallArgumentsDone {
            name, arguments, ..
        } => Some((name, arguments)),
        _ => None,
    });
    assert_eq!(done, Some((&call.name, &call.arguments)));
    assert_eq!(
        kinds[kinds.len() - 2..],
        ["response.output_item.done", "response.completed"]
    );
    let seqs: Vec<u64> = events.iter().map(|e| e.sequence_number()).collect();
    assert_eq!(seqs, (0..events.len() as u64).collect::<Vec<_>>());
}

#[tokio::test]
async fn auto_follows_the_fault_files_share_and_none_never_calls() {
    let always = start("[tools]\nauto_call_share = 1.0").await;
    let body = json!({"model": "m", "input": "x", "tools": [weather_tool()]});
    let (r, _) = answer(&always.url, &body).await;
    assert_eq!(calls(&r).len(), 1);
    let mut none = body.clone();
    none["tool_choice"] = json!("none");
    let (r, _) = answer(&always.url, &none).await;
    assert!(matches!(&r.output[..], [OutputItem::Message(_)]));
    let never = start("[tools]\nauto_call_share = 0.0").await;
    let (r, _) = answer(&never.url, &body).await;
    assert!(matches!(&r.output[..], [OutputItem::Message(_)]));
}

#[tokio::test]
async fn a_tool_loop_continues_with_the_functions_output() {
    let m = start("").await;
    let body = json!({"model": "m", "input": "weather?", "tools": [weather_tool()],
        "tool_choice": "required"});
    let (first, _) = answer(&m.url, &body).await;
    let call_id = calls(&first)[0].call_id.clone();
    let next = json!({"model": "m", "previous_response_id": first.id, "tools": [weather_tool()],
        "tool_choice": "none",
        "input": [{"type": "function_call_output", "call_id": call_id, "output": "{\"temp\":21}"}]});
    let (second, _) = answer(&m.url, &next).await;
    assert!(!message_text(&second).is_empty());
    let u1 = first.usage.unwrap();
    assert_eq!(
        second.usage.unwrap().input_tokens,
        3 + (4 + approx_tokens("{\"temp\":21}"))
            + (u1.input_tokens - 3)
            + (4 + approx_tokens(&format!("get_weather({})", calls(&first)[0].arguments)))
    );
}

#[tokio::test]
async fn json_schema_format_answers_an_instance_of_the_schema() {
    let m = start("").await;
    let schema = json!({"type": "object", "additionalProperties": false,
        "required": ["title", "tags", "score"],
        "properties": {"title": {"type": "string"}, "score": {"type": "integer", "minimum": 0, "maximum": 10},
                       "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3}}});
    let validator = jsonschema::validator_for(&schema).unwrap();
    let body = json!({"model": "m", "input": "rate this",
        "text": {"format": {"type": "json_schema", "name": "rating", "strict": true, "schema": schema}}});
    let (r, raw) = answer(&m.url, &body).await;
    assert_eq!(raw["text"]["format"]["name"], "rating");
    let doc: Value = serde_json::from_str(message_text(&r)).expect("the text is JSON");
    assert!(validator.is_valid(&doc), "{doc}");
    let (again, _) = answer(&m.url, &body).await;
    assert_eq!(
        message_text(&again),
        message_text(&r),
        "the same input, the same instance"
    );
    // A strict schema the API would refuse is a 400 naming it.
    let mut loose = body.clone();
    loose["text"]["format"]["schema"]["additionalProperties"] = json!(true);
    let e = post(&m.url, &loose).await;
    assert_eq!(e.status(), 400);
    let e: Value = e.json().await.unwrap();
    assert_eq!(e["error"]["param"], "text.format.schema");
}
