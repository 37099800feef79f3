//! Anthropic Messages API wire types (`POST /v1/messages`), as Anthropic's published API and its
//! official SDKs (`anthropic-sdk-python`, `anthropic-sdk-typescript`) define them.
//!
//! The mock reads requests and writes answers, streams and errors with these, and a client reads
//! them, so both follow Anthropic's field names, object types and event names exactly: the
//! official SDKs parse what the mock sends. Unknown request fields (`cache_control`, `thinking`,
//! `service_tier`, ...) are accepted and ignored, as a lenient provider would.

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::hash::stable_hash;
use crate::tokens::{approx_tokens, TOKENS_PER_MESSAGE, TOKENS_PER_REQUEST};

/// The `anthropic-version` header values the API is known to accept, oldest first; every request
/// must send one. `2026-10-21` is what the official Python SDK (2.15) sends.
pub const API_VERSIONS: [&str; 3] = ["2023-01-01", "2023-06-01", "2026-10-21"];

/// `POST /v1/messages` request body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagesRequest {
    /// Model name; echoed back in the answer.
    pub model: String,
    /// Upper bound on output tokens; required by the API (unlike OpenAI's `max_tokens`).
    pub max_tokens: u32,
    /// The conversation so far, `user` and `assistant` turns.
    pub messages: Vec<InputMessage>,
    /// The system prompt: a string or text blocks (there is no `system` role in `messages`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemPrompt>,
    /// Ask for a `text/event-stream` of named events instead of one JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Texts that end the answer where they first occur (`stop_reason: "stop_sequence"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<String>>,
    /// Sampling temperature, 0 to 1 on this API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Nucleus sampling, 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    /// Sample from the top K options only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    /// `user_id` for abuse detection; the mock ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// Tools the model may call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    /// Whether and which tool the model must call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
}

impl MessagesRequest {
    /// Whether the client asked for a stream.
    pub fn is_stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    /// Input tokens by the one approximation ([`crate::tokens`]): the system prompt counts as
    /// one more message.
    pub fn input_tokens(&self) -> u32 {
        let system = self
            .system
            .as_ref()
            .map_or(0, |s| TOKENS_PER_MESSAGE + approx_tokens(&s.text()));
        TOKENS_PER_REQUEST
            + system
            + self
                .messages
                .iter()
                .map(|m| TOKENS_PER_MESSAGE + approx_tokens(&m.content.text()))
                .sum::<u32>()
    }

    /// A hash of the model, system prompt and turns, which with the seed fixes the reply.
    pub fn conversation_hash(&self) -> u64 {
        let mut h = stable_hash(self.model.as_bytes());
        if let Some(s) = &self.system {
            h = h.rotate_left(5) ^ stable_hash(b"system");
            h = h.rotate_left(5) ^ stable_hash(s.text().as_bytes());
        }
        for m in &self.messages {
            h = h.rotate_left(5) ^ stable_hash(m.role.as_str().as_bytes());
            h = h.rotate_left(5) ^ stable_hash(m.content.text().as_bytes());
        }
        h
    }
}

/// The author of a turn: the API has exactly these two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The person (or program) asking.
    User,
    /// The model.
    Assistant,
}

impl Role {
    /// Every role, in the API's order.
    pub const ALL: [Role; 2] = [Role::User, Role::Assistant];

    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputMessage {
    /// `user` or `assistant`.
    pub role: Role,
    /// A string or content blocks.
    pub content: Content,
}

impl InputMessage {
    /// A turn with plain text content.
    pub fn new(role: Role, text: impl Into<String>) -> Self {
        Self {
            role,
            content: Content::Text(text.into()),
        }
    }
}

/// A turn's content as the API accepts it: a string, or typed blocks.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Content {
    /// Shorthand for one text block.
    Text(String),
    /// Text, images, tool calls and their results.
    Blocks(Vec<ContentBlockParam>),
}

