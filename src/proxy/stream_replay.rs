//! An answer that did not stream from the upstream to this caller (a cache hit, a coalesced or
//! stale answer, a fallback) replayed as the stream the caller asked for, in the route's shape:
//! `chat.completion.chunk`s and `data: [DONE]` for chat, the typed events from
//! `response.created` to `response.completed` for the Responses API.

use bytes::Bytes;
use gauntlet_client::{ChatResponse, Route};
use serde_json::{json, Value};

use super::routes_answer::{message_item, responses};
use crate::wall_clock::epoch_secs;

/// Most content events a replay splits the text into (words are grouped beyond it).
const MAX_PIECES: usize = 256;

/// The SSE frames of `resp` on `route`.
pub fn frames(route: Route, model: &str, id: &str, resp: &ChatResponse) -> Vec<Bytes> {
    match route {
        Route::Responses => responses_events(model, id, resp),
        _ => chat_chunks(model, id, resp),
    }
}

/// `text` in pieces of whole words, at most [`MAX_PIECES`] of them.
fn pieces(text: &str) -> Vec<&str> {
    let words: Vec<&str> = text.split_inclusive(' ').collect();
    let per = words.len().div_ceil(MAX_PIECES).max(1);
    let mut out = Vec::new();
    let mut start = 0;
    for group in words.chunks(per) {
        let len: usize = group.iter().map(|w| w.len()).sum();
        out.push(&text[start..start + len]);
        start += len;
    }
    out
}

fn data(v: &Value) -> Bytes {
    Bytes::from(format!("data: {v}\n\n"))
}

fn event(kind: &str, mut v: Value, seq: &mut u64) -> Bytes {
    v["type"] = json!(kind);
    v["sequence_number"] = json!(*seq);
    *seq += 1;
    Bytes::from(format!("event: {kind}\ndata: {v}\n\n"))
}

