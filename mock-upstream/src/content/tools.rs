//! Whether the model calls a tool, which, and with what arguments: a seeded decision, so the
//! same request (seed, prompt, tools) gets the same calls in every run, and a client's tool
//! loop can be tested against it.
//!
//! - `none` → no call; `required` → at least one call; a named function → exactly one call to
//!   it (a name not among the tools is a [`ToolError::UnknownFunction`], a 400);
//! - `auto` → a call with the probability `[tools] auto_call_share` of the fault file (0.5 by
//!   default), drawn from the seed the caller passes (the mock's seed, the prompt's hash and the
//!   request's `seed`);
//! - with parallel calls allowed (OpenAI's default) and two tools or more, half of the answers
//!   that call a tool call two or three distinct tools, the rest one; without, always one.
//!
//! Arguments are a [`super::schema::instance`] of the tool's parameters, serialised; each call
//! draws them from its own RNG stream, so adding a call does not change the others' arguments.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use super::schema;

/// Tools called at most in one answer.
pub const MAX_PARALLEL_CALLS: usize = 3;

/// Characters of a call id after its prefix, as OpenAI's `call_` ids have.
const ID_CHARS: usize = 24;

/// Separates the tool decisions' RNG stream from every other draw on the same seed.
const TOOLS_STREAM: u64 = 0x7001_5eed_ca11_0001;

/// How the request lets the model use its tools, in terms every API maps onto (OpenAI's
/// `tool_choice`, the Responses API's, Anthropic's `auto`/`any`/`tool`/`none`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolChoice<'a> {
    /// Never call a tool.
    None,
    /// Call one with the fault file's `auto_call_share`.
    Auto,
    /// Always call at least one.
    Required,
    /// Call this function, once.
    Function(&'a str),
}

/// A tool the request offers: its name and the JSON Schema of its arguments.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToolDef<'a> {
    /// The function's name.
    pub name: &'a str,
    /// Its `parameters`; `None` means it takes none (`{}` is sent).
    pub parameters: Option<&'a Value>,
}

/// One call the answer makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    /// `call_…` (or the caller's prefix) and 24 letters and digits.
    pub id: String,
    /// The function called.
    pub name: String,
    /// The arguments, a JSON object serialised, valid for the tool's parameters.
    pub arguments: String,
}

/// Why a request's tool settings were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToolError {
    /// The named function is not among the tools.
    #[error("Invalid value for 'tool_choice': function '{name}' is not among the tools provided.")]
    UnknownFunction {
        /// The name given.
        name: String,
    },
    /// A `tool_choice` that calls a tool, with no tools to call.
    #[error("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.")]
    NoTools,
}

/// The decision's inputs besides the tools.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decide<'a> {
    /// What the request allows.
    pub choice: ToolChoice<'a>,
    /// Whether more than one call may be made.
    pub parallel: bool,
    /// The chance of a call under `auto`, in `0..=1`.
    pub auto_call_share: f64,
    /// The request's seed: the mock's seed, the prompt's hash and the request's own `seed`.
    pub seed: u64,
    /// The ids' prefix: `call_` for OpenAI, `toolu_` for Anthropic.
    pub id_prefix: &'a str,
    /// Whether the conversation's last turn is a tool's result: then `auto` answers in text,
    /// as a model does once it has what it asked for (a tool loop would otherwise never end).
    pub after_tool_result: bool,
}

