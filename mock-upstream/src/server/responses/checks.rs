//! The checks the Responses API makes before it answers, with its messages and the `param`
//! each names, and the kind of output a valid request gets.

use gauntlet_wire::openai::responses::{
    InputItem, ResponseInput, ResponseRequest, TextFormat, Tool, ToolChoice, ToolChoiceMode,
};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use super::output::Output;
use crate::content::{self, Decide, ToolDef};
use crate::server::errors::ApiError;

/// Separates the `json_schema` instance's RNG stream from every other draw on the same seed.
const SCHEMA_STREAM: u64 = 0x5c4e_3a00_0000_0001;

/// The API's floor on `max_output_tokens`.
pub(crate) const MIN_OUTPUT_TOKENS: u32 = 16;
/// Tools one request may offer, as the API allows.
pub(crate) const MAX_TOOLS: usize = 128;
/// Metadata pairs, key and value lengths the API allows.
pub(crate) const MAX_METADATA: (usize, usize, usize) = (16, 64, 512);

fn bad(message: String, param: &str) -> ApiError {
    ApiError::invalid_request(message, Some(param.to_string()))
}

/// The request's input, once every field the mock reads is within the API's bounds.
pub(crate) fn check(req: &ResponseRequest) -> Result<&ResponseInput, ApiError> {
    let input = match &req.input {
        None => return Err(bad("Missing required parameter: 'input'.".into(), "input")),
        Some(ResponseInput::Items(items)) if items.is_empty() => {
            return Err(bad(
                "Invalid 'input': empty array. Expected an array with minimum length 1, but got an empty array instead.".into(),
                "input",
            ))
        }
        Some(input) => input,
    };
    if let Some(n) = req.max_output_tokens.filter(|n| *n < MIN_OUTPUT_TOKENS) {
        return Err(bad(
            format!("Invalid 'max_output_tokens': integer below minimum value. Expected a value >= {MIN_OUTPUT_TOKENS}, but got {n} instead."),
            "max_output_tokens",
        ));
    }
    if let Some(t) = req.temperature.filter(|t| !(0.0..=2.0).contains(t)) {
        return Err(bad(
            format!(
                "Invalid 'temperature': expected a value between 0 and 2, but got {t} instead."
            ),
            "temperature",
        ));
    }
    check_metadata(req)?;
    check_tools(req)?;
    Ok(input)
}

fn check_metadata(req: &ResponseRequest) -> Result<(), ApiError> {
    let Some(m) = &req.metadata else {
        return Ok(());
    };
    let (pairs, key_len, value_len) = MAX_METADATA;
    if m.len() > pairs {
        return Err(bad(
            format!("Invalid 'metadata': too many properties. Expected an object with at most {pairs} properties, but got an object with {} properties instead.", m.len()),
            "metadata",
        ));
    }
    for (k, v) in m {
        if k.chars().count() > key_len {
            return Err(bad(
                format!("Invalid 'metadata': key too long. Expected a key of at most {key_len} characters."),
                "metadata",
            ));
        }
        if v.chars().count() > value_len {
            return Err(bad(
                format!("Invalid 'metadata.{k}': string too long. Expected a string with maximum length {value_len}."),
                &format!("metadata.{k}"),
            ));
        }
    }
    Ok(())
}

fn check_tools(req: &ResponseRequest) -> Result<(), ApiError> {
    if req.tools.len() > MAX_TOOLS {
        return Err(bad(
            format!("Invalid 'tools': array too long. Expected an array with maximum length {MAX_TOOLS}, but got an array with length {} instead.", req.tools.len()),
            "tools",
        ));
    }
    for (i, Tool::Function(f)) in req.tools.iter().enumerate() {
        if !valid_name(&f.name) {
            return Err(bad(
                format!("Invalid 'tools[{i}].name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$' of at most 64 characters."),
                &format!("tools[{i}].name"),
            ));
        }
        if let Some(p) = &f.parameters {
            check_schema(p, f.strict == Some(true)).map_err(|e| {
                bad(
                    format!("Invalid schema for function '{}': {e}", f.name),
                    &format!("tools[{i}].parameters"),
                )
            })?;
        }
    }
    match &req.tool_choice {
        Some(ToolChoice::Function(f))
            if !req.tools.iter().any(|Tool::Function(t)| t.name == f.name) =>
        {
            Err(bad(
                format!(
                    "Tool choice 'function' with name '{}' not found in 'tools' parameter.",
                    f.name
                ),
                "tool_choice",
            ))
        }
        Some(ToolChoice::Mode(ToolChoiceMode::Required)) if req.tools.is_empty() => Err(bad(
            "Tool choice 'required' must be specified with 'tools' parameter.".into(),
            "tool_choice",
        )),
        _ => Ok(()),
    }
}

/// The schema checks the API makes: a valid schema with an object at the root, and OpenAI's
/// structured-output rules when `strict`.
fn check_schema(schema: &Value, strict: bool) -> Result<(), content::SchemaError> {
    content::check(schema, true)?;
    if strict {
        content::check_strict(schema)?;
    }
    Ok(())
}

/// A function or format name as the API takes it: letters, digits, `_` and `-`, 1 to 64.
fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// What the output's draws depend on besides the request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Draw {
    /// The mock's seed and the prompt's hash, combined: the same request draws the same way.
    pub(crate) seed: u64,
    /// `[tools] auto_call_share` of the fault file.
    pub(crate) auto_call_share: f64,
}

