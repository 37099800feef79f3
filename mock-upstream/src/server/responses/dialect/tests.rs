use super::*;
use crate::content::ToolCall;
use gauntlet_wire::openai::responses::{TextConfig, ToolChoice};

fn template(max_output_tokens: Option<u32>) -> Response {
    Response {
        id: "resp_1".into(),
        object: "response".into(),
        created_at: 1,
        status: ResponseStatus::InProgress,
        error: None,
        incomplete_details: None,
        instructions: None,
        max_output_tokens,
        metadata: Default::default(),
        model: "m".into(),
        output: Vec::new(),
        parallel_tool_calls: true,
        previous_response_id: None,
        store: true,
        temperature: Some(1.0),
        text: TextConfig::default(),
        tool_choice: ToolChoice::default(),
        tools: Vec::new(),
        top_p: Some(1.0),
        truncation: "disabled".into(),
        usage: None,
    }
}

fn reply(text: &str) -> Reply {
    Reply {
        text: text.into(),
        tokens: gauntlet_wire::tokens::approx_tokens(text),
        finish_reason: "stop",
    }
}

/// The events of some SSE bytes, in order.
fn read(bytes: &[u8]) -> Vec<ResponseStreamEvent> {
    let text = std::str::from_utf8(bytes).unwrap();
    text.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let (name, data) = e
                .strip_prefix("event: ")
                .and_then(|e| e.split_once("\ndata: "))
                .unwrap();
            let event: ResponseStreamEvent = serde_json::from_str(data).unwrap();
            assert_eq!(event.kind(), name);
            event
        })
        .collect()
}

fn all(parts: &StreamParts) -> Vec<u8> {
    let mut v = Vec::new();
    for b in parts.head.iter().chain(&parts.tokens).chain(&parts.tail) {
        v.extend_from_slice(b);
    }
    v
}

fn call(id: &str, name: &str, arguments: &str) -> ToolCall {
    ToolCall {
        id: id.into(),
        name: name.into(),
        arguments: arguments.into(),
    }
}

#[test]
fn a_text_stream_splits_into_head_one_piece_per_token_and_tail() {
    let d = ResponsesDialect::new(template(None), Output::Text, "msg_1".into(), 7);
    let parts = d.stream(&reply("Hello world."));
    assert_eq!(
        (parts.head.len(), parts.tokens.len(), parts.tail.len()),
        (4, 3, 4)
    );
    let events = read(&all(&parts));
    let seqs: Vec<u64> = events
        .iter()
        .map(ResponseStreamEvent::sequence_number)
        .collect();
    assert_eq!(seqs, (0..11).collect::<Vec<_>>());
    assert_eq!(read(&parts.tail[3])[0].kind(), "response.completed");
}

#[test]
fn calls_stream_item_after_item_between_the_deltas() {
    let calls = vec![call("call_a", "f", "{\"x\":1}"), call("call_b", "g", "{}")];
    let d = ResponsesDialect::new(template(None), Output::Calls(calls), "msg_1".into(), 7);
    let parts = d.stream(&reply("ignored"));
    // Head: created, in_progress, the first item added (no content part for a call).
    assert_eq!(parts.head.len(), 3);
    // The second call's only delta carries the first's closing and the second's opening.
    let last = read(parts.tokens.last().unwrap());
    let kinds: Vec<_> = last.iter().map(ResponseStreamEvent::kind).collect();
    assert_eq!(
        kinds,
        [
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.function_call_arguments.delta",
        ]
    );
    let events = read(&all(&parts));
    let seqs: Vec<u64> = events
        .iter()
        .map(ResponseStreamEvent::sequence_number)
        .collect();
    assert_eq!(seqs, (0..events.len() as u64).collect::<Vec<_>>());
    let Some(ResponseStreamEvent::Completed { response, .. }) = events.last() else {
        panic!("completed last")
    };
    let ids: Vec<_> = response
        .output
        .iter()
        .map(|i| match i {
            OutputItem::FunctionCall(c) => (c.id.clone().unwrap(), c.call_id.clone()),
            OutputItem::Message(_) => panic!("calls only"),
        })
        .collect();
    assert_eq!(
        ids,
        [
            ("fc_a".to_string(), "call_a".to_string()),
            ("fc_b".to_string(), "call_b".to_string())
        ]
    );
    assert_eq!(response.usage.unwrap().output_tokens, 2 + 1);
}

#[test]
fn a_cut_document_ends_incomplete() {
    let doc = Output::Json("{\"k\":\"a long enough value\"}".into());
    let d = ResponsesDialect::new(template(Some(2)), doc, "msg_1".into(), 7);
    let r: Response = serde_json::from_slice(&d.answer(&reply("x"))).unwrap();
    assert_eq!(r.status, ResponseStatus::Incomplete);
    assert_eq!(r.output_text(), "{\"k\":\"a ");
    let events = read(&all(&d.stream(&reply("x"))));
    assert_eq!(events.last().unwrap().kind(), "response.incomplete");
}

#[test]
fn a_mid_stream_error_is_failed_then_error_numbered_past_the_deltas() {
    let d = ResponsesDialect::new(template(None), Output::Text, "msg_1".into(), 7);
    let parts = d.stream(&reply("Hello world."));
    let e = d.stream_error(&ApiError::server(500, None));
    let events = read(&e);
    let next = (parts.head.len() + parts.tokens.len()) as u64;
    assert_eq!(events[0].sequence_number(), next);
    assert_eq!(events[1].sequence_number(), next + 1);
    let ResponseStreamEvent::Failed { response, .. } = &events[0] else {
        panic!("response.failed first")
    };
    assert_eq!(response.status, ResponseStatus::Failed);
    assert_eq!(response.error.as_ref().unwrap().code, "server_error");
    // The SDKs raise on an `error` object in the data.
    let data: serde_json::Value = serde_json::from_str(
        std::str::from_utf8(&e)
            .unwrap()
            .split("\ndata: ")
            .nth(2)
            .unwrap()
            .trim(),
    )
    .unwrap();
    assert_eq!(data["type"], "error");
    assert_eq!(data["error"]["type"], "server_error");
    assert!(data["message"].as_str().unwrap().contains("error"));
}
