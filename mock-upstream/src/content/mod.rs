//! What an answer says beyond plain text, for every API the mock speaks: tool calls
//! ([`tools`]), instances of a JSON Schema for structured outputs ([`schema`]), and the checks
//! a schema passes before the real API accepts it ([`check`]).
//!
//! Nothing here knows a wire shape: chat completions, the Responses API and Anthropic's
//! Messages each map their request onto these types and write the result in their dialect.

pub mod check;
pub mod schema;
pub mod tools;

pub use check::{check, check_strict, SchemaError};
pub use tools::{decide, Decide, ToolCall, ToolChoice, ToolDef, ToolError};

/// `text` in pieces of `chars` characters (the last may be shorter), cut on character
/// boundaries: how a stream sends generated JSON, which, unlike the reply text, may hold
/// non-ASCII characters from the schema's `enum`s and `const`s.
pub fn pieces(text: &str, chars: usize) -> Vec<&str> {
    let chars = chars.max(1);
    let mut out = Vec::with_capacity(text.len() / chars + 1);
    let mut start = 0;
    for (n, (i, _)) in text.char_indices().enumerate() {
        if n > 0 && n % chars == 0 {
            out.push(&text[start..i]);
            start = i;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

#[cfg(test)]
mod tests;
