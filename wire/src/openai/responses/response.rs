//! The `response` object and its output items and usage.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::request::{TextConfig, Tool, ToolChoice};

/// The `response` object: the body of a non-streamed answer and of the lifecycle events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// `resp_...`.
    pub id: String,
    /// Always `response`.
    pub object: String,
    /// Unix seconds.
    pub created_at: u64,
    /// Where the response is.
    pub status: ResponseStatus,
    /// Why it failed (`status: "failed"`), else `null`.
    pub error: Option<ResponseError>,
    /// Why it is incomplete (`status: "incomplete"`), else `null`.
    pub incomplete_details: Option<IncompleteDetails>,
    /// The request's instructions, echoed.
    pub instructions: Option<String>,
    /// The request's limit, echoed.
    pub max_output_tokens: Option<u32>,
    /// The request's metadata, echoed (`{}` when none).
    pub metadata: BTreeMap<String, String>,
    /// The model the request named.
    pub model: String,
    /// What the model produced: messages and function calls.
    pub output: Vec<OutputItem>,
    /// The request's setting, echoed (`true` when absent).
    pub parallel_tool_calls: bool,
    /// The request's `previous_response_id`, echoed.
    pub previous_response_id: Option<String>,
    /// Whether the response was stored.
    #[serde(default)]
    pub store: bool,
    /// The request's temperature, echoed (`1` when absent).
    pub temperature: Option<f32>,
    /// The request's text configuration, echoed (`{format: {type: "text"}}` when absent).
    pub text: TextConfig,
    /// The request's tool choice, echoed (`auto` when absent).
    pub tool_choice: ToolChoice,
    /// The request's tools, echoed.
    pub tools: Vec<Tool>,
    /// Nucleus sampling, echoed (`1`).
    pub top_p: Option<f32>,
    /// Always `disabled`: the mock never drops context.
    pub truncation: String,
    /// Token accounting; `null` until the response is done.
    pub usage: Option<ResponseUsage>,
}

impl Response {
    /// The text of every `output_text` part joined, as the SDKs' `output_text` computes it.
    pub fn output_text(&self) -> String {
        let mut text = String::new();
        for item in &self.output {
            if let OutputItem::Message(m) = item {
                for c in &m.content {
                    if let OutputContent::OutputText { text: t, .. } = c {
                        text.push_str(t);
                    }
                }
            }
        }
        text
    }
}

/// `status` of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseStatus {
    /// Done, whole.
    Completed,
    /// Done, cut short (see `incomplete_details`).
    Incomplete,
    /// Failed (see `error`).
    Failed,
    /// Being generated (in the `response.created` and `response.in_progress` events).
    InProgress,
    /// Waiting to start (background mode).
    Queued,
    /// Cancelled (background mode).
    Cancelled,
}

/// `error` of a failed response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseError {
    /// `server_error`, `rate_limit_exceeded`, `invalid_prompt`, ...
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

/// `incomplete_details` of an incomplete response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncompleteDetails {
    /// Why it stopped.
    pub reason: Option<IncompleteReason>,
}

/// Why a response is incomplete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncompleteReason {
    /// `max_output_tokens` was reached.
    MaxOutputTokens,
    /// A content filter stopped it.
    ContentFilter,
}

/// `status` of an output item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Being generated.
    InProgress,
    /// Done.
    Completed,
    /// Cut short.
    Incomplete,
}

/// One item of `output`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputItem {
    /// An assistant message.
    Message(OutputMessage),
    /// A call of one of the request's function tools.
    FunctionCall(FunctionCall),
}

/// `{type: "message", id, status, role: "assistant", content}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputMessage {
    /// `msg_...`.
    pub id: String,
    /// Whether the message is whole.
    pub status: ItemStatus,
    /// Always `assistant`.
    pub role: String,
    /// The message's parts.
    pub content: Vec<OutputContent>,
}

/// A part of an output message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputContent {
    /// `{type: "output_text", text, annotations}`.
    OutputText {
        /// The text.
        text: String,
        /// Citations; always empty from the mock.
        #[serde(default)]
        annotations: Vec<serde_json::Value>,
        /// Token log probabilities; always empty from the mock.
        #[serde(default)]
        logprobs: Vec<serde_json::Value>,
    },
    /// `{type: "refusal", refusal}`.
    Refusal {
        /// Why the model refused.
        refusal: String,
    },
}

impl OutputContent {
    /// An `output_text` part without annotations.
    pub fn text(text: impl Into<String>) -> Self {
        OutputContent::OutputText {
            text: text.into(),
            annotations: Vec::new(),
            logprobs: Vec::new(),
        }
    }
}

/// `{type: "function_call", id, call_id, name, arguments, status}`, in `output` and, sent back,
/// in `input`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    /// `fc_...`; optional when sent back as input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `call_...`: what the `function_call_output` names.
    pub call_id: String,
    /// The function.
    pub name: String,
    /// A JSON object, as a string.
    pub arguments: String,
    /// Whether the call is whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ItemStatus>,
}

/// `usage` of a response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseUsage {
    /// Tokens of the instructions, input and earlier turns.
    pub input_tokens: u32,
    /// Breakdown of the input tokens.
    pub input_tokens_details: InputTokensDetails,
    /// Tokens of the output.
    pub output_tokens: u32,
    /// Breakdown of the output tokens.
    pub output_tokens_details: OutputTokensDetails,
    /// Sum of both.
    pub total_tokens: u32,
}

/// `input_tokens_details`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputTokensDetails {
    /// Tokens served from the prompt cache; always 0 from the mock.
    pub cached_tokens: u32,
}

/// `output_tokens_details`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputTokensDetails {
    /// Reasoning tokens; always 0 from the mock.
    pub reasoning_tokens: u32,
}