fn chat_chunks(model: &str, id: &str, resp: &ChatResponse) -> Vec<Bytes> {
    let created = epoch_secs();
    let chunk = |delta: Value, finish: Value| {
        data(
            &json!({"id": format!("chatcmpl-{id}"), "object": "chat.completion.chunk", "created": created,
                     "model": model, "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]}),
        )
    };
    // A tool-calling answer opens with `content: null`, as OpenAI streams one.
    let calls_only = resp.text.is_empty() && !resp.tool_calls.is_empty();
    let opening = if calls_only { Value::Null } else { json!("") };
    let mut out = vec![chunk(
        json!({"role": "assistant", "content": opening}),
        Value::Null,
    )];
    out.extend(
        pieces(&resp.text)
            .into_iter()
            .map(|p| chunk(json!({"content": p}), Value::Null)),
    );
    for (i, c) in resp.tool_calls.iter().enumerate() {
        out.push(chunk(
            json!({"tool_calls": [{"index": i, "id": c.call_id, "type": "function",
                                   "function": {"name": c.name, "arguments": c.arguments}}]}),
            Value::Null,
        ));
    }
    out.push(chunk(json!({}), json!(resp.finish_reason)));
    if let Some(u) = resp.usage {
        out.push(data(&json!({"id": format!("chatcmpl-{id}"), "object": "chat.completion.chunk", "created": created,
                              "model": model, "choices": [], "usage": u})));
    }
    out.push(Bytes::from_static(b"data: [DONE]\n\n"));
    out
}

fn responses_events(model: &str, id: &str, resp: &ChatResponse) -> Vec<Bytes> {
    let mut seq = 0;
    let item_id = format!("msg_{id}");
    let at = json!({"item_id": item_id, "output_index": 0, "content_index": 0});
    let with = |mut v: Value, extra: Value| {
        if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
            o.extend(e);
        }
        v
    };
    let mut out = vec![
        event(
            "response.created",
            json!({"response": responses(model, id, resp, "in_progress")}),
            &mut seq,
        ),
        event(
            "response.in_progress",
            json!({"response": responses(model, id, resp, "in_progress")}),
            &mut seq,
        ),
        event(
            "response.output_item.added",
            json!({"output_index": 0, "item": message_item(id, "", "in_progress")}),
            &mut seq,
        ),
        event(
            "response.content_part.added",
            with(
                at.clone(),
                json!({"part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []}}),
            ),
            &mut seq,
        ),
    ];
    for p in pieces(&resp.text) {
        out.push(event(
            "response.output_text.delta",
            with(at.clone(), json!({"delta": p, "logprobs": []})),
            &mut seq,
        ));
    }
    out.push(event(
        "response.output_text.done",
        with(at.clone(), json!({"text": resp.text, "logprobs": []})),
        &mut seq,
    ));
    out.push(event("response.content_part.done", with(at, json!({"part": {"type": "output_text", "text": resp.text, "annotations": [], "logprobs": []}})), &mut seq));
    out.push(event(
        "response.output_item.done",
        json!({"output_index": 0, "item": message_item(id, &resp.text, "completed")}),
        &mut seq,
    ));
    out.push(event(
        "response.completed",
        json!({"response": responses(model, id, resp, "completed")}),
        &mut seq,
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use gauntlet_client::Outcome;
    use gauntlet_wire::openai::responses::ResponseStreamEvent;
    use gauntlet_wire::openai::ChatCompletionChunk;

    #[test]
    fn replays_parse_as_the_published_events_and_rejoin_the_text() {
        let resp = ChatResponse::local("one two three", Outcome::CacheHit);
        let chat = frames(Route::Chat, "m", "1", &resp);
        assert_eq!(chat.last().unwrap(), "data: [DONE]\n\n");
        let mut text = String::new();
        for f in &chat[..chat.len() - 1] {
            let s = std::str::from_utf8(f).unwrap();
            let c: ChatCompletionChunk =
                serde_json::from_str(s.trim_start_matches("data: ").trim()).unwrap();
            text.extend(c.choices.iter().filter_map(|c| c.delta.content.clone()));
        }
        assert_eq!(text, "one two three");
        for f in frames(Route::Responses, "m", "1", &resp) {
            let s = std::str::from_utf8(&f).unwrap();
            let data = s.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
            let _: ResponseStreamEvent =
                serde_json::from_str(data).unwrap_or_else(|e| panic!("{e}: {data}"));
        }
    }

    #[test]
    fn a_long_text_is_cut_into_a_bounded_number_of_pieces() {
        let text = "w ".repeat(10_000);
        let p = pieces(&text);
        assert!(p.len() <= MAX_PIECES);
        assert_eq!(p.concat(), text);
    }

    /// A cached tool-calling answer replays as `delta.tool_calls` that the client's reader
    /// assembles back into the same calls, with `finish_reason: tool_calls`.
    #[test]
    fn a_tool_calling_answer_replays_its_calls() {
        use gauntlet_client::adapter::SseReader;
        use gauntlet_client::wire::openai::responses::FunctionCall;
        let call = |id: &str, args: &str| FunctionCall {
            id: None,
            call_id: id.into(),
            name: "lookup".into(),
            arguments: args.into(),
            status: None,
        };
        let resp = ChatResponse {
            tool_calls: vec![call("call_1", r#"{"topic":"tcp"}"#), call("call_2", "{}")],
            finish_reason: Some("tool_calls".into()),
            ..ChatResponse::local("", Outcome::CacheHit)
        };
        let mut r = SseReader::default();
        for f in frames(Route::Chat, "m", "1", &resp) {
            r.feed(&f).unwrap();
        }
        assert!(r.done);
        assert_eq!(r.finish_reason.as_deref(), Some("tool_calls"));
        let back: Vec<(String, String, String)> = r
            .tool_calls
            .finish()
            .into_iter()
            .map(|c| (c.id, c.function.name, c.function.arguments))
            .collect();
        let want: Vec<(String, String, String)> = resp
            .tool_calls
            .iter()
            .map(|c| (c.call_id.clone(), c.name.clone(), c.arguments.clone()))
            .collect();
        assert_eq!(back, want);
        assert!(r.text.is_empty());
    }
}
