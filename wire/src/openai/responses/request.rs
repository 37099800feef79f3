//! The request body of `POST /v1/responses`: input items, tools, tool choice, text format.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::response::{FunctionCall, ItemStatus};
use crate::openai::MessageContent;
use crate::tokens::{approx_tokens, TOKENS_PER_MESSAGE, TOKENS_PER_REQUEST};

/// `POST /v1/responses` request body.
///
/// Unknown fields (`top_p`, `user`, `reasoning`, `include`, ...) are accepted and ignored, as a
/// lenient provider would, so any SDK can talk to the mock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseRequest {
    /// Model name; echoed back in the response.
    pub model: String,
    /// The new turn: a string (one user message) or a list of items. Optional in the spec (a
    /// stored prompt can stand in for it); the mock requires it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<ResponseInput>,
    /// A system (developer) message placed before the input; not carried over by
    /// `previous_response_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Tools the model may call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool>,
    /// Whether and which tool must be called; `auto` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// Whether several tool calls may come in one answer; echoed back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// Plain text or structured (JSON) output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextConfig>,
    /// Ask for a `text/event-stream` of typed events instead of one JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Upper bound on output tokens; the answer is cut with `status: "incomplete"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    /// Continue the conversation of a stored response: its input and output count as context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_response_id: Option<String>,
    /// Whether the response is kept for a later `previous_response_id`; `true` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<bool>,
    /// Sampling temperature; echoed back, and part of what changes an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Up to 16 string pairs attached to the response; echoed back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

impl ResponseRequest {
    /// A request with a string input and nothing else set.
    pub fn new(model: impl Into<String>, input: impl Into<String>) -> Self {
        Self {
            model: model.into(),
            input: Some(ResponseInput::Text(input.into())),
            instructions: None,
            tools: Vec::new(),
            tool_choice: None,
            parallel_tool_calls: None,
            text: None,
            stream: None,
            max_output_tokens: None,
            previous_response_id: None,
            store: None,
            temperature: None,
            metadata: None,
        }
    }

    /// Whether the client asked for a stream.
    pub fn is_stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    /// Whether the response is to be stored (the API's default is yes).
    pub fn is_stored(&self) -> bool {
        self.store.unwrap_or(true)
    }

    /// Input tokens of this request alone (instructions and input, without any earlier turns
    /// named by `previous_response_id`), by the one approximation of [`crate::tokens`]:
    /// the instructions and every item cost a message's framing plus their text.
    pub fn input_tokens(&self) -> u32 {
        let instructions = self
            .instructions
            .as_deref()
            .map_or(0, |t| TOKENS_PER_MESSAGE + approx_tokens(t));
        let items = self.input.as_ref().map_or(0, ResponseInput::tokens);
        TOKENS_PER_REQUEST
            .saturating_add(instructions)
            .saturating_add(items)
    }
}

/// `input`: a string, or a list of items.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ResponseInput {
    /// One user message.
    Text(String),
    /// Messages, function calls and their outputs, in order.
    Items(Vec<InputItem>),
}

/// By hand rather than `#[serde(untagged)]`, which would hide why an item is refused behind
/// "data did not match any variant" (and copy every value before trying each variant).
impl<'de> Deserialize<'de> for ResponseInput {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = ResponseInput;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or an array of input items")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ResponseInput::Text(v.to_string()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(ResponseInput::Text(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                // The body limit bounds the list; no size hint is trusted beyond a small start.
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(1).min(64));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(ResponseInput::Items(items))
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl ResponseInput {
    /// Tokens of the items (framing plus text each), without the request's priming.
    pub fn tokens(&self) -> u32 {
        match self {
            ResponseInput::Text(t) => TOKENS_PER_MESSAGE + approx_tokens(t),
            ResponseInput::Items(items) => items
                .iter()
                .map(|i| TOKENS_PER_MESSAGE.saturating_add(i.text_tokens()))
                .fold(0u32, u32::saturating_add),
        }
    }

    /// The input as `(role, text)` turns, a string being one `user` turn: what the mock hashes
    /// and stores for a later `previous_response_id`.
    pub fn turns(&self) -> Vec<(&str, std::borrow::Cow<'_, str>)> {
        match self {
            ResponseInput::Text(t) => vec![("user", std::borrow::Cow::Borrowed(t.as_str()))],
            ResponseInput::Items(items) => items.iter().map(InputItem::turn).collect(),
        }
    }
}

/// One item of an `input` list.
///
/// Read by hand (through [`RawInputItem`]) because a message may omit `type`, which serde's
/// tagged enums cannot express; written with its `type` always present.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", try_from = "RawInputItem")]
pub enum InputItem {
    /// `{type?: "message", role, content}`.
    Message(InputMessage),
    /// A function call the model made earlier, sent back as context.
    FunctionCall(FunctionCall),
    /// The result of a function call: `{type: "function_call_output", call_id, output}`.
    FunctionCallOutput(FunctionCallOutput),
}

impl InputItem {
    /// A message item with plain text content.
    pub fn message(role: impl Into<String>, text: impl Into<String>) -> Self {
        InputItem::Message(InputMessage {
            role: role.into(),
            content: MessageContent::Text(text.into()),
        })
    }

