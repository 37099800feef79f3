//! OpenAI chat-completions wire types, shared by the mock and by Gauntlet's client.
//!
//! One definition on both sides means the client is tested against exactly the shapes the mock
//! emits, and both follow OpenAI's field names so official SDKs parse the mock's answers.

pub mod responses;

use serde::{Deserialize, Serialize};

pub mod embeddings;

/// `POST /v1/chat/completions` request body.
///
/// Unknown fields (`top_p`, `user`, `tools`, ...) are accepted and ignored, as a lenient
/// provider would, so any SDK can talk to the mock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant`, `tool`, or `developer`.
    pub role: String,
    /// Text, or a list of content parts; `null` for assistant tool calls.
    #[serde(default)]
    pub content: Option<MessageContent>,
}

impl ChatMessage {
    /// A message with plain text content.
    pub fn new(role: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            content: Some(MessageContent::Text(text.into())),
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
    /// One choice (the mock ignores `n`).
    pub choices: Vec<Choice>,
    /// Token accounting.
    pub usage: Usage,
}

/// One answer in a `chat.completion`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// Position in `choices`.
    pub index: u32,
    /// The assistant's message.
    pub message: ChatMessage,
    /// `stop` or `length`.
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
    fn chunk_serialises_null_usage() {
        let c = ChatCompletionChunk {
            id: "x".into(),
            object: "chat.completion.chunk".into(),
            created: 1,
            model: "m".into(),
            choices: vec![],
            usage: None,
        };
        let v: serde_json::Value = serde_json::to_value(&c).unwrap();
        assert!(v.get("usage").unwrap().is_null());
    }
}
