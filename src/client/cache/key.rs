//! The cache key: a stable hash of what changes an answer (model, normalised messages,
//! `max_tokens`, `temperature`), the same in every process and every run.

use mock_upstream::text::stable_hash;

use crate::client::request::ChatRequest;

/// A 64-bit cache key.
pub type CacheKey = u64;

/// Whitespace runs become one space and the ends are trimmed: `"Hi  there "` and `"Hi there"`
/// ask the same question.
fn normalise(text: &str, out: &mut Vec<u8>) {
    let mut first = true;
    for word in text.split_whitespace() {
        if !first {
            out.push(b' ');
        }
        out.extend_from_slice(word.as_bytes());
        first = false;
    }
}

/// The key of a request; a length-prefixed encoding keeps field boundaries unambiguous.
pub fn cache_key(req: &ChatRequest) -> CacheKey {
    let mut buf = Vec::with_capacity(128);
    let field = |bytes: &[u8], buf: &mut Vec<u8>| {
        buf.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        buf.extend_from_slice(bytes);
    };
    field(req.model.trim().as_bytes(), &mut buf);
    for m in &req.messages {
        field(m.role.trim().to_ascii_lowercase().as_bytes(), &mut buf);
        let mut text = Vec::new();
        normalise(&m.text_ref(), &mut text);
        field(&text, &mut buf);
    }
    field(&req.max_tokens.unwrap_or(0).to_le_bytes(), &mut buf);
    // Temperatures are compared to the thousandth, so 0.7 and 0.70000001 share a key.
    let t = req.temperature.map_or(-1, |t| (t * 1000.0).round() as i64);
    field(&t.to_le_bytes(), &mut buf);
    stable_hash(&buf)
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
}
