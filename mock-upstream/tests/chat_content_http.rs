//! Chat completions that speak tools, structured outputs, `n`, `stop` and `seed`, over real
//! HTTP, with the arguments and instances checked by a real JSON Schema validator.

mod common;

use std::collections::BTreeMap;

use common::{client, start};
use gauntlet_wire::openai::ChatCompletionChunk;
use serde_json::{json, Value};

fn weather_tool() -> Value {
    json!({"type": "function", "function": {"name": "get_weather", "description": "Weather at a place",
        "parameters": {"type": "object", "properties": {
            "location": {"type": "object", "properties": {
                "city": {"type": "string", "minLength": 2}, "country": {"type": "string", "pattern": "^[A-Z]{2}$"}},
                "required": ["city", "country"]},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer", "minimum": 1, "maximum": 14}},
            "required": ["location", "unit", "days"], "additionalProperties": false}}})
}

fn time_tool() -> Value {
    json!({"type": "function", "function": {"name": "get_time", "strict": true,
        "parameters": {"type": "object", "properties": {"tz": {"type": "string", "format": "uuid"}},
            "required": ["tz"], "additionalProperties": false}}})
}

/// A pydantic-shaped nested schema, made strict as the OpenAI SDK's `parse` helpers make it.
fn invoice_schema() -> Value {
    json!({
        "$defs": {"Line": {"type": "object", "properties": {
            "sku": {"type": "string"}, "qty": {"type": "integer", "minimum": 1},
            "price": {"type": "number", "minimum": 0}},
            "required": ["sku", "qty", "price"], "additionalProperties": false}},
        "type": "object", "title": "Invoice",
        "properties": {
            "number": {"type": "string", "pattern": "^INV-[0-9]{6}$"},
            "issued": {"type": "string", "format": "date"},
            "status": {"type": "string", "enum": ["draft", "sent", "paid"]},
            "lines": {"type": "array", "items": {"$ref": "#/$defs/Line"}, "minItems": 1},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
        "required": ["number", "issued", "status", "lines", "note"], "additionalProperties": false
    })
}

fn assert_valid(schema: &Value, instance: &Value) {
    let v = jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .expect("the test's schema is valid");
    let errors: Vec<String> = v.iter_errors(instance).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{instance} against {schema}: {errors:?}");
}

async fn post(url: &str, body: &Value) -> (u16, Value) {
    let r = client()
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth("k")
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

async fn post_stream(url: &str, body: &Value) -> Vec<ChatCompletionChunk> {
    let r = client()
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth("k")
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    text.split("\n\n")
        .filter(|e| !e.is_empty() && *e != "data: [DONE]")
        .map(|e| serde_json::from_str(e.strip_prefix("data: ").unwrap()).unwrap())
        .collect()
}

fn ask(prompt: &str) -> Value {
    json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]})
}

#[tokio::test]
async fn required_calls_a_tool_with_arguments_valid_for_its_schema() {
    let m = start("seed = 3").await;
    let mut seen_two = false;
    for i in 0..20 {
        let mut body = ask(&format!("plan a trip {i}"));
        body["tools"] = json!([weather_tool(), time_tool()]);
        body["tool_choice"] = json!("required");
        let (status, v) = post(&m.url, &body).await;
        assert_eq!(status, 200, "{v}");
        let choice = &v["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls");
        assert!(choice["message"]["content"].is_null());
        let calls = choice["message"]["tool_calls"].as_array().unwrap();
        assert!(!calls.is_empty() && calls.len() <= 2);
        seen_two |= calls.len() == 2;
        for call in calls {
            assert!(call["id"].as_str().unwrap().starts_with("call_"));
            assert_eq!(call["type"], "function");
            let tool = match call["function"]["name"].as_str().unwrap() {
                "get_weather" => weather_tool(),
                "get_time" => time_tool(),
                other => panic!("unknown tool {other}"),
            };
            let args: Value =
                serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
            assert_valid(&tool["function"]["parameters"], &args);
        }
        assert!(v["usage"]["completion_tokens"].as_u64().unwrap() > 0);
        assert!(v["system_fingerprint"].as_str().unwrap().starts_with("fp_"));
    }
    assert!(seen_two, "parallel calls happen with two tools");
}

