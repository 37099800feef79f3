//! The request checks chat completions make before anything is admitted or charged, each a 400
//! `invalid_request_error` naming its `param` with OpenAI's message, so a client's request
//! builder meets the real API's refusals here first.

use gauntlet_wire::openai::{
    ChatCompletionRequest, ChatMessage, ResponseFormat, Role, Tool, ToolChoice, ToolChoiceMode,
};

use crate::content::{self, ToolError};
use crate::server::errors::ApiError;

/// Choices one request may ask for (`n`), as OpenAI allows.
pub(crate) const MAX_CHOICES: u32 = 128;
/// Stop sequences one request may give.
pub(crate) const MAX_STOPS: usize = 4;
/// Tools one request may offer.
pub(crate) const MAX_TOOLS: usize = 128;
/// Characters of a function or schema name, from `[a-zA-Z0-9_-]`.
const MAX_NAME: usize = 64;

/// Every check, in the order the fields are read.
pub(crate) fn check(req: &ChatCompletionRequest) -> Result<(), ApiError> {
    if req.messages.is_empty() {
        return Err(ApiError::invalid_request(
            "Invalid 'messages': empty array. Expected an array with minimum length 1.".into(),
            Some("messages".into()),
        ));
    }
    for (i, m) in req.messages.iter().enumerate() {
        check_message(i, m, i.checked_sub(1).map(|p| &req.messages[p]))?;
    }
    check_n(req.n)?;
    if let Some(stop) = &req.stop {
        let len = stop.sequences().len();
        if len > MAX_STOPS {
            return Err(coded(
                format!("Invalid 'stop': array too long. Expected an array with maximum length {MAX_STOPS}, but got an array with length {len} instead."),
                "stop",
                "array_above_max_length",
            ));
        }
    }
    check_tools(req)?;
    check_format(req)
}

/// A 400 with a param and a code.
fn coded(message: String, param: &str, code: &str) -> ApiError {
    let mut e = ApiError::invalid_request(message, Some(param.into()));
    e.body.code = Some(code.into());
    e
}

fn missing(param: String) -> ApiError {
    coded(
        format!("Missing required parameter: '{param}'."),
        &param,
        "missing_required_parameter",
    )
}

fn check_message(
    i: usize,
    m: &ChatMessage,
    previous: Option<&ChatMessage>,
) -> Result<(), ApiError> {
    let Some(role) = Role::from_name(&m.role) else {
        let names: Vec<String> = Role::ALL
            .iter()
            .map(|r| format!("'{}'", r.as_str()))
            .collect();
        let (last, rest) = names
            .split_last()
            .map_or(("", &[][..]), |(l, r)| (l.as_str(), r));
        return Err(coded(
            format!(
                "Invalid value: '{}'. Supported values are: {}, and {last}.",
                m.role.chars().take(64).collect::<String>(),
                rest.join(", ")
            ),
            &format!("messages[{i}].role"),
            "invalid_value",
        ));
    };
    let has_calls = m.tool_calls.as_ref().is_some_and(|c| !c.is_empty());
    if m.content.is_none() && !(role == Role::Assistant && has_calls) {
        return Err(missing(format!("messages[{i}].content")));
    }
    if role == Role::Tool {
        if m.tool_call_id.is_none() {
            return Err(missing(format!("messages[{i}].tool_call_id")));
        }
        let answers_calls = previous.is_some_and(|p| {
            p.tool_calls.as_ref().is_some_and(|c| !c.is_empty()) || p.role == Role::Tool.as_str()
        });
        if !answers_calls {
            return Err(ApiError::invalid_request(
                "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.".into(),
                Some(format!("messages[{i}].role")),
            ));
        }
    }
    Ok(())
}