    /// The item's role and text: a message's own, `assistant` and `name(arguments)` for a
    /// function call, `tool` and the output for a function call's result.
    pub fn turn(&self) -> (&str, std::borrow::Cow<'_, str>) {
        match self {
            InputItem::Message(m) => (m.role.as_str(), content_text(&m.content)),
            InputItem::FunctionCall(c) => (
                "assistant",
                std::borrow::Cow::Owned(format!("{}({})", c.name, c.arguments)),
            ),
            InputItem::FunctionCallOutput(o) => ("tool", content_text(&o.output)),
        }
    }

    fn text_tokens(&self) -> u32 {
        approx_tokens(&self.turn().1)
    }
}

/// The text of string-or-parts content, parts joined.
fn content_text(content: &MessageContent) -> std::borrow::Cow<'_, str> {
    match content {
        MessageContent::Text(t) => std::borrow::Cow::Borrowed(t),
        MessageContent::Parts(parts) => std::borrow::Cow::Owned(
            parts
                .iter()
                .filter_map(|p| p.text.as_deref())
                .collect::<String>(),
        ),
    }
}

/// A message of the input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputMessage {
    /// `user`, `assistant`, `system` or `developer`.
    pub role: String,
    /// A string, or parts (`input_text`, `output_text`, `input_image`, ...); only text parts
    /// are read.
    pub content: MessageContent,
}

/// `function_call_output`: what the client's function returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCallOutput {
    /// The `call_id` of the function call this answers.
    pub call_id: String,
    /// The result: a string (usually JSON), or content parts.
    pub output: MessageContent,
}

/// Every field an input item may have, read before the item's kind is known; public only
/// because [`InputItem`]'s `Deserialize` goes through it.
#[derive(Debug, Deserialize)]
#[doc(hidden)]
pub struct RawInputItem {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    content: Option<MessageContent>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    call_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
    #[serde(default)]
    output: Option<MessageContent>,
    #[serde(default)]
    status: Option<ItemStatus>,
}

/// Why an input item is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputItemError {
    /// A field its kind needs is absent.
    #[error("a `{kind}` item needs `{field}`")]
    Missing {
        /// The item's `type`.
        kind: &'static str,
        /// The absent field.
        field: &'static str,
    },
    /// A `type` the mock does not take.
    #[error(
        "unsupported input item type `{0}`; expected `message`, `function_call` or `function_call_output`"
    )]
    Unsupported(String),
}

impl TryFrom<RawInputItem> for InputItem {
    type Error = InputItemError;

    fn try_from(raw: RawInputItem) -> Result<Self, Self::Error> {
        fn need<T>(
            v: Option<T>,
            kind: &'static str,
            field: &'static str,
        ) -> Result<T, InputItemError> {
            v.ok_or(InputItemError::Missing { kind, field })
        }
        match raw.kind.as_deref().unwrap_or("message") {
            "message" => Ok(InputItem::Message(InputMessage {
                role: need(raw.role, "message", "role")?,
                content: need(raw.content, "message", "content")?,
            })),
            "function_call" => Ok(InputItem::FunctionCall(FunctionCall {
                id: raw.id,
                call_id: need(raw.call_id, "function_call", "call_id")?,
                name: need(raw.name, "function_call", "name")?,
                arguments: need(raw.arguments, "function_call", "arguments")?,
                status: raw.status,
            })),
            "function_call_output" => Ok(InputItem::FunctionCallOutput(FunctionCallOutput {
                call_id: need(raw.call_id, "function_call_output", "call_id")?,
                output: need(raw.output, "function_call_output", "output")?,
            })),
            other => Err(InputItemError::Unsupported(other.to_string())),
        }
    }
}

/// A tool the model may call. Only function tools are taken; a built-in tool's `type`
/// (`web_search`, `file_search`, ...) is refused by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Tool {
    /// `{type: "function", name, description, parameters, strict}`.
    Function(FunctionTool),
}

/// A function the client offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionTool {
    /// What a call names.
    pub name: String,
    /// What the function does, for the model.
    #[serde(default)]
    pub description: Option<String>,
    /// A JSON Schema of the arguments object.
    #[serde(default)]
    pub parameters: Option<serde_json::Value>,
    /// Whether arguments must follow the schema exactly.
    #[serde(default)]
    pub strict: Option<bool>,
}

/// `tool_choice`: a mode, or one named function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ToolChoice {
    /// `"none"`, `"auto"` or `"required"`.
    Mode(ToolChoiceMode),
    /// `{type: "function", name}`: this function must be called.
    Function(ToolChoiceFunction),
}

impl Default for ToolChoice {
    fn default() -> Self {
        ToolChoice::Mode(ToolChoiceMode::Auto)
    }
}

/// The string forms of `tool_choice`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolChoiceMode {
    /// No tool is called.
    None,
    /// The model chooses.
    Auto,
    /// Some tool must be called.
    Required,
}

/// `{type: "function", name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolChoiceFunction {
    /// Always `function`.
    #[serde(rename = "type")]
    pub kind: FunctionKind,
    /// The function to call.
    pub name: String,
}

/// The `"function"` literal of a tool choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FunctionKind {
    /// `function`.
    Function,
}

/// `text`: how the output is formatted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TextConfig {
    /// Plain text when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<TextFormat>,
}

/// `text.format`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TextFormat {
    /// Plain text.
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON valid for `schema`.
    JsonSchema(JsonSchemaFormat),
}

/// `{type: "json_schema", name, schema, strict, description}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonSchemaFormat {
    /// The format's name.
    pub name: String,
    /// The JSON Schema the output follows.
    pub schema: serde_json::Value,
    /// What the format is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether the output must follow the schema exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}