#[tokio::test]
async fn a_named_function_is_the_one_called() {
    let m = start("").await;
    let mut body = ask("what time is it");
    body["tools"] = json!([weather_tool(), time_tool()]);
    body["tool_choice"] = json!({"type": "function", "function": {"name": "get_time"}});
    for i in 0..10 {
        body["messages"][0]["content"] = json!(format!("what time is it {i}"));
        let (status, v) = post(&m.url, &body).await;
        assert_eq!(status, 200);
        let calls = v["choices"][0]["message"]["tool_calls"].as_array().unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0]["function"]["name"], "get_time");
    }
    body["tool_choice"] = json!({"type": "function", "function": {"name": "get_date"}});
    let (status, v) = post(&m.url, &body).await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["param"], "tool_choice");
    assert_eq!(v["error"]["type"], "invalid_request_error");
}

async fn auto_decisions(url: &str, seed: Option<i64>) -> Vec<bool> {
    let mut out = Vec::new();
    for i in 0..200 {
        let mut body = ask(&format!("question number {i}"));
        body["tools"] = json!([weather_tool()]);
        if let Some(s) = seed {
            body["seed"] = json!(s);
        }
        let (status, v) = post(url, &body).await;
        assert_eq!(status, 200);
        let called = v["choices"][0]["finish_reason"] == "tool_calls";
        assert_eq!(called, v["choices"][0]["message"]["tool_calls"].is_array());
        out.push(called);
    }
    out
}

#[tokio::test]
async fn auto_calls_at_the_configured_share_and_decides_the_same_per_seed() {
    let m = start("seed = 11\n[tools]\nauto_call_share = 0.3").await;
    let first = auto_decisions(&m.url, None).await;
    let share = first.iter().filter(|c| **c).count() as f64 / 200.0;
    // Binomial(200, 0.3) has a standard deviation of 0.032: 0.1 is three of them.
    assert!((share - 0.3).abs() < 0.1, "share {share}");
    assert_eq!(
        auto_decisions(&m.url, None).await,
        first,
        "same requests, same decisions"
    );
    let seeded = auto_decisions(&m.url, Some(5)).await;
    assert_ne!(seeded, first, "the request's seed changes the draws");
    assert_eq!(auto_decisions(&m.url, Some(5)).await, seeded);

    let never = start("[tools]\nauto_call_share = 0").await;
    assert!(auto_decisions(&never.url, None).await.iter().all(|c| !c));
}

#[test]
fn the_share_must_be_a_probability() {
    let e =
        mock_upstream::faults::parse_toml("[tools]\nauto_call_share = 1.5", "t.toml").unwrap_err();
    assert!(e.to_string().contains("outside 0..=1"), "{e}");
    assert!(mock_upstream::faults::parse_toml("[tools]\nauto_call = 1", "t.toml").is_err());
}

