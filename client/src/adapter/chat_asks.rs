//! What a chat request asks beyond text, in chat completions' shapes: the stack keeps tools and
//! formats in the Responses API's flat shapes (one type for every route), and chat nests them
//! (`{type: "function", function: {...}}`, `{type: "json_schema", json_schema: {...}}`). The
//! model's `tool_calls` come back into the same flat `function_call` shape.

use gauntlet_wire::openai::responses::{FunctionCall, ToolChoiceMode as FlatMode};
use gauntlet_wire::openai::{
    FunctionDefinition, JsonSchemaFormat, ResponseFormat, Tool, ToolCall, ToolChoice,
    ToolChoiceMode,
};

use crate::request::ChatRequest;

/// `tools`, absent when the request offers none.
pub(super) fn tools(req: &ChatRequest) -> Option<Vec<Tool>> {
    (!req.tools.is_empty()).then(|| {
        req.tools
            .iter()
            .map(|t| Tool {
                kind: "function".into(),
                function: FunctionDefinition {
                    name: t.name.clone(),
                    description: t.description.clone(),
                    parameters: t.parameters.clone(),
                    strict: t.strict,
                },
            })
            .collect()
    })
}

/// `tool_choice`: the same three modes in both APIs.
pub(super) fn tool_choice(req: &ChatRequest) -> Option<ToolChoice> {
    req.tool_choice.map(|m| {
        ToolChoice::Mode(match m {
            FlatMode::None => ToolChoiceMode::None,
            FlatMode::Auto => ToolChoiceMode::Auto,
            FlatMode::Required => ToolChoiceMode::Required,
        })
    })
}

/// `response_format: {type: "json_schema", json_schema: {...}}`.
pub(super) fn response_format(req: &ChatRequest) -> Option<ResponseFormat> {
    req.response_format
        .as_ref()
        .map(|f| ResponseFormat::JsonSchema {
            json_schema: JsonSchemaFormat {
                name: f.name.clone(),
                description: f.description.clone(),
                schema: Some(f.schema.clone()),
                strict: f.strict,
            },
        })
}

/// An answer's `tool_calls` as flat function calls (`call_id` is the chat call's `id`).
pub(super) fn calls(tool_calls: Option<Vec<ToolCall>>) -> Vec<FunctionCall> {
    tool_calls
        .unwrap_or_default()
        .into_iter()
        .map(|c| FunctionCall {
            id: None,
            call_id: c.id,
            name: c.function.name,
            arguments: c.function.arguments,
            status: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gauntlet_wire::openai::responses::{self, FunctionTool};

    #[test]
    fn asks_are_written_in_chat_shapes() {
        let req = ChatRequest {
            tools: vec![FunctionTool {
                name: "lookup".into(),
                description: None,
                parameters: Some(serde_json::json!({"type": "object"})),
                strict: Some(true),
            }],
            tool_choice: Some(FlatMode::Required),
            response_format: Some(responses::JsonSchemaFormat {
                name: "answer".into(),
                schema: serde_json::json!({"type": "object"}),
                description: None,
                strict: Some(true),
            }),
            ..ChatRequest::user_text("m", "q")
        };
        assert_eq!(
            serde_json::to_value(tools(&req)).unwrap(),
            serde_json::json!([{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}, "strict": true}}])
        );
        assert_eq!(serde_json::to_value(tool_choice(&req)).unwrap(), "required");
        assert_eq!(
            serde_json::to_value(response_format(&req)).unwrap(),
            serde_json::json!({"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": true}})
        );
        let plain = ChatRequest::user_text("m", "q");
        assert_eq!(
            (tools(&plain), tool_choice(&plain), response_format(&plain)),
            (None, None, None)
        );
    }

    #[test]
    fn tool_calls_come_back_flat() {
        let calls = calls(Some(vec![ToolCall {
            id: "call_1".into(),
            kind: "function".into(),
            function: gauntlet_wire::openai::FunctionCall {
                name: "lookup".into(),
                arguments: "{}".into(),
            },
        }]));
        assert_eq!(
            (
                calls[0].call_id.as_str(),
                calls[0].name.as_str(),
                calls[0].arguments.as_str()
            ),
            ("call_1", "lookup", "{}")
        );
        assert!(super::calls(None).is_empty());
    }
}
