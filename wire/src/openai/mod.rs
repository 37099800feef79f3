//! OpenAI chat-completions wire types, shared by the mock and by Gauntlet's client.
//!
//! One definition on both sides means the client is tested against exactly the shapes the mock
//! emits, and both follow OpenAI's field names so official SDKs parse the mock's answers.

pub mod responses;

use serde::{Deserialize, Serialize};

pub mod embeddings;

/// `POST /v1/chat/completions` request body.
///
/// Unknown fields (`top_p`, `logprobs`, ...) are accepted and ignored, as a lenient provider
/// would, so any SDK can talk to the mock.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletionRequest {
    /// Model name; echoed back in the response.
    pub model: String,
    /// The conversation so far.
    pub messages: Vec<ChatMessage>,
    /// Ask for a `text/event-stream` of chunks instead of one JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Upper bound on completion tokens; the reply is cut with `finish_reason = "length"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Newer spelling of `max_tokens` used by current SDKs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    /// Sampling temperature; part of what changes an answer, so caches key on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Streaming options (`include_usage` adds a final usage chunk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    /// Functions the model may call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    /// Whether and which tool the model calls (`auto` when tools are given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// Whether one answer may call several tools (OpenAI's default: yes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// Plain text, any JSON object, or an instance of a JSON Schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
    /// How many choices to generate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// Sequences the answer is cut before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    /// Makes the answer deterministic per seed, and different across seeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// The end user, for abuse monitoring; accepted and ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// One tool of `tools`: a function and the JSON Schema of its arguments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    /// Always `function`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The function.
    pub function: FunctionDefinition,
}

/// A function the model may call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionDefinition {
    /// Its name, as the call names it.
    pub name: String,
    /// What it does, for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The JSON Schema of its arguments (an object schema); none means no arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<serde_json::Value>,
    /// Hold the arguments to the schema exactly (OpenAI's structured-output rules apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// `tool_choice`: a mode, or one function by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ToolChoice {
    /// `"none"`, `"auto"` or `"required"`.
    Mode(ToolChoiceMode),
    /// `{"type": "function", "function": {"name": ...}}`.
    Function(NamedToolChoice),
}

/// The modes `tool_choice` may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolChoiceMode {
    /// Answer with text.
    None,
    /// The model decides.
    Auto,
    /// Call at least one tool.
    Required,
}

/// `tool_choice` naming a function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedToolChoice {
    /// Always `function`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The function to call.
    pub function: FunctionName,
}

/// A function named by `tool_choice`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionName {
    /// Its name.
    pub name: String,
}

/// `response_format`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    /// Plain text (the default).
    Text,
    /// Some JSON object; the messages must say "JSON".
    JsonObject,
    /// An instance of the schema given.
    JsonSchema {
        /// The schema and its name.
        json_schema: JsonSchemaFormat,
    },
}

/// `response_format.json_schema`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JsonSchemaFormat {
    /// The schema's name (`a-z`, `A-Z`, `0-9`, `_`, `-`, at most 64).
    pub name: String,
    /// What the format is for, for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The JSON Schema the answer is an instance of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<serde_json::Value>,
    /// Hold the answer to the schema exactly (OpenAI's structured-output rules apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// `stop`: one sequence or several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    /// One sequence.
    One(String),
    /// Up to four.
    Many(Vec<String>),
}

impl Stop {
    /// The sequences, one or many alike.
    pub fn sequences(&self) -> &[String] {
        match self {
            Stop::One(s) => std::slice::from_ref(s),
            Stop::Many(v) => v,
        }
    }
}

/// The roles a message may have, as OpenAI lists them in its error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Instructions.
    System,
    /// The assistant's earlier answers.
    Assistant,
    /// The user.
    User,
    /// The deprecated function-call result.
    Function,
    /// A tool call's result.
    Tool,
    /// Instructions, in the newer spelling of o-series models.
    Developer,
}

impl Role {
    /// Every role, in OpenAI's order.
    pub const ALL: [Role; 6] = [
        Role::System,
        Role::Assistant,
        Role::User,
        Role::Function,
        Role::Tool,
        Role::Developer,
    ];

