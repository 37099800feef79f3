use super::*;
use crate::openai::MessageContent;
use serde_json::json;

fn request(v: serde_json::Value) -> Result<ResponseRequest, serde_json::Error> {
    serde_json::from_value(v)
}

#[test]
fn string_input_is_one_user_turn_and_unknown_fields_pass() {
    let r = request(
        json!({"model": "m", "input": "hello world!", "top_p": 1, "user": "u",
        "reasoning": {"effort": "low"}, "store": false, "stream": true}),
    )
    .unwrap();
    assert!(r.is_stream());
    assert!(!r.is_stored());
    let input = r.input.as_ref().unwrap();
    assert_eq!(input.turns(), vec![("user", "hello world!".into())]);
    // priming 3 + framing 4 + 12 chars / 4.
    assert_eq!(r.input_tokens(), 3 + 4 + 3);
    let with_instructions = ResponseRequest {
        instructions: Some("be brief".into()),
        ..r
    };
    assert_eq!(with_instructions.input_tokens(), 3 + 4 + 3 + 4 + 2);
}

#[test]
fn items_are_messages_with_or_without_type_calls_and_outputs() {
    let r = request(json!({"model": "m", "input": [
        {"role": "user", "content": "a"},
        {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "b"}, {"type": "input_image", "image_url": "x"},
            {"type": "output_text", "text": "c"}]},
        {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "42"},
    ]}))
    .unwrap();
    let Some(ResponseInput::Items(items)) = &r.input else {
        panic!("items expected")
    };
    assert_eq!(items.len(), 4);
    let turns = r.input.as_ref().unwrap().turns();
    assert_eq!(
        turns,
        vec![
            ("user", "a".into()),
            ("user", "bc".into()),
            ("assistant", "f({})".into()),
            ("tool", "42".into()),
        ]
    );
    // Written back with `type` on every item, and read back the same.
    let v = serde_json::to_value(items).unwrap();
    assert_eq!(v[0]["type"], "message");
    assert_eq!(v[2]["type"], "function_call");
    assert_eq!(v[3]["type"], "function_call_output");
    let again: Vec<InputItem> = serde_json::from_value(v).unwrap();
    assert_eq!(&again, items);
}

#[test]
fn bad_items_are_refused_by_name() {
    let e = request(json!({"model": "m", "input": [{"type": "reasoning", "summary": []}]}))
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("unsupported input item type `reasoning`"),
        "{e}"
    );
    let e = request(json!({"model": "m", "input": [{"content": "no role"}]})).unwrap_err();
    assert!(
        e.to_string().contains("a `message` item needs `role`"),
        "{e}"
    );
    let e =
        request(json!({"model": "m", "input": [{"type": "function_call_output", "output": "x"}]}))
            .unwrap_err();
    assert!(e.to_string().contains("needs `call_id`"), "{e}");
    assert!(request(json!({"model": "m", "input": 7})).is_err());
    assert!(request(json!({"model": "m", "input": [{"role": "user", "content": 7}]})).is_err());
}

#[test]
fn tools_tool_choice_and_text_format() {
    let r = request(json!({"model": "m", "input": "x",
        "tools": [{"type": "function", "name": "get_weather", "description": "d",
                   "parameters": {"type": "object", "properties": {}}, "strict": true}],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "text": {"format": {"type": "json_schema", "name": "s", "strict": true,
                            "schema": {"type": "object"}}}}))
    .unwrap();
    let Tool::Function(f) = &r.tools[0];
    assert_eq!(f.name, "get_weather");
    assert_eq!(f.strict, Some(true));
    assert_eq!(
        r.tool_choice,
        Some(ToolChoice::Function(ToolChoiceFunction {
            kind: FunctionKind::Function,
            name: "get_weather".into()
        }))
    );
    let Some(TextFormat::JsonSchema(s)) = r.text.and_then(|t| t.format) else {
        panic!("json_schema expected")
    };
    assert_eq!(s.schema, json!({"type": "object"}));
    for (choice, mode) in [
        ("none", ToolChoiceMode::None),
        ("auto", ToolChoiceMode::Auto),
        ("required", ToolChoiceMode::Required),
    ] {
        let r = request(json!({"model": "m", "input": "x", "tool_choice": choice})).unwrap();
        assert_eq!(r.tool_choice, Some(ToolChoice::Mode(mode)));
    }
    assert!(request(json!({"model": "m", "input": "x", "tool_choice": "sometimes"})).is_err());
    let r =
        request(json!({"model": "m", "input": "x", "text": {"format": {"type": "json_object"}}}))
            .unwrap();
    assert_eq!(r.text.unwrap().format, Some(TextFormat::JsonObject));
    // Built-in tools are not taken.
    assert!(
        request(json!({"model": "m", "input": "x", "tools": [{"type": "web_search"}]})).is_err()
    );
}

