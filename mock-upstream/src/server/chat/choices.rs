//! What each of a chat completion's `n` choices says: text, a JSON instance, or tool calls;
//! cut by `stop` and by the token limit. Decided from the request and seeds alone, so the
//! same request gets the same choices.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use gauntlet_wire::openai::{ChatCompletionRequest, ResponseFormat, ToolChoice, ToolChoiceMode};
use gauntlet_wire::tokens::{approx_tokens, CHARS_PER_TOKEN};

use crate::content::{self, Decide, ToolCall, ToolDef};
use crate::text::Reply;

/// What the request wants the content to be.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Format {
    /// The generated reply text.
    Text,
    /// `{"answer": <reply text>}`.
    JsonObject,
    /// An instance of this schema.
    JsonSchema(Value),
}

/// One choice's content.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Body {
    /// Text (or serialised JSON), and why it ended.
    Text {
        /// What is sent.
        text: String,
        /// `stop` or `length`.
        finish: &'static str,
    },
    /// Tool calls, `finish_reason: "tool_calls"`, no content.
    Calls(Vec<ToolCall>),
}

impl Body {
    /// Completion tokens of what is sent.
    pub(crate) fn tokens(&self) -> u32 {
        match self {
            Body::Text { text, .. } => approx_tokens(text),
            Body::Calls(calls) => calls
                .iter()
                .map(|c| approx_tokens(&c.name) + approx_tokens(&c.arguments))
                .sum(),
        }
    }

    /// The choice's `finish_reason`.
    pub(crate) fn finish(&self) -> &'static str {
        match self {
            Body::Text { finish, .. } => finish,
            Body::Calls(_) => "tool_calls",
        }
    }
}

/// Everything but choice 0's reply text, which comes from the engine's decision.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ChoicePlan {
    /// The tool calls of each choice (empty: it answers with content).
    pub(crate) calls: Vec<Vec<ToolCall>>,
    /// What the content is.
    pub(crate) format: Format,
    /// The reply texts of choices 1.., generated like choice 0's.
    pub(crate) other_replies: Vec<Reply>,
    /// `stop` sequences.
    pub(crate) stops: Vec<String>,
    /// `max_completion_tokens` or `max_tokens`.
    pub(crate) limit: Option<u32>,
    /// Seeds of each choice's JSON instance.
    pub(crate) seeds: Vec<u64>,
}

/// The seed of choice `i`: spread so neighbouring choices share nothing.
pub(crate) fn choice_seed(base: u64, i: u32) -> u64 {
    base ^ u64::from(i)
        .wrapping_add(1)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The tool calls of each of `n` choices (the request has passed the checks).
pub(crate) fn tool_calls(
    req: &ChatCompletionRequest,
    n: u32,
    base: u64,
    share: f64,
) -> Vec<Vec<ToolCall>> {
    let defs: Vec<ToolDef<'_>> = req
        .tools
        .iter()
        .flatten()
        .map(|t| ToolDef {
            name: &t.function.name,
            parameters: t.function.parameters.as_ref(),
        })
        .collect();
    let choice = match &req.tool_choice {
        Some(ToolChoice::Mode(ToolChoiceMode::None)) => content::ToolChoice::None,
        Some(ToolChoice::Mode(ToolChoiceMode::Required)) => content::ToolChoice::Required,
        Some(ToolChoice::Function(f)) => content::ToolChoice::Function(&f.function.name),
        Some(ToolChoice::Mode(ToolChoiceMode::Auto)) | None => content::ToolChoice::Auto,
    };
    (0..n)
        .map(|i| {
            let how = Decide {
                choice,
                parallel: req.parallel_tool_calls.unwrap_or(true),
                auto_call_share: share,
                seed: choice_seed(base, i),
                id_prefix: "call_",
                after_tool_result: req.messages.last().is_some_and(|m| m.role == "tool"),
            };
            content::decide(&defs, &how).unwrap_or_default()
        })
        .collect()
}

/// The request's content format.
pub(crate) fn format(req: &ChatCompletionRequest) -> Format {
    match &req.response_format {
        None | Some(ResponseFormat::Text) => Format::Text,
        Some(ResponseFormat::JsonObject) => Format::JsonObject,
        Some(ResponseFormat::JsonSchema { json_schema }) => Format::JsonSchema(
            json_schema
                .schema
                .clone()
                .unwrap_or_else(|| serde_json::json!({"type": "object"})),
        ),
    }
}

impl ChoicePlan {
    /// Each choice's body; `first` is choice 0's reply.
    pub(crate) fn bodies(&self, first: &Reply) -> Vec<Body> {
        self.calls
            .iter()
            .enumerate()
            .map(|(i, calls)| {
                if !calls.is_empty() {
                    return Body::Calls(calls.clone());
                }
                let reply = if i == 0 {
                    first
                } else {
                    &self.other_replies[i - 1]
                };
                self.content(i, reply)
            })
            .collect()
    }

    fn content(&self, i: usize, reply: &Reply) -> Body {
        let (text, finish) = match &self.format {
            Format::Text => (reply.text.clone(), reply.finish_reason),
            Format::JsonObject => (
                serde_json::json!({ "answer": reply.text }).to_string(),
                "stop",
            ),
            Format::JsonSchema(schema) => {
                let seed = self.seeds.get(i).copied().unwrap_or(0);
                let value = content::schema::instance(schema, &mut ChaCha8Rng::seed_from_u64(seed));
                (value.to_string(), "stop")
            }
        };
        let (text, finish) = cut_at_stop(text, finish, &self.stops);
        match self.limit {
            Some(limit) if approx_tokens(&text) > limit => Body::Text {
                text: text
                    .chars()
                    .take(limit.max(1) as usize * CHARS_PER_TOKEN)
                    .collect(),
                finish: "length",
            },
            _ => Body::Text { text, finish },
        }
    }
}

/// The text before the first stop sequence (which is not sent), and `stop` when one was found.
fn cut_at_stop(mut text: String, finish: &'static str, stops: &[String]) -> (String, &'static str) {
    let first = stops
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| text.find(s.as_str()))
        .min();
    match first {
        Some(at) => {
            text.truncate(at);
            (text, "stop")
        }
        None => (text, finish),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_cuts_before_the_earliest_sequence() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            cut_at_stop("a b c d".into(), "length", &s(&["c", " b"])),
            ("a".into(), "stop")
        );
        assert_eq!(
            cut_at_stop("abc".into(), "length", &s(&["z", ""])),
            ("abc".into(), "length")
        );
    }
}