impl Content {
    /// The text the model reads: text blocks, tool calls (name and input) and tool results,
    /// joined; images are not read.
    pub fn text(&self) -> String {
        match self {
            Content::Text(t) => t.clone(),
            Content::Blocks(blocks) => blocks.iter().map(ContentBlockParam::text).collect(),
        }
    }

    /// Whether there is nothing in it (an empty string or no blocks), which the API refuses
    /// everywhere but in a final assistant turn.
    pub fn is_empty(&self) -> bool {
        match self {
            Content::Text(t) => t.is_empty(),
            Content::Blocks(b) => b.is_empty(),
        }
    }
}

/// By hand rather than `#[serde(untagged)]`, which buffers the value and hides the field at
/// fault when a block is wrong: a string or an array, each block reported at its index.
impl<'de> Deserialize<'de> for Content {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ContentVisitor;
        impl<'de> Visitor<'de> for ContentVisitor {
            type Value = Content;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or an array of content blocks")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Content, E> {
                Ok(Content::Text(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Content, E> {
                Ok(Content::Text(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Content, A::Error> {
                let mut blocks = Vec::with_capacity(seq.size_hint().unwrap_or(1).min(64));
                while let Some(b) = seq.next_element()? {
                    blocks.push(b);
                }
                Ok(Content::Blocks(blocks))
            }
        }
        d.deserialize_any(ContentVisitor)
    }
}

/// One block of a turn's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlockParam {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// An image; accepted, never read.
    Image {
        /// `{type: "base64", media_type, data}` or `{type: "url", url}`.
        source: serde_json::Value,
    },
    /// A tool call the model made in an earlier assistant turn.
    ToolUse {
        /// `toolu_…`, which the matching `tool_result` names.
        id: String,
        /// The tool called.
        name: String,
        /// Its arguments, a JSON object.
        input: serde_json::Value,
    },
    /// The result of a tool call, in a user turn.
    ToolResult {
        /// The `tool_use` block this answers.
        tool_use_id: String,
        /// A string or content blocks.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<Content>,
        /// Whether the tool failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        is_error: Option<bool>,
    },
}

impl ContentBlockParam {
    /// The text of this block the model reads.
    fn text(&self) -> String {
        match self {
            ContentBlockParam::Text { text } => text.clone(),
            ContentBlockParam::Image { .. } => String::new(),
            ContentBlockParam::ToolUse { name, input, .. } => format!("{name}{input}"),
            ContentBlockParam::ToolResult { content, .. } => {
                content.as_ref().map(Content::text).unwrap_or_default()
            }
        }
    }
}

/// The `system` field: a string, or text blocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SystemPrompt {
    /// The common case.
    Text(String),
    /// `[{"type": "text", "text": "..."}]`, as prompt caching needs.
    Blocks(Vec<SystemBlock>),
}

impl SystemPrompt {
    /// The prompt's text, blocks joined.
    pub fn text(&self) -> String {
        match self {
            SystemPrompt::Text(t) => t.clone(),
            SystemPrompt::Blocks(b) => b
                .iter()
                .map(|SystemBlock::Text { text }| text.as_str())
                .collect(),
        }
    }
}

/// A block of the system prompt: text only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SystemBlock {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
}

/// The request's `metadata`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// An opaque id of the end user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// A tool the client defines (a "custom" tool).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    /// The name the model calls it by.
    pub name: String,
    /// What it does, for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A JSON Schema of its `input`.
    pub input_schema: serde_json::Value,
}

/// `tool_choice`: may the model call tools, must it, and which.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolChoice {
    /// The model decides.
    Auto {
        /// At most one tool call.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    /// The model must call one of the tools.
    Any {
        /// At most one tool call.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    /// The model must call this tool.
    Tool {
        /// The tool's name.
        name: String,
        /// At most one tool call.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    /// The model must not call tools.
    None,
}

/// A `message` object: the answer of `POST /v1/messages`, and the skeleton in `message_start`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// `msg_…`.
    pub id: String,
    /// Always `message`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Always `assistant`.
    pub role: Role,
    /// The model the request named.
    pub model: String,
    /// The answer's blocks; empty in `message_start`.
    pub content: Vec<ContentBlock>,
    /// Why the answer ended; `null` only in `message_start`.
    pub stop_reason: Option<StopReason>,
    /// The stop sequence that ended it, if one did.
    pub stop_sequence: Option<String>,
    /// Token counts.
    pub usage: Usage,
}

/// A block of the answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock {
    /// Text.
    Text {
        /// The text (empty in `content_block_start`).
        text: String,
    },
    /// A call of one of the request's tools.
    ToolUse {
        /// `toolu_…`.
        id: String,
        /// The tool called.
        name: String,
        /// Its arguments (an empty object in `content_block_start`).
        input: serde_json::Value,
    },
}

