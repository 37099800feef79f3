//! A request body as the mock reads it: chat completions and the legacy route.
#![no_main]

use gauntlet_wire::openai::{ChatCompletionRequest, LegacyChatRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = serde_json::from_slice::<ChatCompletionRequest>(data) {
        let _ = gauntlet_wire::tokens::prompt_tokens(&req.messages);
        let _ = gauntlet_wire::hash::conversation_hash(&req.messages);
    }
    let _ = serde_json::from_slice::<LegacyChatRequest>(data);
});
