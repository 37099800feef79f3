//! The cache key: a stable hash of what changes an answer (model, normalised messages,
//! `max_tokens`, `temperature`), the same in every process and every run.

use crate::request::ChatRequest;

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
        let text = m.text_ref();
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
}