/// Why the model stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// A natural end.
    EndTurn,
    /// `max_tokens` (or the model's maximum) was reached.
    MaxTokens,
    /// One of `stop_sequences` was generated.
    StopSequence,
    /// The model called a tool.
    ToolUse,
    /// A long-running turn was paused.
    PauseTurn,
    /// A classifier stopped the answer.
    Refusal,
}

impl StopReason {
    /// Every stop reason the API documents.
    pub const ALL: [StopReason; 6] = [
        StopReason::EndTurn,
        StopReason::MaxTokens,
        StopReason::StopSequence,
        StopReason::ToolUse,
        StopReason::PauseTurn,
        StopReason::Refusal,
    ];
}

/// Token counts of a request and its answer (the cache fields are 0 on the mock, which has
/// no prompt cache, but present as the API sends them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens read.
    pub input_tokens: u32,
    /// Tokens written.
    pub output_tokens: u32,
    /// Tokens written to the prompt cache.
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u32>,
    /// Tokens read from the prompt cache.
    #[serde(default)]
    pub cache_read_input_tokens: Option<u32>,
}

/// One event of a stream. The SSE event name is the same as `type` ([`StreamEvent::name`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    /// First: the message with empty `content`.
    MessageStart {
        /// The skeleton.
        message: Message,
    },
    /// A block begins at `index`.
    ContentBlockStart {
        /// Its place in `content`.
        index: u32,
        /// The block, empty.
        content_block: ContentBlock,
    },
    /// Keep-alive.
    Ping,
    /// A piece of the block at `index`.
    ContentBlockDelta {
        /// The block's place in `content`.
        index: u32,
        /// What to add.
        delta: BlockDelta,
    },
    /// The block at `index` is complete.
    ContentBlockStop {
        /// Its place in `content`.
        index: u32,
    },
    /// Top-level changes: the stop reason, and the cumulative output tokens.
    MessageDelta {
        /// Stop reason and sequence.
        delta: MessageDeltaBody,
        /// Cumulative counts.
        usage: DeltaUsage,
    },
    /// Last.
    MessageStop,
    /// An error after the stream began (the status was already 200).
    Error {
        /// The error.
        error: ErrorObject,
    },
}

impl StreamEvent {
    /// The SSE `event:` name.
    pub fn name(&self) -> &'static str {
        match self {
            StreamEvent::MessageStart { .. } => "message_start",
            StreamEvent::ContentBlockStart { .. } => "content_block_start",
            StreamEvent::Ping => "ping",
            StreamEvent::ContentBlockDelta { .. } => "content_block_delta",
            StreamEvent::ContentBlockStop { .. } => "content_block_stop",
            StreamEvent::MessageDelta { .. } => "message_delta",
            StreamEvent::MessageStop => "message_stop",
            StreamEvent::Error { .. } => "error",
        }
    }
}

/// The delta of a `content_block_delta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockDelta {
    /// More text for a `text` block.
    TextDelta {
        /// The piece.
        text: String,
    },
    /// More of a `tool_use` block's `input`, as a piece of a JSON text.
    InputJsonDelta {
        /// The piece.
        partial_json: String,
    },
}

/// The `delta` of a `message_delta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageDeltaBody {
    /// Why the answer ended.
    pub stop_reason: Option<StopReason>,
    /// The stop sequence that ended it, if one did.
    pub stop_sequence: Option<String>,
}

