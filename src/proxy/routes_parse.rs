//! The caller's body as the stack's request: the fields the layers read, taken from the JSON the
//! caller sent, which itself goes on to the upstream whole (see `gauntlet_client::passthrough`).
//! A field of the wrong type is a 400 naming it, as the API would answer.

use std::sync::Arc;

use bytes::Bytes;
use gauntlet_client::passthrough::Passthrough;
use gauntlet_client::{ChatRequest, Route};
use gauntlet_wire::openai::ChatMessage;
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use super::routes_error::ProxyError;
use super::routes_json::parse_checked;

/// Most messages (or input items) one request may carry.
pub const MAX_MESSAGES: usize = 10_000;

/// A 400 naming `param` (boxed: the error is large and the happy path is the common one).
fn bad(message: String, param: Option<&str>) -> Box<ProxyError> {
    Box::new(ProxyError::bad_request(message, param))
}

/// What a caller's body says, before the stack's request is made of it.
#[derive(Debug)]
pub struct Parsed {
    /// The body as an object.
    pub body: Map<String, Value>,
    /// The stack's request (without passthrough yet).
    pub request: ChatRequest,
    /// The body as it came, kept when it can be forwarded as it is (no repeated key).
    pub raw: Option<Bytes>,
}

/// Parses `bytes` as `route`'s body.
pub fn parse(route: Route, bytes: &Bytes) -> Result<Parsed, Box<ProxyError>> {
    let (value, repeated) =
        parse_checked(bytes).map_err(|e| bad(format!("the body is not valid JSON: {e}"), None))?;
    let Value::Object(body) = value else {
        return Err(bad("the body must be a JSON object".into(), None));
    };
    let model = match body.get("model") {
        Some(Value::String(m)) if !m.is_empty() => m.clone(),
        _ => {
            return Err(bad(
                "`model` must be a non-empty string".into(),
                Some("model"),
            ))
        }
    };
    let messages = match route {
        Route::Chat => chat_messages(&body)?,
        Route::Responses => responses_messages(&body)?,
        Route::Embeddings => embeddings_input(&body)?,
    };
    let stream = match body.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b && route.completes(),
        Some(_) => return Err(bad("`stream` must be a boolean".into(), Some("stream"))),
    };
    let limit_key = match route {
        Route::Responses => "max_output_tokens",
        _ if body.contains_key("max_completion_tokens") => "max_completion_tokens",
        _ => "max_tokens",
    };
    let max_tokens = optional_u32(&body, limit_key)?;
    let temperature = match body.get("temperature") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_f64().map(|t| t as f32),
        Some(_) => {
            return Err(bad(
                "`temperature` must be a number".into(),
                Some("temperature"),
            ))
        }
    };
    let user = match body.get("user") {
        Some(Value::String(u)) => Some(u.clone()),
        None | Some(Value::Null) => None,
        Some(_) => return Err(bad("`user` must be a string".into(), Some("user"))),
    };
    let request = ChatRequest {
        route,
        stream,
        max_tokens,
        temperature,
        user,
        messages,
        ..ChatRequest::user_text(model, "")
    };
    let raw = (!repeated).then(|| bytes.clone());
    Ok(Parsed { body, request, raw })
}

impl Parsed {
    /// The stack's request, carrying the caller's body and (for a stream) the frames' sink.
    pub fn into_request(self, sink: Option<mpsc::Sender<Bytes>>) -> ChatRequest {
        let Parsed {
            body,
            mut request,
            raw,
        } = self;
        let messages = request.messages.clone();
        let passthrough = Passthrough::new(body, messages, sink);
        let passthrough = match raw {
            Some(raw) => passthrough.with_raw(raw),
            None => passthrough,
        };
        request.passthrough = Some(Arc::new(passthrough));
        request
    }
}

fn optional_u32(
    body: &Map<String, Value>,
    key: &'static str,
) -> Result<Option<u32>, Box<ProxyError>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            // The API refuses a limit of 0 (below its minimum of 1), and so does the proxy.
            .filter(|&n| n > 0)
            .map(Some)
            .ok_or_else(|| bad(format!("`{key}` must be a positive integer"), Some(key))),
    }
}

fn chat_messages(body: &Map<String, Value>) -> Result<Vec<ChatMessage>, Box<ProxyError>> {
    let Some(Value::Array(items)) = body.get("messages") else {
        return Err(bad("`messages` must be an array".into(), Some("messages")));
    };
    if items.is_empty() || items.len() > MAX_MESSAGES {
        return Err(bad(
            format!("`messages` must hold 1 to {MAX_MESSAGES} messages"),
            Some("messages"),
        ));
    }
    items
        .iter()
        .map(|m| {
            ChatMessage::deserialize(m)
                .map_err(|e| bad(format!("`messages`: {e}"), Some("messages")))
        })
        .collect()
}

