//! `POST /v1/responses`: the stack's request as a Responses body, and a Responses answer as the
//! stack's response. System and developer messages become `instructions`, every other message
//! an `input` item; tools, tool choice and the JSON-schema format go where the Responses API
//! puts them (`tools`, `tool_choice`, `text.format`).

use gauntlet_wire::openai::responses::{
    FunctionCall, IncompleteReason, InputItem, OutputItem, Response, ResponseInput,
    ResponseRequest, ResponseStatus, ResponseUsage, TextConfig, TextFormat, Tool, ToolChoice,
};
use gauntlet_wire::openai::Usage;

use crate::error::ClientError;
use crate::request::{ChatRequest, ChatResponse, Outcome};

/// Roles the Responses API takes as `instructions` rather than as input items.
const INSTRUCTION_ROLES: [&str; 2] = ["system", "developer"];

/// The Responses body of `req`. The stack keeps its own dialogue (the context layer), so the
/// upstream is asked not to store the response (`store: false`): a load test must not fill the
/// provider's response store.
pub(super) fn body(req: &ChatRequest) -> ResponseRequest {
    let mut instructions: Vec<String> = Vec::new();
    let mut items = Vec::with_capacity(req.messages.len());
    for m in &req.messages {
        if INSTRUCTION_ROLES.contains(&m.role.as_str()) {
            instructions.push(m.text());
        } else {
            items.push(InputItem::message(m.role.clone(), m.text()));
        }
    }
    ResponseRequest {
        instructions: (!instructions.is_empty()).then(|| instructions.join("\n\n")),
        input: Some(ResponseInput::Items(items)),
        tools: req.tools.iter().cloned().map(Tool::Function).collect(),
        tool_choice: req.tool_choice.map(ToolChoice::Mode),
        text: req.response_format.clone().map(|f| TextConfig {
            format: Some(TextFormat::JsonSchema(f)),
        }),
        stream: req.stream.then_some(true),
        max_output_tokens: req.max_tokens,
        store: Some(false),
        temperature: req.temperature,
        ..ResponseRequest::new(req.model.clone(), String::new())
    }
}

/// A non-streamed answer: the `response` object.
pub(super) fn answer(bytes: &[u8]) -> Result<ChatResponse, ClientError> {
    let response: Response = serde_json::from_slice(bytes)
        .map_err(|e| ClientError::Malformed(format!("response: {e}")))?;
    finished(&response)
}

/// The stack's response from a finished `response` object (a body, or the one a terminal
/// stream event carries): completed or incomplete is an answer, failed is an error, and any
/// other status is not a final answer at all.
pub(super) fn finished(response: &Response) -> Result<ChatResponse, ClientError> {
    let finish_reason = match response.status {
        ResponseStatus::Completed => "stop",
        ResponseStatus::Incomplete => {
            match response.incomplete_details.as_ref().and_then(|d| d.reason) {
                Some(IncompleteReason::ContentFilter) => "content_filter",
                _ => "length",
            }
        }
        ResponseStatus::Failed => {
            let (code, message) = response
                .error
                .as_ref()
                .map_or(("", ""), |e| (e.code.as_str(), e.message.as_str()));
            return Err(failure(Some(code), message));
        }
        other => {
            return Err(ClientError::Malformed(format!(
                "response status {other:?} is not final"
            )))
        }
    };
    let tool_calls = function_calls(&response.output);
    let finish_reason = if tool_calls.is_empty() {
        finish_reason
    } else {
        "tool_calls"
    };
    Ok(ChatResponse {
        usage: response.usage.map(usage),
        finish_reason: Some(finish_reason.into()),
        tool_calls,
        ..ChatResponse::local(response.output_text(), Outcome::Upstream)
    })
}

/// The function calls among the output items, in order.
fn function_calls(output: &[OutputItem]) -> Vec<FunctionCall> {
    output
        .iter()
        .filter_map(|item| match item {
            OutputItem::FunctionCall(c) => Some(c.clone()),
            OutputItem::Message(_) => None,
        })
        .collect()
}

/// Responses usage in the stack's terms: input tokens are the prompt, output the completion.
pub(super) fn usage(u: ResponseUsage) -> Usage {
    Usage {
        prompt_tokens: u.input_tokens,
        completion_tokens: u.output_tokens,
        total_tokens: u.total_tokens,
    }
}