fn response(status: ResponseStatus, output: Vec<OutputItem>) -> Response {
    Response {
        id: "resp_1".into(),
        object: "response".into(),
        created_at: 1,
        status,
        error: None,
        incomplete_details: None,
        instructions: None,
        max_output_tokens: None,
        metadata: Default::default(),
        model: "m".into(),
        output,
        parallel_tool_calls: true,
        previous_response_id: None,
        store: true,
        temperature: Some(1.0),
        text: TextConfig {
            format: Some(TextFormat::Text),
        },
        tool_choice: ToolChoice::default(),
        tools: vec![],
        top_p: Some(1.0),
        truncation: "disabled".into(),
        usage: Some(ResponseUsage {
            input_tokens: 3,
            output_tokens: 2,
            total_tokens: 5,
            ..Default::default()
        }),
    }
}

#[test]
fn response_writes_every_required_field_and_nulls() {
    let message = OutputItem::Message(OutputMessage {
        id: "msg_1".into(),
        status: ItemStatus::Completed,
        role: "assistant".into(),
        content: vec![OutputContent::text("Hi "), OutputContent::text("there")],
    });
    let call = OutputItem::FunctionCall(FunctionCall {
        id: Some("fc_1".into()),
        call_id: "call_1".into(),
        name: "f".into(),
        arguments: "{}".into(),
        status: Some(ItemStatus::Completed),
    });
    let r = response(ResponseStatus::Completed, vec![message, call]);
    assert_eq!(r.output_text(), "Hi there");
    let v = serde_json::to_value(&r).unwrap();
    for key in [
        "error",
        "incomplete_details",
        "instructions",
        "max_output_tokens",
        "previous_response_id",
    ] {
        assert!(v[key].is_null(), "{key} should be null: {v}");
    }
    assert!(
        v.get("output_text").is_none(),
        "the raw API sends no output_text"
    );
    assert_eq!(v["status"], "completed");
    assert_eq!(v["tool_choice"], "auto");
    assert_eq!(v["text"], json!({"format": {"type": "text"}}));
    assert_eq!(v["output"][0]["type"], "message");
    assert_eq!(
        v["output"][0]["content"][0],
        json!({"type": "output_text", "text": "Hi ", "annotations": [], "logprobs": []})
    );
    assert_eq!(v["output"][1]["type"], "function_call");
    assert_eq!(v["output"][1]["call_id"], "call_1");
    assert_eq!(
        v["usage"],
        json!({"input_tokens": 3, "input_tokens_details": {"cached_tokens": 0},
               "output_tokens": 2, "output_tokens_details": {"reasoning_tokens": 0},
               "total_tokens": 5})
    );
    let back: Response = serde_json::from_value(v).unwrap();
    assert_eq!(back, r);
}

#[test]
fn incomplete_details_reason_is_snake_case() {
    let mut r = response(ResponseStatus::Incomplete, vec![]);
    r.incomplete_details = Some(IncompleteDetails {
        reason: Some(IncompleteReason::MaxOutputTokens),
    });
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["status"], "incomplete");
    assert_eq!(
        v["incomplete_details"],
        json!({"reason": "max_output_tokens"})
    );
}

#[test]
fn stream_events_are_tagged_with_their_kind() {
    let events = [
        ResponseStreamEvent::Created {
            response: Box::new(response(ResponseStatus::InProgress, vec![])),
            sequence_number: 0,
        },
        ResponseStreamEvent::OutputTextDelta {
            item_id: "msg_1".into(),
            output_index: 0,
            content_index: 0,
            delta: "Hi".into(),
            logprobs: vec![],
            sequence_number: 1,
        },
        ResponseStreamEvent::FunctionCallArgumentsDone {
            item_id: "fc_1".into(),
            output_index: 1,
            name: "f".into(),
            arguments: "{}".into(),
            sequence_number: 2,
        },
        ResponseStreamEvent::Error(StreamError {
            code: Some("server_error".into()),
            message: "boom".into(),
            param: None,
            error: None,
            sequence_number: 3,
        }),
    ];
    for (i, e) in events.iter().enumerate() {
        let v = serde_json::to_value(e).unwrap();
        assert_eq!(v["type"], e.kind());
        assert_eq!(v["sequence_number"], i as u64);
        assert_eq!(e.sequence_number(), i as u64);
        let back: ResponseStreamEvent = serde_json::from_value(v).unwrap();
        assert_eq!(&back, e);
    }
}

#[test]
fn message_content_is_chat_content() {
    let item = InputItem::message("user", "x");
    let InputItem::Message(m) = item else {
        unreachable!()
    };
    assert_eq!(m.content, MessageContent::Text("x".into()));
}
