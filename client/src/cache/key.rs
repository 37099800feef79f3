//! The cache key: a stable hash of what changes an answer (model, normalised messages,
//! `max_tokens`, `temperature`, and the route, tools and response format where they are set,
//! and a proxied caller's whole body but `stream` and `user`), the same in every process and
//! every run.

use super::normalize::Folds;
#[cfg(doc)]
use crate::passthrough::Passthrough;
use crate::request::{ChatRequest, Route};

/// What two requests that ask the same question share: a hash of the model, the messages (roles
/// lower-cased, whitespace runs folded), `max_tokens` and the temperature to the thousandth.
pub type CacheKey = u64;

/// FNV-1a fed piece by piece (the same function as `gauntlet_wire::hash::stable_hash`), so
/// the key is computed without building a buffer.
struct Fnv(u64);

impl Fnv {
    fn bytes(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    /// A field: its length, then its bytes, so field boundaries are unambiguous.
    fn field(&mut self, len: usize, feed: impl FnOnce(&mut Self)) {
        self.bytes(&(len as u32).to_le_bytes());
        feed(self);
    }
}

/// JSON written straight into the hash, so a tool's schema is keyed without a buffer.
impl std::io::Write for Fnv {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Tags of the fields fed only when set, so that a plain chat request keeps the key it has
/// always had (shared caches stay warm across the upgrade) and no two of them read alike.
const ROUTE_TAG: u8 = 1;
const TOOLS_TAG: u8 = 2;
const TOOL_CHOICE_TAG: u8 = 3;
const FORMAT_TAG: u8 = 4;
const PASSTHROUGH_TAG: u8 = 5;

/// Feeds what a request asks beyond the text: its route (unless chat), its tools, tool choice
/// and response format (when set), and a proxied caller's body ([`Passthrough::key`]). JSON is self-delimiting, so each value needs no length.
fn asks(h: &mut Fnv, req: &ChatRequest) {
    if req.route != Route::Chat {
        h.bytes(&[ROUTE_TAG, req.route.index() as u8]);
    }
    if !req.tools.is_empty() {
        h.bytes(&[TOOLS_TAG]);
        h.bytes(&(req.tools.len() as u32).to_le_bytes());
        // Writing into the hash cannot fail, and a `Value` always serialises.
        let _ = serde_json::to_writer(&mut *h, &req.tools);
    }
    if let Some(choice) = &req.tool_choice {
        h.bytes(&[TOOL_CHOICE_TAG]);
        let _ = serde_json::to_writer(&mut *h, choice);
    }
    if let Some(format) = &req.response_format {
        h.bytes(&[FORMAT_TAG]);
        let _ = serde_json::to_writer(&mut *h, format);
    }
    // A proxied caller's body: every field the stack does not model counts too.
    if let Some(p) = &req.passthrough {
        h.bytes(&[PASSTHROUGH_TAG]);
        h.bytes(&p.key().to_le_bytes());
    }
}

/// Length of `text` with whitespace runs folded to one space and the ends trimmed:
/// `"Hi  there "` and `"Hi there"` ask the same question.
fn normalised_len(text: &str) -> usize {
    let mut len = 0;
    for (i, word) in text.split_whitespace().enumerate() {
        len += word.len() + usize::from(i > 0);
    }
    len
}

/// The [`CacheKey`] of `req`, computed without allocating; the same in every run and process, so
/// nodes sharing an L2 store agree on it.
pub fn cache_key(req: &ChatRequest) -> CacheKey {
    cache_key_with(req, Folds::NONE)
}

/// The [`CacheKey`] of `req` with `folds` applied to each message's text first (`[client.cache]
/// normalize`); with no folds it is [`cache_key`] and allocates nothing.
pub fn cache_key_with(req: &ChatRequest, folds: Folds) -> CacheKey {
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    let model = req.model.trim().as_bytes();
    h.field(model.len(), |h| h.bytes(model));
    for m in &req.messages {
        let role = m.role.trim().as_bytes();
        h.field(role.len(), |h| {
            for b in role {
                h.bytes(&[b.to_ascii_lowercase()]);
            }
        });
        let mut text = m.text_ref();
        if !folds.is_empty() {
            text = std::borrow::Cow::Owned(folds.apply(&text));
        }
        h.field(normalised_len(&text), |h| {
            for (i, word) in text.split_whitespace().enumerate() {
                if i > 0 {
                    h.bytes(b" ");
                }
                h.bytes(word.as_bytes());
            }
        });
    }
    h.field(4, |h| h.bytes(&req.max_tokens.unwrap_or(0).to_le_bytes()));
    // Temperatures are compared to the thousandth, so 0.7 and 0.70000001 share a key.
    let t = req.temperature.map_or(-1, |t| (t * 1000.0).round() as i64);
    h.field(8, |h| h.bytes(&t.to_le_bytes()));
    asks(&mut h, req);
    h.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_stable_and_normalised() {
        let a = ChatRequest::user_text("gpt", "Hello   world ");
        let b = ChatRequest::user_text("gpt", "Hello world");
        assert_eq!(cache_key(&a), cache_key(&b));
        let c = ChatRequest::user_text("gpt", "hello world");
        assert_ne!(cache_key(&a), cache_key(&c));
        let mut d = ChatRequest::user_text("gpt", "Hello world");
        d.temperature = Some(0.7);
        assert_ne!(cache_key(&b), cache_key(&d));
        // Fixed across processes and releases: a change here invalidates shared caches.
        assert_eq!(
            cache_key(&b),
            0x19e0_ca2d_ae49_7575_u64,
            "{:#x}",
            cache_key(&b)
        );
    }

    #[test]
    fn normalising_folds_case_and_punctuation_only_when_asked() {
        let a = ChatRequest::user_text("gpt", "How do I reset my password?");
        let b = ChatRequest::user_text("gpt", "  how do i RESET my password ");
        assert_ne!(cache_key(&a), cache_key(&b));
        let all = Folds::all();
        assert_eq!(cache_key_with(&a, all), cache_key_with(&b, all));
        // Case alone does not forgive the question mark.
        let case = Folds::from_list(&[super::super::normalize::Fold::Case]);
        assert_ne!(cache_key_with(&a, case), cache_key_with(&b, case));
        let c = ChatRequest::user_text("gpt", "how do i reset my password");
        assert_eq!(cache_key_with(&b, case), cache_key_with(&c, case));
        // Other words, another model or another temperature still make another key.
        let other = ChatRequest::user_text("gpt", "How do I reset my username?");
        assert_ne!(cache_key_with(&a, all), cache_key_with(&other, all));
        let model = ChatRequest::user_text("gpt-mini", "How do I reset my password?");
        assert_ne!(cache_key_with(&a, all), cache_key_with(&model, all));
        let warm = ChatRequest {
            temperature: Some(0.9),
            ..b.clone()
        };
        assert_ne!(cache_key_with(&a, all), cache_key_with(&warm, all));
        // The roles still count: a system message is not a user message.
        let mut sys = a.clone();
        sys.messages[0].role = "system".into();
        assert_ne!(cache_key_with(&a, all), cache_key_with(&sys, all));
    }

    fn tool(
        name: &str,
        schema: serde_json::Value,
    ) -> gauntlet_wire::openai::responses::FunctionTool {
        gauntlet_wire::openai::responses::FunctionTool {
            name: name.into(),
            description: None,
            parameters: Some(schema),
            strict: Some(true),
        }
    }

    #[test]
    fn the_route_tools_and_format_are_part_of_the_key() {
        use gauntlet_wire::openai::responses::{JsonSchemaFormat, ToolChoiceMode};
        let plain = ChatRequest::user_text("gpt", "Hello world");
        let mut keys = vec![cache_key(&plain)];
        for route in Route::ALL.into_iter().skip(1) {
            keys.push(cache_key(&ChatRequest {
                route,
                ..plain.clone()
            }));
        }
        let schema =
            serde_json::json!({"type": "object", "properties": {"city": {"type": "string"}}});
        let with_tool = |t| ChatRequest {
            tools: vec![t],
            tool_choice: Some(ToolChoiceMode::Required),
            ..plain.clone()
        };
        keys.push(cache_key(&with_tool(tool("weather", schema.clone()))));
        // Differing only in the tool's name, or only in its schema: other keys.
        keys.push(cache_key(&with_tool(tool("forecast", schema.clone()))));
        keys.push(cache_key(&with_tool(tool(
            "weather",
            serde_json::json!({"type": "object"}),
        ))));
        keys.push(cache_key(&ChatRequest {
            tool_choice: Some(ToolChoiceMode::Auto),
            ..with_tool(tool("weather", schema.clone()))
        }));
        keys.push(cache_key(&ChatRequest {
            response_format: Some(JsonSchemaFormat {
                name: "answer".into(),
                schema: schema.clone(),
                description: None,
                strict: Some(true),
            }),
            ..plain.clone()
        }));
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len(), "{keys:x?}");
        // The same tools give the same key, in every process.
        assert_eq!(
            cache_key(&with_tool(tool("weather", schema.clone()))),
            cache_key(&with_tool(tool("weather", schema)))
        );
    }
}
