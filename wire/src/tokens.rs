//! The one token approximation used everywhere.
//!
//! Token-per-minute limits only make sense if the mock, the client's limiter and the reports
//! count tokens the same way, so there is exactly one rule here: a token is four characters of
//! text (rounded up), and each message costs four tokens of framing, plus three for the reply's
//! priming, close to what OpenAI's tokenizer gives for English.

use crate::openai::ChatMessage;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_approximation_is_chars_over_four() {
        assert_eq!(approx_tokens(""), 0);
        assert_eq!(approx_tokens("abcd"), 1);
        assert_eq!(approx_tokens("abcde"), 2);
        let msgs = vec![ChatMessage::new("user", "hello world!")];
        assert_eq!(prompt_tokens(&msgs), 3 + 4 + 3);
    }
}