#[tokio::test]
async fn streamed_tool_call_arguments_concatenate_to_valid_json() {
    let m = start("[stream]\nper_token = \"1ms\"").await;
    let mut body = ask("stream a call");
    body["tools"] = json!([weather_tool()]);
    body["tool_choice"] = json!("required");
    body["stream"] = json!(true);
    let chunks = post_stream(&m.url, &body).await;
    let mut args: BTreeMap<u32, String> = BTreeMap::new();
    let mut openers = 0;
    let mut finish = None;
    for c in &chunks {
        assert!(c.system_fingerprint.as_deref().unwrap().starts_with("fp_"));
        let Some(choice) = c.choices.first() else {
            continue;
        };
        if let Some(f) = &choice.finish_reason {
            finish = Some(f.clone());
        }
        for d in choice.delta.tool_calls.iter().flatten() {
            let f = d.function.as_ref().unwrap();
            if d.id.is_some() {
                openers += 1;
                assert_eq!(d.kind.as_deref(), Some("function"));
                assert_eq!(f.name.as_deref(), Some("get_weather"));
                assert_eq!(f.arguments.as_deref(), Some(""));
            } else {
                assert!(d.kind.is_none() && f.name.is_none());
            }
            args.entry(d.index)
                .or_default()
                .push_str(f.arguments.as_deref().unwrap());
        }
    }
    assert_eq!(finish.as_deref(), Some("tool_calls"));
    assert_eq!(openers, 1);
    let pieces = chunks
        .iter()
        .filter(|c| {
            c.choices
                .first()
                .is_some_and(|ch| ch.delta.tool_calls.is_some())
        })
        .count();
    assert!(pieces > 3, "arguments come in pieces: {pieces}");
    let args: Value = serde_json::from_str(&args[&0]).unwrap();
    assert_valid(&weather_tool()["function"]["parameters"], &args);

    // The same request unstreamed makes the same call.
    body["stream"] = json!(false);
    let (_, v) = post(&m.url, &body).await;
    let plain: Value = serde_json::from_str(
        v["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(plain, args);
}

#[tokio::test]
async fn json_schema_answers_are_instances_of_the_schema() {
    let m = start("").await;
    for strict in [false, true] {
        for i in 0..10 {
            let mut body = ask(&format!("bill me {i}"));
            body["response_format"] = json!({"type": "json_schema",
                "json_schema": {"name": "Invoice", "schema": invoice_schema(), "strict": strict}});
            let (status, v) = post(&m.url, &body).await;
            assert_eq!(status, 200, "{v}");
            assert_eq!(v["choices"][0]["finish_reason"], "stop");
            let content: Value =
                serde_json::from_str(v["choices"][0]["message"]["content"].as_str().unwrap())
                    .unwrap();
            assert_valid(&invoice_schema(), &content);
        }
    }
    // Strict mode refuses what OpenAI refuses, naming the schema.
    let mut loose = invoice_schema();
    loose
        .as_object_mut()
        .unwrap()
        .remove("additionalProperties");
    let mut body = ask("bill me");
    body["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "Invoice", "schema": loose, "strict": true}});
    let (status, v) = post(&m.url, &body).await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["param"], "response_format");
    assert_eq!(
        v["error"]["message"],
        "Invalid schema for response_format 'Invoice': In context=(), 'additionalProperties' is required to be supplied and to be false."
    );
}

#[tokio::test]
async fn json_object_needs_the_word_json_and_answers_an_object() {
    let m = start("").await;
    let mut body = ask("Reply in JSON please");
    body["response_format"] = json!({"type": "json_object"});
    let (status, v) = post(&m.url, &body).await;
    assert_eq!(status, 200);
    let content: Value =
        serde_json::from_str(v["choices"][0]["message"]["content"].as_str().unwrap()).unwrap();
    assert!(
        content.is_object() && content["answer"].is_string(),
        "{content}"
    );

    body["messages"][0]["content"] = json!("reply please");
    let (status, v) = post(&m.url, &body).await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["param"], "messages");
}

#[tokio::test]
async fn n_choices_differ_are_deterministic_and_stream_with_their_index() {
    let m = start("[reply]\ntokens = { distribution = \"uniform\", min = 10, max = 30 }").await;
    let mut body = ask("three ways");
    body["n"] = json!(3);
    let (status, v) = post(&m.url, &body).await;
    assert_eq!(status, 200);
    let texts: Vec<String> = (0..3)
        .map(|i| {
            assert_eq!(v["choices"][i]["index"], i);
            v["choices"][i]["message"]["content"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(
        texts[0] != texts[1] && texts[1] != texts[2] && texts[0] != texts[2],
        "{texts:?}"
    );
    let tokens: u64 = texts.iter().map(|t| t.len().div_ceil(4) as u64).sum();
    assert_eq!(v["usage"]["completion_tokens"], tokens);
    let (_, again) = post(&m.url, &body).await;
    assert_eq!(again["choices"], v["choices"]);

    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let chunks = post_stream(&m.url, &body).await;
    let mut streamed = vec![String::new(); 3];
    let mut finishes = vec![None; 3];
    for c in &chunks {
        for ch in &c.choices {
            let i = ch.index as usize;
            streamed[i].push_str(ch.delta.content.as_deref().unwrap_or(""));
            if ch.finish_reason.is_some() {
                finishes[i] = ch.finish_reason.clone();
            }
        }
    }
    assert_eq!(streamed, texts);
    assert!(finishes.iter().all(|f| f.as_deref() == Some("stop")));
    let usage = chunks.last().unwrap().usage.unwrap();
    assert_eq!(u64::from(usage.completion_tokens), tokens);
}

#[tokio::test]
async fn stop_cuts_the_text_before_the_first_sequence() {
    let m = start("[reply]\ntokens = { distribution = \"fixed\", value = 60 }").await;
    let body = ask("say a lot");
    let (_, v) = post(&m.url, &body).await;
    let full = v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_string();
    let words: Vec<&str> = full.split(' ').collect();
    let stop_word = format!(" {}", words[words.len() / 2]);
    let at = full.find(&stop_word).unwrap();
    let mut body = body;
    body["stop"] = json!([stop_word, "never-there"]);
    let (status, v) = post(&m.url, &body).await;
    assert_eq!(status, 200);
    assert_eq!(v["choices"][0]["message"]["content"], full[..at]);
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["completion_tokens"], at.div_ceil(4) as u64);
}

#[tokio::test]
async fn seed_changes_the_answer_deterministically() {
    let m = start("").await;
    let with = |s: i64| {
        let mut b = ask("same question");
        b["seed"] = json!(s);
        b
    };
    let content = |v: &Value| v["choices"][0]["message"]["content"].clone();
    let (_, a) = post(&m.url, &with(1)).await;
    let (_, b) = post(&m.url, &with(1)).await;
    let (_, c) = post(&m.url, &with(2)).await;
    assert_eq!(content(&a), content(&b));
    assert_ne!(content(&a), content(&c));
}

#[tokio::test]
async fn invalid_requests_are_400s_naming_the_param() {
    let m = start("").await;
    let user = json!({"role": "user", "content": "hi"});
    let call = json!({"role": "assistant", "content": null,
        "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]});
    let cases = [
        (
            json!({"messages": [user, user, {"role": "robot", "content": "x"}]}),
            "messages[2].role",
        ),
        (
            json!({"messages": [{"role": "user"}]}),
            "messages[0].content",
        ),
        (
            json!({"messages": [user, call, {"role": "tool", "content": "sunny"}]}),
            "messages[2].tool_call_id",
        ),
        (
            json!({"messages": [user], "tools": [{"type": "function", "function": {"name": "f",
            "parameters": {"type": "object", "properties": {"a": {"type": "text"}}}}}]}),
            "tools[0].function.parameters",
        ),
        (
            json!({"messages": [user], "tools": [time_tool()], "tool_choice": "required",
            "parallel_tool_calls": false, "n": 0}),
            "n",
        ),
        (json!({"messages": [user], "n": 129}), "n"),
        (
            json!({"messages": [user], "stop": ["a", "b", "c", "d", "e"]}),
            "stop",
        ),
    ];
    for (mut body, param) in cases {
        body["model"] = json!("gpt-4o-mini");
        let (status, v) = post(&m.url, &body).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(v["error"]["param"], param, "{v}");
    }
    // A well-formed tool loop passes.
    let body = json!({"model": "gpt-4o-mini", "messages": [user, call,
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}], "tools": [weather_tool()]});
    let (status, v) = post(&m.url, &body).await;
    assert_eq!(status, 200, "{v}");
}