/// The `usage` of a `message_delta`: cumulative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeltaUsage {
    /// Output tokens so far.
    pub output_tokens: u32,
}

/// Anthropic's error body: `{"type": "error", "error": {...}, "request_id": "req_…"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// Always `error`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The error itself.
    pub error: ErrorObject,
    /// The same id as the `request-id` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// The `error` object of an error body or an `error` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorObject {
    /// What kind of error; a client picks its handling from it and the status.
    #[serde(rename = "type")]
    pub kind: ErrorType,
    /// Human-readable; names the field at fault for `invalid_request_error`.
    pub message: String,
}

/// The error types the API documents, each with its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    /// 400 (and other 4XX without a type of their own).
    InvalidRequestError,
    /// 401: the key is missing or wrong.
    AuthenticationError,
    /// 402: billing or payment.
    BillingError,
    /// 403: the key may not use this resource.
    PermissionError,
    /// 404.
    NotFoundError,
    /// 413: the body is over the size limit.
    RequestTooLarge,
    /// 429.
    RateLimitError,
    /// 500: unexpected, inside the API.
    ApiError,
    /// 504: the request timed out while processing.
    TimeoutError,
    /// 529: the API is overloaded for everyone.
    OverloadedError,
}

impl ErrorType {
    /// Every error type, in status order.
    pub const ALL: [ErrorType; 10] = [
        ErrorType::InvalidRequestError,
        ErrorType::AuthenticationError,
        ErrorType::BillingError,
        ErrorType::PermissionError,
        ErrorType::NotFoundError,
        ErrorType::RequestTooLarge,
        ErrorType::RateLimitError,
        ErrorType::ApiError,
        ErrorType::TimeoutError,
        ErrorType::OverloadedError,
    ];