/// The calls the answer makes (empty: answer with text).
pub fn decide(tools: &[ToolDef<'_>], how: &Decide<'_>) -> Result<Vec<ToolCall>, ToolError> {
    let mut rng = ChaCha8Rng::seed_from_u64(how.seed ^ TOOLS_STREAM);
    let chosen: Vec<usize> = match how.choice {
        ToolChoice::None => Vec::new(),
        ToolChoice::Function(name) => {
            if tools.is_empty() {
                return Err(ToolError::NoTools);
            }
            match tools.iter().position(|t| t.name == name) {
                Some(i) => vec![i],
                None => return Err(ToolError::UnknownFunction { name: name.into() }),
            }
        }
        ToolChoice::Required if tools.is_empty() => return Err(ToolError::NoTools),
        ToolChoice::Auto if tools.is_empty() || how.after_tool_result => Vec::new(),
        ToolChoice::Required => pick(tools.len(), how.parallel, &mut rng),
        ToolChoice::Auto => {
            if rng.random_bool(how.auto_call_share.clamp(0.0, 1.0)) {
                pick(tools.len(), how.parallel, &mut rng)
            } else {
                Vec::new()
            }
        }
    };
    Ok(chosen
        .into_iter()
        .map(|i| call(&tools[i], how.id_prefix, rng.random()))
        .collect())
}

/// Which tools are called: one, or (parallel, half the time) two or three distinct ones.
fn pick(n: usize, parallel: bool, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let count = if parallel && n > 1 && rng.random_bool(0.5) {
        rng.random_range(2..=n.min(MAX_PARALLEL_CALLS))
    } else {
        1
    };
    rand::seq::index::sample(rng, n, count).into_vec()
}

/// One call to `tool`, its id and arguments drawn from `seed`.
fn call(tool: &ToolDef<'_>, id_prefix: &str, seed: u64) -> ToolCall {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let id = call_id(id_prefix, &mut rng);
    let arguments = match tool.parameters {
        Some(p) => schema::instance(p, &mut rng),
        None => Value::Object(serde_json::Map::new()),
    };
    ToolCall {
        id,
        name: tool.name.to_string(),
        arguments: serde_json::to_string(&arguments).unwrap_or_else(|_| "{}".into()),
    }
}

fn call_id(prefix: &str, rng: &mut ChaCha8Rng) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut id = String::with_capacity(prefix.len() + ID_CHARS);
    id.push_str(prefix);
    for _ in 0..ID_CHARS {
        id.push(char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]));
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn how(choice: ToolChoice<'_>, seed: u64) -> Decide<'_> {
        Decide {
            choice,
            parallel: true,
            auto_call_share: 0.5,
            seed,
            id_prefix: "call_",
            after_tool_result: false,
        }
    }

    #[test]
    fn auto_answers_in_text_once_a_tool_has_answered() {
        let params = weather();
        let tools = [ToolDef {
            name: "get_weather",
            parameters: Some(&params),
        }];
        let mut after = how(ToolChoice::Auto, 0);
        after.auto_call_share = 1.0;
        after.after_tool_result = true;
        assert!(decide(&tools, &after).unwrap().is_empty());
        after.choice = ToolChoice::Required;
        assert_eq!(
            decide(&tools, &after).unwrap().len(),
            1,
            "required still calls"
        );
    }

    fn weather() -> Value {
        json!({"type": "object", "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
               "required": ["city", "unit"], "additionalProperties": false})
    }

    #[test]
    fn choices_map_to_calls() {
        let params = weather();
        let tools = [
            ToolDef {
                name: "weather",
                parameters: Some(&params),
            },
            ToolDef {
                name: "time",
                parameters: None,
            },
        ];
        assert!(decide(&tools, &how(ToolChoice::None, 1))
            .unwrap()
            .is_empty());
        for seed in 0..50 {
            let calls = decide(&tools, &how(ToolChoice::Required, seed)).unwrap();
            assert!((1..=2).contains(&calls.len()), "{calls:?}");
            let named = decide(&tools, &how(ToolChoice::Function("time"), seed)).unwrap();
            assert_eq!(named.len(), 1);
            assert_eq!(
                (named[0].name.as_str(), named[0].arguments.as_str()),
                ("time", "{}")
            );
            assert!(named[0].id.starts_with("call_") && named[0].id.len() == 5 + ID_CHARS);
        }
        let e = decide(&tools, &how(ToolChoice::Function("nope"), 1)).unwrap_err();
        assert_eq!(
            e,
            ToolError::UnknownFunction {
                name: "nope".into()
            }
        );
        assert_eq!(
            decide(&[], &how(ToolChoice::Required, 1)),
            Err(ToolError::NoTools)
        );
        assert_eq!(decide(&[], &how(ToolChoice::Auto, 1)), Ok(vec![]));
    }

    #[test]
    fn auto_calls_at_the_share_and_the_same_seed_decides_the_same() {
        let tools = [ToolDef {
            name: "t",
            parameters: None,
        }];
        for share in [0.0, 0.2, 0.8, 1.0] {
            let mut h = how(ToolChoice::Auto, 0);
            h.auto_call_share = share;
            let called = (0..2000u64)
                .filter(|s| {
                    h.seed = *s;
                    !decide(&tools, &h).unwrap().is_empty()
                })
                .count();
            let got = called as f64 / 2000.0;
            assert!((got - share).abs() < 0.04, "share {share}: {got}");
        }
        let a = decide(&tools, &how(ToolChoice::Auto, 42));
        assert_eq!(a, decide(&tools, &how(ToolChoice::Auto, 42)));
    }

    #[test]
    fn parallel_calls_are_distinct_and_only_when_allowed() {
        let tools: Vec<_> = ["a", "b", "c", "d"]
            .into_iter()
            .map(|name| ToolDef {
                name,
                parameters: None,
            })
            .collect();
        let mut several = 0;
        for seed in 0..200 {
            let calls = decide(&tools, &how(ToolChoice::Required, seed)).unwrap();
            let mut names: Vec<_> = calls.iter().map(|c| c.name.clone()).collect();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), calls.len());
            assert!(calls.len() <= MAX_PARALLEL_CALLS);
            several += usize::from(calls.len() > 1);
            let mut serial = how(ToolChoice::Required, seed);
            serial.parallel = false;
            assert_eq!(decide(&tools, &serial).unwrap().len(), 1);
        }
        assert!((60..=140).contains(&several), "{several}");
    }
}
