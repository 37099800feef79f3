//! What a response's one output item holds: the generated text, a JSON document built from it
//! or from a schema, or a function call with generated arguments.

use std::borrow::Cow;

use crate::text::Reply;
use gauntlet_wire::tokens::{approx_tokens, CHARS_PER_TOKEN};

/// The kind of output a request gets, decided from its `tools`, `tool_choice` and
/// `text.format` before the engine answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Output {
    /// A message with the generated text.
    Text,
    /// A message whose text is a JSON object carrying the generated text
    /// (`text.format: json_object`).
    JsonObject,
    /// A message whose text is this JSON document (`text.format: json_schema`).
    Json(String),
    /// A call of the named function with these arguments (a JSON object).
    FunctionCall {
        /// The function.
        name: String,
        /// Its arguments, as JSON text.
        arguments: String,
    },
}

impl Output {
    /// The text the item carries, as a [`Reply`]: the engine's own for plain text; otherwise
    /// the document, counted by the token approximation and cut to `max_tokens` (the answer is
    /// then incomplete, its JSON unfinished, as the API's would be).
    pub(crate) fn content<'a>(&self, reply: &'a Reply, max_tokens: Option<u32>) -> Cow<'a, Reply> {
        let text = match self {
            Output::Text => return Cow::Borrowed(reply),
            Output::JsonObject => serde_json::json!({ "answer": reply.text }).to_string(),
            Output::Json(doc) => doc.clone(),
            Output::FunctionCall { arguments, .. } => arguments.clone(),
        };
        Cow::Owned(cut(text, max_tokens))
    }

    /// Whether the item is a function call rather than a message.
    pub(crate) fn is_call(&self) -> bool {
        matches!(self, Output::FunctionCall { .. })
    }
}

/// `text` as a reply of at most `max_tokens` tokens (at least one).
fn cut(mut text: String, max_tokens: Option<u32>) -> Reply {
    let tokens = approx_tokens(&text);
    match max_tokens {
        Some(max) if tokens > max.max(1) => {
            let keep = max.max(1) as usize * CHARS_PER_TOKEN;
            let end = text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i);
            text.truncate(end);
            Reply {
                tokens: approx_tokens(&text),
                text,
                finish_reason: "length",
            }
        }
        _ => Reply {
            text,
            tokens,
            finish_reason: "stop",
        },
    }
}

/// `text` in pieces of one token (four characters) each, cut on character boundaries, as a
/// stream sends it.
pub(crate) fn pieces(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = rest
            .char_indices()
            .nth(CHARS_PER_TOKEN)
            .map_or(rest.len(), |(i, _)| i);
        let (piece, tail) = rest.split_at(end);
        rest = tail;
        Some(piece)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(text: &str) -> Reply {
        Reply {
            text: text.into(),
            tokens: approx_tokens(text),
            finish_reason: "stop",
        }
    }

    #[test]
    fn pieces_are_four_characters_and_respect_char_boundaries() {
        let p: Vec<_> = pieces("abcdefghij").collect();
        assert_eq!(p, ["abcd", "efgh", "ij"]);
        let p: Vec<_> = pieces("ééééé").collect();
        assert_eq!(p, ["éééé", "é"]);
        assert_eq!(pieces("").count(), 0);
    }

    #[test]
    fn text_is_the_reply_and_json_object_wraps_it() {
        let r = reply("Hi there.");
        assert!(matches!(Output::Text.content(&r, None), Cow::Borrowed(_)));
        let j = Output::JsonObject.content(&r, None);
        let v: serde_json::Value = serde_json::from_str(&j.text).unwrap();
        assert_eq!(v, serde_json::json!({"answer": "Hi there."}));
        assert_eq!(j.tokens, approx_tokens(&j.text));
        assert_eq!(j.finish_reason, "stop");
    }

    #[test]
    fn documents_are_cut_to_the_limit_on_a_char_boundary() {
        let doc = Output::Json(r#"{"k":"éééééééééé"}"#.into());
        let c = doc.content(&reply("x"), Some(2));
        assert_eq!(c.finish_reason, "length");
        assert_eq!(c.text.chars().count(), 8);
        assert_eq!(c.tokens, 2);
        let whole = doc.content(&reply("x"), Some(100));
        assert_eq!(whole.finish_reason, "stop");
    }
}
