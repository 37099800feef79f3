//! A body for an answer that did not come from the upstream as the caller's request (a cache
//! hit, a coalesced answer, a stale entry, a fallback): the route's published shape, rebuilt from
//! the stack's response. An answer the upstream gave this request is sent as it came instead.

use gauntlet_client::{ChatResponse, Route};
use serde_json::{json, Value};

use crate::wall_clock::epoch_secs;

/// The JSON body of `resp` on `route`; `id` is the request's id.
pub fn body(route: Route, model: &str, id: &str, resp: &ChatResponse) -> Value {
    match route {
        Route::Chat => chat(model, id, resp),
        Route::Responses => responses(model, id, resp, "completed"),
        Route::Embeddings => embeddings(model, resp),
    }
}

fn usage(resp: &ChatResponse) -> Value {
    resp.usage.map_or(Value::Null, |u| json!(u))
}

fn chat(model: &str, id: &str, resp: &ChatResponse) -> Value {
    let tool_calls: Vec<Value> = resp
        .tool_calls
        .iter()
        .map(|c| json!({"id": c.call_id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
        .collect();
    let mut message = json!({"role": "assistant", "content": resp.text, "refusal": null});
    if !tool_calls.is_empty() {
        message["tool_calls"] = Value::Array(tool_calls);
    }
    json!({
        "id": format!("chatcmpl-{id}"), "object": "chat.completion", "created": epoch_secs(),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": resp.finish_reason}],
        "usage": usage(resp),
    })
}

/// The `response` object; `status` is `completed` for a whole answer, `in_progress` for the
/// stream's opening events.
pub fn responses(model: &str, id: &str, resp: &ChatResponse, status: &str) -> Value {
    let done = status != "in_progress";
    let mut output: Vec<Value> = Vec::new();
    if done {
        output.push(message_item(id, &resp.text, "completed"));
        for c in &resp.tool_calls {
            output.push(json!({"type": "function_call", "id": format!("fc_{}", c.call_id), "call_id": c.call_id,
                               "name": c.name, "arguments": c.arguments, "status": "completed"}));
        }
    }
    let usage = match (done, resp.usage) {
        (true, Some(u)) => {
            json!({"input_tokens": u.prompt_tokens, "input_tokens_details": {"cached_tokens": 0},
                                  "output_tokens": u.completion_tokens, "output_tokens_details": {"reasoning_tokens": 0},
                                  "total_tokens": u.total_tokens})
        }
        _ => Value::Null,
    };
    json!({
        "id": format!("resp_{id}"), "object": "response", "created_at": epoch_secs(), "status": status,
        "error": null, "incomplete_details": null, "instructions": null, "max_output_tokens": null,
        "metadata": {}, "model": model, "output": output, "parallel_tool_calls": true,
        "previous_response_id": null, "store": false, "temperature": 1.0,
        "text": {"format": {"type": "text"}}, "tool_choice": "auto", "tools": [], "top_p": 1.0,
        "truncation": "disabled", "usage": usage,
    })
}

/// An assistant `message` output item holding `text`.
pub fn message_item(id: &str, text: &str, status: &str) -> Value {
    let content = if status == "completed" {
        json!([{"type": "output_text", "text": text, "annotations": [], "logprobs": []}])
    } else {
        json!([])
    };
    json!({"type": "message", "id": format!("msg_{id}"), "status": status, "role": "assistant", "content": content})
}

fn embeddings(model: &str, resp: &ChatResponse) -> Value {
    let data: Vec<Value> = resp
        .embeddings
        .iter()
        .enumerate()
        .map(|(i, v)| json!({"object": "embedding", "index": i, "embedding": v}))
        .collect();
    let tokens = resp.usage.map_or(0, |u| u.prompt_tokens);
    json!({"object": "list", "data": data, "model": model,
           "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
}

#[cfg(test)]
mod tests {
    use super::*;
    use gauntlet_client::Outcome;
    use gauntlet_wire::openai::responses::Response;
    use gauntlet_wire::openai::ChatCompletion;

    #[test]
    fn rebuilt_bodies_parse_as_the_published_types() {
        let resp = ChatResponse {
            usage: Some(gauntlet_wire::openai::Usage {
                prompt_tokens: 2,
                completion_tokens: 3,
                total_tokens: 5,
            }),
            ..ChatResponse::local("hello", Outcome::CacheHit)
        };
        let c: ChatCompletion = serde_json::from_value(body(Route::Chat, "m", "1", &resp)).unwrap();
        assert_eq!(c.choices[0].message.text(), "hello");
        let r: Response = serde_json::from_value(body(Route::Responses, "m", "1", &resp)).unwrap();
        assert_eq!(r.output_text(), "hello");
        let r: Response =
            serde_json::from_value(responses("m", "1", &resp, "in_progress")).unwrap();
        assert!(r.output.is_empty());
    }
}
