//! Deterministic reply text and the one token approximation used everywhere.
//!
//! Token-per-minute limits only make sense if the mock, the client's limiter and the reports
//! count tokens the same way, so there is exactly one rule here: a token is four characters of
//! text (rounded up), and each message costs four tokens of framing, plus three for the reply's
//! priming, close to what OpenAI's tokenizer gives for English.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::faults::distribution::Distribution;
use crate::wire::ChatMessage;

/// Characters per token in the approximation.
pub const CHARS_PER_TOKEN: usize = 4;

/// Tokens of framing each message costs.
pub const TOKENS_PER_MESSAGE: u32 = 4;

/// Tokens of priming every request costs.
pub const TOKENS_PER_REQUEST: u32 = 3;

/// Approximate token count of a text: characters / 4, rounded up.
pub fn approx_tokens(text: &str) -> u32 {
    let chars = text.chars().count();
    chars.div_ceil(CHARS_PER_TOKEN) as u32
}

/// Prompt tokens of a conversation, the figure `usage.prompt_tokens` reports.
pub fn prompt_tokens(messages: &[ChatMessage]) -> u32 {
    TOKENS_PER_REQUEST
        + messages
            .iter()
            .map(|m| TOKENS_PER_MESSAGE + approx_tokens(&m.text_ref()))
            .sum::<u32>()
}

/// Prompt tokens of a legacy `/v1/chat` prompt (one user message).
pub fn legacy_prompt_tokens(prompt: &str) -> u32 {
    TOKENS_PER_REQUEST + TOKENS_PER_MESSAGE + approx_tokens(prompt)
}

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

/// A stable 64-bit FNV-1a hash: the same in every process and every run, unlike `std`'s hasher,
/// so the same prompt gets the same reply tomorrow.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Hash of a conversation's roles and texts.
pub fn conversation_hash(messages: &[ChatMessage]) -> u64 {
    let mut h = 0u64;
    for m in messages {
        h = h.rotate_left(5) ^ stable_hash(m.role.as_bytes());
        h = h.rotate_left(5) ^ stable_hash(m.text_ref().as_bytes());
    }
    h
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
    /// Completion tokens.
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
    let wanted = (length.sample(&mut rng).round() as u32).clamp(1, 8192);
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

/// Plans and renders in one go.
pub fn generate_reply(
    seed: u64,
    prompt_hash: u64,
    length: &Distribution,
    max_tokens: Option<u32>,
) -> Reply {
    plan_reply(seed, prompt_hash, length, max_tokens).render()
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn token_approximation_is_chars_over_four() {
        assert_eq!(approx_tokens(""), 0);
        assert_eq!(approx_tokens("abcd"), 1);
        assert_eq!(approx_tokens("abcde"), 2);
        let msgs = vec![ChatMessage::new("user", "hello world!")];
        assert_eq!(prompt_tokens(&msgs), 3 + 4 + 3);
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

    #[test]
    fn stable_hash_is_fnv1a() {
        assert_eq!(stable_hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