    /// The HTTP status the API answers this type with.
    pub fn status(self) -> u16 {
        match self {
            ErrorType::InvalidRequestError => 400,
            ErrorType::AuthenticationError => 401,
            ErrorType::BillingError => 402,
            ErrorType::PermissionError => 403,
            ErrorType::NotFoundError => 404,
            ErrorType::RequestTooLarge => 413,
            ErrorType::RateLimitError => 429,
            ErrorType::ApiError => 500,
            ErrorType::TimeoutError => 504,
            ErrorType::OverloadedError => 529,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_reads_every_content_form_and_ignores_unknown_fields() {
        let body = json!({
            "model": "claude-sonnet-4-5", "max_tokens": 64, "stream": true,
            "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "calling"},
                    {"type": "tool_use", "id": "toolu_1", "name": "get", "input": {"q": 1}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "42"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA=="}}]}
            ],
            "stop_sequences": ["\n\nHuman:"], "temperature": 0.5, "top_p": 0.9, "top_k": 5,
            "metadata": {"user_id": "u"}, "thinking": {"type": "disabled"},
            "tools": [{"name": "get", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "tool", "name": "get"}
        });
        let r: MessagesRequest = serde_json::from_value(body).unwrap();
        assert!(r.is_stream());
        assert_eq!(r.system.as_ref().unwrap().text(), "Be brief.");
        assert_eq!(r.messages[1].content.text(), "callingget{\"q\":1}");
        assert_eq!(r.messages[2].content.text(), "42");
        assert_eq!(
            r.tool_choice,
            Some(ToolChoice::Tool {
                name: "get".into(),
                disable_parallel_tool_use: None
            })
        );
        // Framing: 3 + system (4 + 3) + three turns (4 + 1, 4 + 5, 4 + 1).
        assert_eq!(r.input_tokens(), 3 + 7 + 5 + 9 + 5);
    }

    #[test]
    fn roles_and_blocks_outside_the_api_are_refused() {
        let e = serde_json::from_value::<InputMessage>(json!({"role": "system", "content": "x"}))
            .unwrap_err();
        assert!(e.to_string().contains("`user` or `assistant`"), "{e}");
        let e = serde_json::from_value::<InputMessage>(
            json!({"role": "user", "content": [{"type": "video"}]}),
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown variant `video`"), "{e}");
        let e = serde_json::from_value::<InputMessage>(json!({"role": "user", "content": 7}))
            .unwrap_err();
        assert!(e.to_string().contains("a string or an array"), "{e}");
        let missing = serde_json::from_value::<MessagesRequest>(
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}),
        )
        .unwrap_err();
        assert!(missing.to_string().contains("`max_tokens`"), "{missing}");
    }

    #[test]
    fn the_hash_follows_the_conversation() {
        let base: MessagesRequest = serde_json::from_value(json!({
            "model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "a"}]
        }))
        .unwrap();
        let mut other = base.clone();
        other.max_tokens = 900;
        other.stop_sequences = Some(vec!["x".into()]);
        assert_eq!(base.conversation_hash(), other.conversation_hash());
        other.system = Some(SystemPrompt::Text("s".into()));
        assert_ne!(base.conversation_hash(), other.conversation_hash());
        let mut role = base.clone();
        role.messages[0].role = Role::Assistant;
        assert_ne!(base.conversation_hash(), role.conversation_hash());
    }

    #[test]
    fn answer_and_events_serialise_as_the_api_sends_them() {
        let m = Message {
            id: "msg_1".into(),
            kind: "message".into(),
            role: Role::Assistant,
            model: "m".into(),
            content: vec![ContentBlock::Text { text: "Hi".into() }],
            stop_reason: Some(StopReason::EndTurn),
            stop_sequence: None,
            usage: Usage {
                input_tokens: 3,
                output_tokens: 1,
                ..Usage::default()
            },
        };
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["type"], "message");
        assert_eq!(v["role"], "assistant");
        assert_eq!(v["content"][0], json!({"type": "text", "text": "Hi"}));
        assert_eq!(v["stop_reason"], "end_turn");
        assert!(v["stop_sequence"].is_null(), "null, not absent");
        let delta = StreamEvent::ContentBlockDelta {
            index: 0,
            delta: BlockDelta::TextDelta { text: "a".into() },
        };
        assert_eq!(
            serde_json::to_value(&delta).unwrap(),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "a"}})
        );
        assert_eq!(
            serde_json::to_value(StreamEvent::Ping).unwrap(),
            json!({"type": "ping"})
        );
        let md = StreamEvent::MessageDelta {
            delta: MessageDeltaBody {
                stop_reason: Some(StopReason::MaxTokens),
                stop_sequence: None,
            },
            usage: DeltaUsage { output_tokens: 7 },
        };
        let v = serde_json::to_value(&md).unwrap();
        assert_eq!(v["delta"]["stop_reason"], "max_tokens");
        assert_eq!(v["usage"]["output_tokens"], 7);
        for e in [delta, StreamEvent::Ping, md, StreamEvent::MessageStop] {
            let v = serde_json::to_value(&e).unwrap();
            assert_eq!(v["type"], e.name());
            assert_eq!(serde_json::from_value::<StreamEvent>(v).unwrap(), e);
        }
    }

    #[test]
    fn error_types_name_their_status() {
        let e = ErrorResponse {
            kind: "error".into(),
            error: ErrorObject {
                kind: ErrorType::OverloadedError,
                message: "Overloaded".into(),
            },
            request_id: Some("req_1".into()),
        };
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}, "request_id": "req_1"})
        );
        let statuses: Vec<u16> = ErrorType::ALL.iter().map(|t| t.status()).collect();
        assert_eq!(statuses, [400, 401, 402, 403, 404, 413, 429, 500, 504, 529]);
        for t in ErrorType::ALL {
            let name = serde_json::to_value(t).unwrap();
            assert_eq!(serde_json::from_value::<ErrorType>(name).unwrap(), t);
        }
        for r in StopReason::ALL {
            let name = serde_json::to_value(r).unwrap();
            assert_eq!(serde_json::from_value::<StopReason>(name).unwrap(), r);
        }
        assert_eq!(Role::ALL.map(Role::as_str), ["user", "assistant"]);
    }
}