    /// The role as the wire spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::Assistant => "assistant",
            Role::User => "user",
            Role::Function => "function",
            Role::Tool => "tool",
            Role::Developer => "developer",
        }
    }

    /// The role spelled `name`, if any.
    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// A tool call the assistant made, in a message or a completion.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// `call_…`; the `tool` message answering it repeats it as `tool_call_id`.
    pub id: String,
    /// Always `function`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The function and its arguments.
    pub function: FunctionCall,
}

/// The function a tool call calls.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    /// Its name.
    pub name: String,
    /// The arguments: a JSON object, as a string.
    pub arguments: String,
}

/// A piece of a tool call in a stream: the first carries `id`, `type` and the name, later
/// ones pieces of `arguments`, all the call's `index`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolCallDelta {
    /// Which call of the answer this piece belongs to.
    pub index: u32,
    /// On the call's first piece.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `function`, on the call's first piece.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The name (first piece) or a piece of the arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionCallDelta>,
}

/// The function part of a [`ToolCallDelta`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionCallDelta {
    /// On the call's first piece.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A piece of the arguments (empty on the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
}

impl ChatCompletionRequest {
    /// The effective completion-token limit, whichever field the client used.
    pub fn token_limit(&self) -> Option<u32> {
        self.max_completion_tokens.or(self.max_tokens)
    }

    /// Whether the client asked for a stream.
    pub fn is_stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }
}

/// `stream_options` of a streaming request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamOptions {
    /// Send a last chunk with `usage` and no choices before `[DONE]`.
    #[serde(default)]
    pub include_usage: bool,
}

/// One message of a conversation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// One of [`Role::ALL`]; a string so any value reads and is refused with its `param`.
    pub role: String,
    /// Text, or a list of content parts; `null` for assistant tool calls.
    #[serde(default)]
    pub content: Option<MessageContent>,
    /// A participant's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The calls an assistant message made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    /// The call a `tool` message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    /// A message with plain text content.
    pub fn new(role: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            content: Some(MessageContent::Text(text.into())),
            ..Self::default()
        }
    }

    /// The message's text, with content parts joined; empty when there is none.
    pub fn text(&self) -> String {
        self.text_ref().into_owned()
    }

    /// The message's text without copying it when it is a plain string (the hot path).
    pub fn text_ref(&self) -> std::borrow::Cow<'_, str> {
        match &self.content {
            None => std::borrow::Cow::Borrowed(""),
            Some(MessageContent::Text(t)) => std::borrow::Cow::Borrowed(t),
            Some(MessageContent::Parts(parts)) => std::borrow::Cow::Owned(
                parts
                    .iter()
                    .filter_map(|p| p.text.as_deref())
                    .collect::<Vec<_>>()
                    .join(""),
            ),
        }
    }
}

/// Message content as OpenAI accepts it: a string or typed parts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum MessageContent {
    /// The common case.
    Text(String),
    /// Multi-part content (`[{"type": "text", "text": "..."}]`); only text parts are read.
    Parts(Vec<ContentPart>),
}

/// By hand rather than `#[serde(untagged)]`, which buffers every value and copies the text
/// before trying each variant: this is on the path of every request and every answer.
impl<'de> Deserialize<'de> for MessageContent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = MessageContent;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or an array of content parts")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(MessageContent::Text(v.to_string()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(MessageContent::Text(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut parts = Vec::with_capacity(seq.size_hint().unwrap_or(1));
                while let Some(p) = seq.next_element()? {
                    parts.push(p);
                }
                Ok(MessageContent::Parts(parts))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// One part of multi-part content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentPart {
    /// `text`, `image_url`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// The text of a `text` part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// `chat.completion` response body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletion {
    /// `chatcmpl-...`.
    pub id: String,
    /// Always `chat.completion`.
    pub object: String,
    /// Unix seconds.
    pub created: u64,
    /// The model the request named.
    pub model: String,
    /// `n` choices, one by default.
    pub choices: Vec<Choice>,
    /// Token accounting, all choices together.
    pub usage: Usage,
    /// The backend configuration that answered; the same `seed` and fingerprint give the
    /// same answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
}