/// A failure the upstream reported after answering 200 (`response.failed`, or an `error`
/// event), classified by its code as the same failure sent as a status would be: a rate limit
/// is one, a spent quota is one, and anything else is an answer cut off by the upstream, which
/// retrying can mend.
pub(super) fn failure(code: Option<&str>, message: &str) -> ClientError {
    match code {
        Some("rate_limit_exceeded") => ClientError::RateLimited { retry_after: None },
        Some("insufficient_quota") => ClientError::QuotaExhausted,
        code => ClientError::Reset(format!(
            "response failed ({}): {}",
            code.filter(|c| !c.is_empty()).unwrap_or("no code"),
            message.chars().take(200).collect::<String>()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gauntlet_wire::openai::responses::{JsonSchemaFormat, ToolChoiceMode};
    use gauntlet_wire::openai::ChatMessage;

    fn weather() -> gauntlet_wire::openai::responses::FunctionTool {
        gauntlet_wire::openai::responses::FunctionTool {
            name: "get_weather".into(),
            description: Some("The weather in a city".into()),
            parameters: Some(
                serde_json::json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
            ),
            strict: Some(true),
        }
    }

    #[test]
    fn messages_become_instructions_and_input_items() {
        let req = ChatRequest {
            messages: vec![
                ChatMessage::new("system", "be brief"),
                ChatMessage::new("user", "hi"),
                ChatMessage::new("assistant", "hello"),
                ChatMessage::new("developer", "no emoji"),
                ChatMessage::new("user", "weather?"),
            ],
            max_tokens: Some(50),
            temperature: Some(0.5),
            stream: true,
            tools: vec![weather()],
            tool_choice: Some(ToolChoiceMode::Required),
            ..ChatRequest::user_text("gpt-4o-mini", "")
        };
        let json = serde_json::to_value(body(&req)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "model": "gpt-4o-mini",
                "instructions": "be brief\n\nno emoji",
                "input": [
                    {"type": "message", "role": "user", "content": "hi"},
                    {"type": "message", "role": "assistant", "content": "hello"},
                    {"type": "message", "role": "user", "content": "weather?"},
                ],
                "tools": [{"type": "function", "name": "get_weather", "description": "The weather in a city",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
                    "strict": true}],
                "tool_choice": "required",
                "stream": true,
                "max_output_tokens": 50,
                "store": false,
                "temperature": 0.5,
            })
        );
        // And the wire type reads it back: what the mock parses.
        let back: ResponseRequest = serde_json::from_value(json).unwrap();
        assert_eq!(back, body(&req));
    }

    #[test]
    fn a_schema_goes_to_text_format() {
        let req = ChatRequest {
            response_format: Some(JsonSchemaFormat {
                name: "answer".into(),
                schema: serde_json::json!({"type": "object"}),
                description: None,
                strict: Some(true),
            }),
            ..ChatRequest::user_text("m", "q")
        };
        let json = serde_json::to_value(body(&req)).unwrap();
        assert_eq!(
            json["text"],
            serde_json::json!({"format": {"type": "json_schema", "name": "answer", "schema": {"type": "object"}, "strict": true}})
        );
        assert!(json.get("instructions").is_none());
        assert!(json.get("stream").is_none());
        assert!(json.get("tools").is_none());
    }

    /// A `response` object as the API writes it (every field the SDKs require).
    fn response_json(status: &str, output: serde_json::Value, extra: serde_json::Value) -> Vec<u8> {
        let mut v = serde_json::json!({
            "id": "resp_1", "object": "response", "created_at": 1, "status": status,
            "error": null, "incomplete_details": null, "instructions": null,
            "max_output_tokens": null, "metadata": {}, "model": "m", "output": output,
            "parallel_tool_calls": true, "previous_response_id": null, "store": false,
            "temperature": 1.0, "text": {"format": {"type": "text"}}, "tool_choice": "auto",
            "tools": [], "top_p": 1.0, "truncation": "disabled",
            "usage": {"input_tokens": 12, "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": 3, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 15}
        });
        if let (Some(v), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
            v.extend(extra.clone());
        }
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn answers_are_read_by_status() {
        let message = serde_json::json!([{"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": "Hel", "annotations": []}, {"type": "output_text", "text": "lo", "annotations": []}]}]);
        let r = answer(&response_json(
            "completed",
            message.clone(),
            serde_json::json!({}),
        ))
        .unwrap();
        assert_eq!(r.text, "Hello");
        assert_eq!(r.finish_reason.as_deref(), Some("stop"));
        assert_eq!(
            r.usage,
            Some(Usage {
                prompt_tokens: 12,
                completion_tokens: 3,
                total_tokens: 15
            })
        );
        assert_eq!(r.outcome, Outcome::Upstream);

        let r = answer(&response_json(
            "incomplete",
            message,
            serde_json::json!({"incomplete_details": {"reason": "max_output_tokens"}}),
        ))
        .unwrap();
        assert_eq!(r.finish_reason.as_deref(), Some("length"));

        let call = serde_json::json!([{"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather",
            "arguments": "{\"city\":\"Paris\"}", "status": "completed"}]);
        let r = answer(&response_json("completed", call, serde_json::json!({}))).unwrap();
        assert_eq!(r.finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(r.tool_calls.len(), 1);
        assert_eq!(
            (
                r.tool_calls[0].name.as_str(),
                r.tool_calls[0].arguments.as_str()
            ),
            ("get_weather", "{\"city\":\"Paris\"}")
        );
        assert_eq!(r.text, "");

        let failed = response_json(
            "failed",
            serde_json::json!([]),
            serde_json::json!({"error": {"code": "server_error", "message": "boom"}}),
        );
        let e = answer(&failed).unwrap_err();
        assert_eq!(
            e,
            ClientError::Reset("response failed (server_error): boom".into())
        );
        let limited = response_json(
            "failed",
            serde_json::json!([]),
            serde_json::json!({"error": {"code": "rate_limit_exceeded", "message": "slow down"}}),
        );
        assert_eq!(answer(&limited).unwrap_err().kind(), "rate_limited");

        for bad in [
            response_json("in_progress", serde_json::json!([]), serde_json::json!({})),
            b"{\"id\": 1}".to_vec(),
            b"[]".to_vec(),
        ] {
            assert_eq!(answer(&bad).unwrap_err().kind(), "malformed");
        }
    }
}