/// `instructions` as a system message and each input message's text; other input items
/// (function call outputs, ...) reach the upstream in the caller's body unchanged.
fn responses_messages(body: &Map<String, Value>) -> Result<Vec<ChatMessage>, Box<ProxyError>> {
    let mut out = Vec::new();
    match body.get("instructions") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => out.push(ChatMessage::new("system", s.clone())),
        Some(_) => {
            return Err(bad(
                "`instructions` must be a string".into(),
                Some("instructions"),
            ))
        }
    }
    match body.get("input") {
        Some(Value::String(s)) => out.push(ChatMessage::new("user", s.clone())),
        Some(Value::Array(items)) if items.len() <= MAX_MESSAGES => {
            for item in items {
                let role = item.get("role").and_then(Value::as_str);
                let text = match item.get("content") {
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(Value::Array(parts)) => Some(
                        parts
                            .iter()
                            .filter_map(|p| p.get("text").and_then(Value::as_str))
                            .collect::<String>(),
                    ),
                    _ => None,
                };
                if let (Some(role), Some(text)) = (role, text) {
                    out.push(ChatMessage::new(role, text));
                }
            }
        }
        _ => {
            return Err(bad(
                format!("`input` must be a string or an array of at most {MAX_MESSAGES} items"),
                Some("input"),
            ))
        }
    }
    Ok(out)
}

/// Most inputs one embeddings request may carry (the API's own limit).
pub const MAX_EMBEDDING_INPUTS: usize = 2048;

/// One message per input (a string, or an array of 1 to [`MAX_EMBEDDING_INPUTS`] strings), in
/// order: the stack keys the cache on them and asks for one vector each.
fn embeddings_input(body: &Map<String, Value>) -> Result<Vec<ChatMessage>, Box<ProxyError>> {
    let refuse = || {
        bad(
            format!("`input` must be a string or an array of 1 to {MAX_EMBEDDING_INPUTS} strings"),
            Some("input"),
        )
    };
    match body.get("input") {
        Some(Value::String(s)) => Ok(vec![ChatMessage::new("user", s.clone())]),
        Some(Value::Array(items)) if (1..=MAX_EMBEDDING_INPUTS).contains(&items.len()) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(ChatMessage::new("user", s.clone())),
                _ => Err(refuse()),
            })
            .collect(),
        _ => Err(refuse()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(route: Route, body: &str) -> Result<Parsed, Box<ProxyError>> {
        parse(route, &Bytes::from(body.to_string()))
    }

    #[test]
    fn bad_fields_are_400s_naming_them() {
        let cases = [
            (Route::Chat, "{", None),
            (Route::Chat, "[1]", None),
            (Route::Chat, r#"{"messages":[]}"#, Some("model")),
            (
                Route::Chat,
                r#"{"model":"m","messages":5}"#,
                Some("messages"),
            ),
            (
                Route::Chat,
                r#"{"model":"m","messages":[{"role":"user","content":"q"}],"stream":"yes"}"#,
                Some("stream"),
            ),
            (
                Route::Chat,
                r#"{"model":"m","messages":[{"role":"user","content":"q"}],"max_tokens":-1}"#,
                Some("max_tokens"),
            ),
            (
                Route::Chat,
                r#"{"model":"m","messages":[{"role":"user","content":"q"}],"max_completion_tokens":0}"#,
                Some("max_completion_tokens"),
            ),
            (
                Route::Chat,
                r#"{"model":"m","messages":[{"role":"user","content":"q"}],"max_tokens":1.5}"#,
                Some("max_tokens"),
            ),
            (
                Route::Responses,
                r#"{"model":"m","input":5}"#,
                Some("input"),
            ),
            (
                Route::Embeddings,
                r#"{"model":"m","input":[]}"#,
                Some("input"),
            ),
            (
                Route::Embeddings,
                r#"{"model":"m","input":["a",[1,2]]}"#,
                Some("input"),
            ),
        ];
        for (route, body, param) in cases {
            let e = parsed(route, body).unwrap_err();
            assert_eq!(e.status, 400, "{body}");
            assert_eq!(e.param.as_deref(), param, "{body}");
        }
    }

    #[test]
    fn a_body_reads_into_the_stacks_request() {
        let p = parsed(
            Route::Responses,
            r#"{"model":"m","instructions":"be brief","input":[{"role":"user","content":[{"type":"input_text","text":"hi"}]}],"stream":true,"max_output_tokens":7,"user":"u1","top_p":0.3}"#,
        )
        .unwrap();
        let r = &p.request;
        assert_eq!(
            (r.model.as_str(), r.stream, r.max_tokens, r.user.as_deref()),
            ("m", true, Some(7), Some("u1"))
        );
        assert_eq!(
            r.messages,
            vec![
                ChatMessage::new("system", "be brief"),
                ChatMessage::new("user", "hi")
            ]
        );
        assert_eq!(p.body["top_p"], 0.3);
    }

    #[test]
    fn the_callers_bytes_are_kept_unless_a_key_repeats() {
        let body = r#"{"model":"m", "messages":[{"role":"user","content":"q"}]}"#;
        assert_eq!(
            parsed(Route::Chat, body).unwrap().raw.as_deref(),
            Some(body.as_bytes())
        );
        let twice = r#"{"model":"m","messages":[{"role":"user","content":"q","content":"r"}]}"#;
        let p = parsed(Route::Chat, twice).unwrap();
        assert_eq!(p.raw, None);
        assert_eq!(p.request.messages[0].text(), "r");
    }

    #[test]
    fn each_embeddings_input_is_a_message() {
        let p = parsed(Route::Embeddings, r#"{"model":"m","input":["a","b","c"]}"#).unwrap();
        let texts: Vec<String> = p.request.messages.iter().map(|m| m.text()).collect();
        assert_eq!(texts, ["a", "b", "c"]);
    }
}