/// One answer in a `chat.completion`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// Position in `choices`.
    pub index: u32,
    /// The assistant's message.
    pub message: ChatMessage,
    /// `stop`, `length` or `tool_calls`.
    pub finish_reason: Option<String>,
}

/// Token counts of a request and its answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the request's messages.
    pub prompt_tokens: u32,
    /// Tokens in the answer.
    pub completion_tokens: u32,
    /// Sum of both.
    pub total_tokens: u32,
}

/// `chat.completion.chunk`, one `data:` line of a stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletionChunk {
    /// The same id on every chunk of one stream.
    pub id: String,
    /// Always `chat.completion.chunk`.
    pub object: String,
    /// Unix seconds.
    pub created: u64,
    /// The model the request named.
    pub model: String,
    /// One delta, or none in the usage chunk.
    pub choices: Vec<ChunkChoice>,
    /// Present (non-null) only in the usage chunk.
    #[serde(default)]
    pub usage: Option<Usage>,
    /// As in [`ChatCompletion::system_fingerprint`], on every chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
}

/// The delta of one chunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkChoice {
    /// Position in `choices`.
    pub index: u32,
    /// What this chunk adds.
    pub delta: Delta,
    /// Set on the last content chunk.
    pub finish_reason: Option<String>,
}

/// Incremental message content.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    /// `assistant` on the first chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// A piece of the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Pieces of tool calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCallDelta>>,
}

/// OpenAI's error envelope: `{"error": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    /// The error itself.
    pub error: ErrorBody,
}

/// The body of an OpenAI error; SDKs read `type` and `code` to pick an exception class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Human-readable explanation.
    pub message: String,
    /// `requests`, `tokens`, `insufficient_quota`, `invalid_request_error`, `server_error`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// The request field at fault, if any.
    pub param: Option<String>,
    /// Machine-readable code (`rate_limit_exceeded`, `invalid_api_key`, ...).
    pub code: Option<String>,
}

/// `POST /v1/chat` request of the older, simpler API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LegacyChatRequest {
    /// The whole prompt as one string.
    pub prompt: String,
}

/// `POST /v1/chat` response of the older API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LegacyChatResponse {
    /// The answer.
    pub reply: String,
}

/// `GET /v1/models` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelList {
    /// Always `list`.
    pub object: String,
    /// The models served.
    pub data: Vec<Model>,
}

