//! What a response's output holds: the generated text, a JSON document built from it or from a
//! schema, or function calls with generated arguments — and how `max_output_tokens` cuts it.

use std::borrow::Cow;

use crate::content::ToolCall;
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
    /// One `function_call` item per call, in order.
    Calls(Vec<ToolCall>),
}

/// The texts of the output items (a message's text, or each call's arguments) once
/// `max_output_tokens` applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Produced<'a> {
    /// One text per item.
    pub(crate) texts: Vec<Cow<'a, str>>,
    /// Output tokens, as `usage` reports them.
    pub(crate) tokens: u32,
    /// Whether the limit cut the output (the response is then `incomplete`).
    pub(crate) cut: bool,
}

impl Output {
    /// The items' texts for the engine's reply: the reply itself for plain text (already cut
    /// by the engine); otherwise the documents, counted by the token approximation and cut to
    /// `max_tokens` in order — a document cut part-way is unfinished JSON, and calls past the
    /// budget are dropped, as the API's would be.
    pub(crate) fn produce<'a>(&'a self, reply: &'a Reply, max_tokens: Option<u32>) -> Produced<'a> {
        let docs: Vec<Cow<'a, str>> = match self {
            Output::Text => {
                return Produced {
                    texts: vec![Cow::Borrowed(reply.text.as_str())],
                    tokens: reply.tokens,
                    cut: reply.finish_reason == "length",
                }
            }
            Output::JsonObject => {
                vec![Cow::Owned(
                    serde_json::json!({ "answer": reply.text }).to_string(),
                )]
            }
            Output::Json(doc) => vec![Cow::Borrowed(doc.as_str())],
            Output::Calls(calls) => calls
                .iter()
                .map(|c| Cow::Borrowed(c.arguments.as_str()))
                .collect(),
        };
        within(docs, max_tokens)
    }

    /// Whether the items are function calls rather than one message.
    pub(crate) fn is_calls(&self) -> bool {
        matches!(self, Output::Calls(_))
    }
}

/// `docs` cut to a budget of `max_tokens` (at least one token, as the engine's replies are).
fn within(docs: Vec<Cow<'_, str>>, max_tokens: Option<u32>) -> Produced<'_> {
    let mut budget = max_tokens.map(|m| m.max(1));
    let mut out = Produced {
        texts: Vec::with_capacity(docs.len()),
        tokens: 0,
        cut: false,
    };
    for doc in docs {
        let tokens = approx_tokens(&doc);
        let kept = match budget {
            Some(0) => {
                out.cut = true;
                break;
            }
            Some(b) if tokens > b => {
                out.cut = true;
                let end = doc
                    .char_indices()
                    .nth(b as usize * CHARS_PER_TOKEN)
                    .map_or(doc.len(), |(i, _)| i);
                Cow::Owned(doc[..end].to_string())
            }
            _ => doc,
        };
        let used = approx_tokens(&kept);
        budget = budget.map(|b| b.saturating_sub(used));
        out.tokens = out.tokens.saturating_add(used);
        out.texts.push(kept);
    }
    out
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

    fn call(arguments: &str) -> ToolCall {
        ToolCall {
            id: "call_x".into(),
            name: "f".into(),
            arguments: arguments.into(),
        }
    }

    #[test]
    fn text_is_the_reply_and_json_object_wraps_it() {
        let r = reply("Hi there.");
        let p = Output::Text.produce(&r, Some(1));
        assert_eq!(p.texts, [Cow::Borrowed("Hi there.")]);
        assert!(!p.cut, "the engine already cut the reply");
        let p = Output::JsonObject.produce(&r, None);
        let v: serde_json::Value = serde_json::from_str(&p.texts[0]).unwrap();
        assert_eq!(v, serde_json::json!({"answer": "Hi there."}));
        assert_eq!(p.tokens, approx_tokens(&p.texts[0]));
    }

    #[test]
    fn documents_are_cut_to_the_limit_on_a_char_boundary() {
        let doc = Output::Json(r#"{"k":"éééééééééé"}"#.into());
        let x = reply("x");
        let p = doc.produce(&x, Some(2));
        assert!(p.cut);
        assert_eq!(p.texts[0].chars().count(), 8);
        assert_eq!(p.tokens, 2);
        assert!(!doc.produce(&x, Some(100)).cut);
    }

    #[test]
    fn calls_share_the_budget_in_order() {
        let calls = Output::Calls(vec![call("{\"a\":1}"), call("{\"b\":2}"), call("{}")]);
        let x = reply("x");
        let whole = calls.produce(&x, None);
        assert_eq!(whole.texts.len(), 3);
        assert_eq!(whole.tokens, 2 + 2 + 1);
        let p = calls.produce(&x, Some(3));
        assert!(p.cut);
        assert_eq!(
            p.texts,
            [Cow::Borrowed("{\"a\":1}"), Cow::Borrowed("{\"b\"")]
        );
        assert_eq!(p.tokens, 3);
    }
}