/// The output a checked request gets: the function calls the seeded tool decision makes,
/// else an instance of the `json_schema` format, a JSON object, or text.
pub(crate) fn output(req: &ResponseRequest, draw: Draw) -> Result<Output, ApiError> {
    let calls = tool_calls(req, draw)?;
    if !calls.is_empty() {
        return Ok(Output::Calls(calls));
    }
    match req.text.as_ref().and_then(|t| t.format.as_ref()) {
        None | Some(TextFormat::Text) => Ok(Output::Text),
        Some(TextFormat::JsonObject) => Ok(Output::JsonObject),
        Some(TextFormat::JsonSchema(f)) => {
            if !valid_name(&f.name) {
                return Err(bad(
                    "Invalid 'text.format.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$' of at most 64 characters.".into(),
                    "text.format.name",
                ));
            }
            check_schema(&f.schema, f.strict == Some(true)).map_err(|e| {
                bad(
                    format!("Invalid schema for response_format '{}': {e}", f.name),
                    "text.format.schema",
                )
            })?;
            let mut rng = ChaCha8Rng::seed_from_u64(draw.seed ^ SCHEMA_STREAM);
            Ok(Output::Json(
                content::schema::instance(&f.schema, &mut rng).to_string(),
            ))
        }
    }
}

/// The calls [`content::decide`] makes for the request's tools and `tool_choice`.
fn tool_calls(req: &ResponseRequest, draw: Draw) -> Result<Vec<content::ToolCall>, ApiError> {
    let tools: Vec<ToolDef<'_>> = req
        .tools
        .iter()
        .map(|Tool::Function(f)| ToolDef {
            name: &f.name,
            parameters: f.parameters.as_ref(),
        })
        .collect();
    let choice = match &req.tool_choice {
        None | Some(ToolChoice::Mode(ToolChoiceMode::Auto)) => content::ToolChoice::Auto,
        Some(ToolChoice::Mode(ToolChoiceMode::None)) => content::ToolChoice::None,
        Some(ToolChoice::Mode(ToolChoiceMode::Required)) => content::ToolChoice::Required,
        Some(ToolChoice::Function(f)) => content::ToolChoice::Function(&f.name),
    };
    let how = Decide {
        choice,
        parallel: req.parallel_tool_calls.unwrap_or(true),
        auto_call_share: draw.auto_call_share,
        seed: draw.seed,
        id_prefix: "call_",
        after_tool_result: matches!(&req.input, Some(ResponseInput::Items(items))
            if matches!(items.last(), Some(InputItem::FunctionCallOutput(_)))),
    };
    content::decide(&tools, &how).map_err(|e| bad(e.to_string(), "tool_choice"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(v: serde_json::Value) -> ResponseRequest {
        serde_json::from_value(v).unwrap()
    }

    fn param(r: &ResponseRequest) -> Option<String> {
        check(r).err().and_then(|e| e.body.param)
    }

    #[test]
    fn each_check_names_its_param() {
        let cases = [
            (json!({"model": "m"}), "input"),
            (json!({"model": "m", "input": []}), "input"),
            (
                json!({"model": "m", "input": "x", "max_output_tokens": 15}),
                "max_output_tokens",
            ),
            (
                json!({"model": "m", "input": "x", "temperature": 2.5}),
                "temperature",
            ),
            (
                json!({"model": "m", "input": "x", "metadata": {"k": "v".repeat(513)}}),
                "metadata.k",
            ),
            (
                json!({"model": "m", "input": "x", "tools": [{"type": "function", "name": "a b"}]}),
                "tools[0].name",
            ),
            (
                json!({"model": "m", "input": "x", "tool_choice": {"type": "function", "name": "f"}}),
                "tool_choice",
            ),
            (
                json!({"model": "m", "input": "x", "tool_choice": "required"}),
                "tool_choice",
            ),
            (
                json!({"model": "m", "input": "x", "tools": [{"type": "function", "name": "f",
                    "parameters": {"type": "array"}}]}),
                "tools[0].parameters",
            ),
            (
                json!({"model": "m", "input": "x", "tools": [{"type": "function", "name": "f",
                    "strict": true, "parameters": {"type": "object",
                    "properties": {"a": {"type": "string"}}}}]}),
                "tools[0].parameters",
            ),
        ];
        for (body, want) in cases {
            assert_eq!(param(&req(body.clone())).as_deref(), Some(want), "{body}");
        }
        let many: serde_json::Map<_, _> = (0..17).map(|i| (format!("k{i}"), json!("v"))).collect();
        assert_eq!(
            param(&req(json!({"model": "m", "input": "x", "metadata": many}))).as_deref(),
            Some("metadata")
        );
    }

    #[test]
    fn a_valid_request_passes() {
        let r = req(
            json!({"model": "m", "input": "x", "max_output_tokens": 16, "temperature": 0,
            "tools": [{"type": "function", "name": "get_weather"}],
            "tool_choice": {"type": "function", "name": "get_weather"}}),
        );
        assert!(check(&r).is_ok());
        let r =
            req(json!({"model": "m", "input": "x", "text": {"format": {"type": "json_object"}}}));
        let draw = Draw {
            seed: 1,
            auto_call_share: 0.0,
        };
        assert_eq!(output(&r, draw).unwrap(), Output::JsonObject);
        let r =
            req(json!({"model": "m", "input": "x", "tools": [{"type": "function", "name": "f"}]}));
        assert_eq!(
            output(&r, draw).unwrap(),
            Output::Text,
            "auto, never calling"
        );
        let forced = req(
            json!({"model": "m", "input": "x", "tools": [{"type": "function", "name": "f"}],
            "tool_choice": "required", "text": {"format": {"type": "json_object"}}}),
        );
        assert!(matches!(output(&forced, draw).unwrap(), Output::Calls(c) if c.len() == 1));
    }
}