/// One entry of `GET /v1/models`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Model name.
    pub id: String,
    /// Always `model`.
    pub object: String,
    /// Unix seconds.
    pub created: u64,
    /// Owner shown by the API.
    pub owned_by: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_accepts_unknown_fields_and_parts() {
        let body = r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],
            "top_p":1,"user":"u","stream":true,"stream_options":{"include_usage":true}}"#;
        let r: ChatCompletionRequest = serde_json::from_str(body).unwrap();
        assert_eq!(r.messages[0].text(), "hi");
        assert!(r.is_stream());
        assert!(r.stream_options.unwrap().include_usage);
    }

    #[test]
    fn content_is_text_parts_or_null_and_nothing_else() {
        let m: ChatMessage =
            serde_json::from_str(r#"{"role":"user","content":"a \"quoted\" line"}"#).unwrap();
        assert_eq!(
            m.content,
            Some(MessageContent::Text("a \"quoted\" line".into()))
        );
        let m: ChatMessage =
            serde_json::from_str(r#"{"role":"assistant","content":null}"#).unwrap();
        assert_eq!(m.content, None);
        let m: ChatMessage = serde_json::from_str(r#"{"role":"user","content":[]}"#).unwrap();
        assert_eq!(m.content, Some(MessageContent::Parts(vec![])));
        let e = serde_json::from_str::<ChatMessage>(r#"{"role":"user","content":7}"#).unwrap_err();
        assert!(
            e.to_string()
                .contains("a string or an array of content parts"),
            "{e}"
        );
        // Serialised the way it is read.
        let text = serde_json::to_string(&MessageContent::Text("hi".into())).unwrap();
        assert_eq!(text, r#""hi""#);
    }

    #[test]
    fn tools_formats_and_stops_read_as_sdks_send_them() {
        let body = r#"{"model":"m","messages":[
            {"role":"user","content":"hi","name":"ann"},
            {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",
                "function":{"name":"f","arguments":"{}"}}]},
            {"role":"tool","tool_call_id":"call_1","content":"42"}],
            "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"},"strict":true}}],
            "tool_choice":{"type":"function","function":{"name":"f"}},"parallel_tool_calls":false,
            "response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"},"strict":true}},
            "n":3,"stop":["a","b"],"seed":-7,"user":"u"}"#;
        let r: ChatCompletionRequest = serde_json::from_str(body).unwrap();
        assert_eq!(
            r.messages[1].tool_calls.as_ref().unwrap()[0].function.name,
            "f"
        );
        assert_eq!(r.messages[2].tool_call_id.as_deref(), Some("call_1"));
        assert_eq!(r.messages[0].name.as_deref(), Some("ann"));
        let f = &r.tools.as_ref().unwrap()[0].function;
        assert_eq!((f.name.as_str(), f.strict), ("f", Some(true)));
        assert!(matches!(&r.tool_choice, Some(ToolChoice::Function(c)) if c.function.name == "f"));
        assert!(
            matches!(&r.response_format, Some(ResponseFormat::JsonSchema { json_schema }) if json_schema.name == "x")
        );
        assert_eq!(r.stop.as_ref().unwrap().sequences(), ["a", "b"]);
        assert_eq!((r.n, r.seed), (Some(3), Some(-7)));
        let modes: ChatCompletionRequest = serde_json::from_str(
            r#"{"model":"m","messages":[],"tool_choice":"required","response_format":{"type":"json_object"},"stop":"x"}"#,
        )
        .unwrap();
        assert_eq!(
            modes.tool_choice,
            Some(ToolChoice::Mode(ToolChoiceMode::Required))
        );
        assert_eq!(modes.response_format, Some(ResponseFormat::JsonObject));
        assert_eq!(modes.stop.unwrap().sequences(), ["x"]);
        assert!(serde_json::from_str::<ChatCompletionRequest>(
            r#"{"model":"m","messages":[],"tool_choice":"sometimes"}"#
        )
        .is_err());
        // Absent fields stay absent when a request is written back.
        let plain = serde_json::to_value(ChatCompletionRequest::default()).unwrap();
        assert_eq!(plain, serde_json::json!({"model": "", "messages": []}));
    }

    #[test]
    fn roles_read_back() {
        for r in Role::ALL {
            assert_eq!(Role::from_name(r.as_str()), Some(r));
        }
        assert_eq!(Role::from_name("bot"), None);
    }

    #[test]
    fn tool_call_deltas_serialise_as_openai_streams_them() {
        let first = Delta {
            tool_calls: Some(vec![ToolCallDelta {
                index: 1,
                id: Some("call_x".into()),
                kind: Some("function".into()),
                function: Some(FunctionCallDelta {
                    name: Some("f".into()),
                    arguments: Some(String::new()),
                }),
            }]),
            ..Delta::default()
        };
        assert_eq!(
            serde_json::to_string(&first).unwrap(),
            r#"{"tool_calls":[{"index":1,"id":"call_x","type":"function","function":{"name":"f","arguments":""}}]}"#
        );
    }

    #[test]
    fn chunk_serialises_null_usage() {
        let c = ChatCompletionChunk {
            id: "x".into(),
            object: "chat.completion.chunk".into(),
            created: 1,
            model: "m".into(),
            choices: vec![],
            usage: None,
            system_fingerprint: None,
        };
        let v: serde_json::Value = serde_json::to_value(&c).unwrap();
        assert!(v.get("usage").unwrap().is_null());
    }
}