fn check_n(n: Option<u32>) -> Result<(), ApiError> {
    match n {
        Some(0) => Err(coded(
            "Invalid 'n': integer below minimum value. Expected a value >= 1, but got 0 instead.".into(),
            "n",
            "integer_below_min_value",
        )),
        Some(n) if n > MAX_CHOICES => Err(coded(
            format!("Invalid 'n': integer above maximum value. Expected a value <= {MAX_CHOICES}, but got {n} instead."),
            "n",
            "integer_above_max_value",
        )),
        _ => Ok(()),
    }
}

/// Whether a function or schema name is what OpenAI accepts: `^[a-zA-Z0-9_-]{1,64}$`.
fn valid_name(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn bad_name(param: String) -> ApiError {
    coded(
        format!("Invalid '{param}': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'."),
        &param,
        "invalid_value",
    )
}

fn check_tools(req: &ChatCompletionRequest) -> Result<(), ApiError> {
    let tools: &[Tool] = req.tools.as_deref().unwrap_or(&[]);
    if tools.len() > MAX_TOOLS {
        return Err(coded(
            format!("Invalid 'tools': array too long. Expected an array with maximum length {MAX_TOOLS}, but got an array with length {} instead.", tools.len()),
            "tools",
            "array_above_max_length",
        ));
    }
    for (i, t) in tools.iter().enumerate() {
        check_tool(i, t)?;
    }
    if req.parallel_tool_calls.is_some() && tools.is_empty() {
        return Err(ApiError::invalid_request(
            "Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when 'tools' are specified.".into(),
            Some("parallel_tool_calls".into()),
        ));
    }
    let choice = match &req.tool_choice {
        None | Some(ToolChoice::Mode(ToolChoiceMode::None)) => return Ok(()),
        Some(ToolChoice::Mode(_)) => None,
        Some(ToolChoice::Function(f)) => {
            if f.kind != "function" {
                return Err(coded(
                    format!(
                        "Invalid value: '{}'. Supported values are: 'function'.",
                        f.kind.chars().take(64).collect::<String>()
                    ),
                    "tool_choice.type",
                    "invalid_value",
                ));
            }
            Some(f.function.name.as_str())
        }
    };
    let error = if tools.is_empty() {
        Some(ToolError::NoTools)
    } else {
        choice
            .filter(|name| tools.iter().all(|t| t.function.name != *name))
            .map(|name| ToolError::UnknownFunction {
                name: name.chars().take(64).collect(),
            })
    };
    match error {
        Some(e) => Err(ApiError::invalid_request(
            e.to_string(),
            Some("tool_choice".into()),
        )),
        None => Ok(()),
    }
}

fn check_tool(i: usize, t: &Tool) -> Result<(), ApiError> {
    if t.kind != "function" {
        return Err(coded(
            format!(
                "Invalid value: '{}'. Supported values are: 'function'.",
                t.kind.chars().take(64).collect::<String>()
            ),
            &format!("tools[{i}].type"),
            "invalid_value",
        ));
    }
    let f = &t.function;
    if !valid_name(&f.name) {
        return Err(bad_name(format!("tools[{i}].function.name")));
    }
    let Some(schema) = &f.parameters else {
        return Ok(());
    };
    let checked = if f.strict == Some(true) {
        content::check_strict(schema)
    } else {
        content::check(schema, true)
    };
    checked.map_err(|e| {
        coded(
            format!("Invalid schema for function '{}': {e}", f.name),
            &format!("tools[{i}].function.parameters"),
            "invalid_function_parameters",
        )
    })
}

fn check_format(req: &ChatCompletionRequest) -> Result<(), ApiError> {
    match &req.response_format {
        None | Some(ResponseFormat::Text) => Ok(()),
        Some(ResponseFormat::JsonObject) => {
            let says_json = req
                .messages
                .iter()
                .any(|m| m.text_ref().to_ascii_lowercase().contains("json"));
            if says_json {
                Ok(())
            } else {
                Err(ApiError::invalid_request(
                    "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.".into(),
                    Some("messages".into()),
                ))
            }
        }
        Some(ResponseFormat::JsonSchema { json_schema }) => {
            if !valid_name(&json_schema.name) {
                return Err(bad_name("response_format.json_schema.name".into()));
            }
            let Some(schema) = &json_schema.schema else {
                return Ok(());
            };
            let checked = if json_schema.strict == Some(true) {
                content::check_strict(schema)
            } else {
                content::check(schema, true)
            };
            checked.map_err(|e| {
                ApiError::invalid_request(
                    format!(
                        "Invalid schema for response_format '{}': {e}",
                        json_schema.name
                    ),
                    Some("response_format".into()),
                )
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(body: serde_json::Value) -> ChatCompletionRequest {
        serde_json::from_value(body).unwrap()
    }

    fn param(body: serde_json::Value) -> String {
        check(&req(body))
            .unwrap_err()
            .body
            .param
            .unwrap_or_default()
    }

    #[test]
    fn each_refusal_names_its_param() {
        let user = serde_json::json!({"role": "user", "content": "hi"});
        let cases = [
            (
                serde_json::json!({"model": "m", "messages": [user, user, {"role": "bot", "content": "x"}]}),
                "messages[2].role",
            ),
            (
                serde_json::json!({"model": "m", "messages": [{"role": "system"}]}),
                "messages[0].content",
            ),
            (
                serde_json::json!({"model": "m", "messages": [user, {"role": "assistant", "content": null,
                "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "content": "1"}]}),
                "messages[2].tool_call_id",
            ),
            (
                serde_json::json!({"model": "m", "messages": [user, {"role": "tool", "content": "1", "tool_call_id": "c"}]}),
                "messages[1].role",
            ),
            (
                serde_json::json!({"model": "m", "messages": [user], "n": 0}),
                "n",
            ),
            (
                serde_json::json!({"model": "m", "messages": [user], "n": 129}),
                "n",
            ),
            (
                serde_json::json!({"model": "m", "messages": [user], "stop": ["a", "b", "c", "d", "e"]}),
                "stop",
            ),
            (
                serde_json::json!({"model": "m", "messages": [user], "tool_choice": "required"}),
                "tool_choice",
            ),
            (
                serde_json::json!({"model": "m", "messages": [user], "parallel_tool_calls": true}),
                "parallel_tool_calls",
            ),
            (
                serde_json::json!({"model": "m", "messages": [user], "tools": [{"type": "function", "function": {"name": "a b"}}]}),
                "tools[0].function.name",
            ),
            (
                serde_json::json!({"model": "m", "messages": [user], "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "array"}}}]}),
                "tools[0].function.parameters",
            ),
            (
                serde_json::json!({"model": "m", "messages": [user], "tools": [{"type": "function", "function": {"name": "f"}}],
                "tool_choice": {"type": "function", "function": {"name": "g"}}}),
                "tool_choice",
            ),
            (
                serde_json::json!({"model": "m", "messages": [user], "response_format": {"type": "json_object"}}),
                "messages",
            ),
            (
                serde_json::json!({"model": "m", "messages": [user], "response_format": {"type": "json_schema",
                "json_schema": {"name": "x", "strict": true, "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}}}),
                "response_format",
            ),
        ];
        for (body, want) in cases {
            assert_eq!(param(body.clone()), want, "{body}");
        }
        let ok = serde_json::json!({"model": "m", "messages": [user, {"role": "assistant", "content": null,
            "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "content": "1", "tool_call_id": "c"}], "n": 128, "stop": "x",
            "response_format": {"type": "json_object"}, "tools": [{"type": "function", "function": {"name": "f"}}]});
        assert!(
            check(&req(ok.clone())).is_err(),
            "no 'json' in the messages"
        );
        let mut ok = ok;
        ok["messages"][0]["content"] = "answer in JSON".into();
        assert!(check(&req(ok)).is_ok());
    }

    #[test]
    fn role_message_lists_every_role() {
        let body = serde_json::json!({"model": "m", "messages": [{"role": "bot", "content": "x"}]});
        let e = check(&req(body)).unwrap_err();
        assert_eq!(
            e.body.message,
            "Invalid value: 'bot'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'."
        );
    }
}
