//! Deterministic reply text and the ids of requests and completions.
//!
//! A reply is drawn from the prompt's hash and the seed, so the same prompt gets the same reply
//! in every run; its length follows the fault file's reply distribution.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use gauntlet_wire::tokens::CHARS_PER_TOKEN;

use crate::faults::distribution::Distribution;

/// `prefix` then `hi` as 16 hex digits then `lo` as at least `lo_digits` hex digits: the ids of
/// requests and completions (`req_…`, `chatcmpl-…`), the same text as
/// `format!("{prefix}{hi:016x}{lo:0lo_digits$x}")` without the formatting machinery, which showed
/// in profiles of the simulation (two ids per request).
pub fn hex_id(prefix: &str, hi: u64, lo: u64, lo_digits: usize) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let lo_len = lo_digits
        .max((64 - lo.leading_zeros() as usize).div_ceil(4))
        .max(1);
    let mut out = String::with_capacity(prefix.len() + 16 + lo_len);
    out.push_str(prefix);
    for i in (0..16).rev() {
        out.push(char::from(HEX[((hi >> (i * 4)) & 0xf) as usize]));
    }
    for i in (0..lo_len).rev() {
        let nibble = if i >= 16 { 0 } else { (lo >> (i * 4)) & 0xf };
        out.push(char::from(HEX[nibble as usize]));
    }
    out
}

const WORDS: &[&str] = &[
    "the",
    "request",
    "was",
    "handled",
    "by",
    "a",
    "model",
    "that",
    "answers",
    "with",
    "care",
    "and",
    "some",
    "latency",
    "under",
    "load",
    "limits",
    "apply",
    "to",
    "every",
    "key",
    "so",
    "retry",
    "later",
    "if",
    "needed",
    "this",
    "reply",
    "is",
    "generated",
    "from",
    "your",
    "prompt",
    "seed",
    "tokens",
    "stream",
    "chunks",
    "arrive",
    "in",
    "order",
    "cache",
    "it",
    "when",
    "you",
    "can",
    "because",
    "free",
    "tiers",
    "are",
    "busy",
    "at",
    "peak",
    "hours",
];

/// A generated reply: its text and its completion-token count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The answer; ASCII, exactly `tokens * 4` characters.
    pub text: String,
    /// Completion tokens, as `usage` reports them and TPM limits count them.
    pub tokens: u32,
    /// `stop`, or `length` when `max_tokens` cut it.
    pub finish_reason: &'static str,
}

impl Reply {
    /// The reply split into one piece per token, as a stream sends it.
    pub fn token_pieces(&self) -> impl Iterator<Item = &str> {
        // The text is ASCII, so byte offsets are character offsets.
        (0..self.text.len())
            .step_by(CHARS_PER_TOKEN)
            .map(|i| &self.text[i..(i + CHARS_PER_TOKEN).min(self.text.len())])
    }
}

/// The longest reply generated, in tokens, whatever the length distribution draws: it bounds
/// the text and the stream's chunk list allocated per request.
pub const MAX_REPLY_TOKENS: u32 = 8192;

/// The shape of a reply, decided under the engine's lock: its length and how it ends. The text
/// itself is rendered later ([`ReplyPlan::render`]), outside the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyPlan {
    words_seed: u64,
    /// Completion tokens.
    pub tokens: u32,
    /// `stop`, or `length` when `max_tokens` cut it.
    pub finish_reason: &'static str,
}

/// The reply to a conversation: a function of the seed and the prompt only, so a cache in front
/// of the mock sees the same answer for the same question.
pub fn plan_reply(
    seed: u64,
    prompt_hash: u64,
    length: &Distribution,
    max_tokens: Option<u32>,
) -> ReplyPlan {
    let words_seed = seed ^ prompt_hash.rotate_left(17);
    let mut rng = ChaCha8Rng::seed_from_u64(words_seed);
    let wanted = (length.sample(&mut rng).round() as u32).clamp(1, MAX_REPLY_TOKENS);
    let (tokens, finish_reason) = match max_tokens {
        Some(m) if m < wanted => (m.max(1), "length"),
        _ => (wanted, "stop"),
    };
    ReplyPlan {
        words_seed,
        tokens,
        finish_reason,
    }
}

impl ReplyPlan {
    /// Writes the text: words drawn from a small vocabulary, cut to exactly `tokens * 4`
    /// characters.
    pub fn render(&self) -> Reply {
        let mut rng = ChaCha8Rng::seed_from_u64(self.words_seed.rotate_left(29) ^ 0x5eed);
        let len = self.tokens as usize * CHARS_PER_TOKEN;
        let mut text = String::with_capacity(len + 16);
        while text.len() < len {
            let w = WORDS[rng.random_range(0..WORDS.len())];
            if text.is_empty() {
                let mut c = w.chars();
                if let Some(f) = c.next() {
                    text.push(f.to_ascii_uppercase());
                    text.push_str(c.as_str());
                }
            } else {
                text.push(' ');
                text.push_str(w);
            }
        }
        text.truncate(len);
        if self.finish_reason == "stop" {
            text.pop();
            text.push('.');
        }
        Reply {
            text,
            tokens: self.tokens,
            finish_reason: self.finish_reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generate_reply(
        seed: u64,
        prompt_hash: u64,
        length: &Distribution,
        max_tokens: Option<u32>,
    ) -> Reply {
        plan_reply(seed, prompt_hash, length, max_tokens).render()
    }

    #[test]
    fn hex_ids_read_like_format() {
        for (hi, lo, w) in [
            (0u64, 0u64, 8usize),
            (0xdead_beef, 42, 8),
            (u64::MAX, u64::MAX, 8),
            (7, 1 << 40, 8),
            (1, 2, 16),
            (3, 0, 0),
        ] {
            assert_eq!(hex_id("req_", hi, lo, w), format!("req_{hi:016x}{lo:0w$x}"));
        }
    }

    #[test]
    fn replies_are_deterministic_and_sized() {
        let d = Distribution::Uniform {
            min: 10.0,
            max: 40.0,
        };
        let a = generate_reply(7, 99, &d, None);
        let b = generate_reply(7, 99, &d, None);
        let c = generate_reply(8, 99, &d, None);
        assert_eq!(a, b);
        assert_ne!(a.text, c.text);
        assert_eq!(a.text.len(), a.tokens as usize * 4);
        assert_eq!(a.token_pieces().count(), a.tokens as usize);
        assert!(a.text.ends_with('.'));
        let cut = generate_reply(7, 99, &d, Some(3));
        assert_eq!((cut.tokens, cut.finish_reason), (3, "length"));
    }
}
