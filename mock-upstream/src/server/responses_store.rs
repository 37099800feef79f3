//! What `previous_response_id` continues: for each stored response, a digest of its
//! conversation (earlier turns, its input, its output) — the tokens that conversation adds to a
//! continuation's input and the hash that, with the new input, fixes the continuation's answer.
//!
//! A digest rather than the texts: the mock needs only the token count and the hash, and both
//! fold turn by turn, so a continuation gets exactly the figures the whole conversation would
//! give while an entry stays a few dozen bytes whatever the texts' size. The store is bounded:
//! past [`MAX_STORED`] responses the oldest is evicted, as a provider's retention would.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use gauntlet_wire::hash::stable_hash;
use gauntlet_wire::openai::responses::ResponseInput;
use gauntlet_wire::tokens::{approx_tokens, TOKENS_PER_MESSAGE};

/// Responses kept for `previous_response_id`; the oldest goes first.
pub(crate) const MAX_STORED: usize = 10_000;

/// The conversation a response ends: what a continuation of it counts and hashes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Conversation {
    /// Tokens of every turn so far (framing and text), without a request's priming and without
    /// instructions, which the API does not carry over.
    pub(crate) tokens: u32,
    /// The turns' hash, folded as [`gauntlet_wire::hash::conversation_hash`] folds messages.
    pub(crate) hash: u64,
}

impl Conversation {
    /// This conversation with one more turn.
    pub(crate) fn with_turn(self, role: &str, text: &str) -> Self {
        Self {
            tokens: self
                .tokens
                .saturating_add(TOKENS_PER_MESSAGE)
                .saturating_add(approx_tokens(text)),
            hash: fold(self.hash, role, text),
        }
    }

    /// This conversation with the request's input items appended.
    pub(crate) fn with_input(self, input: &ResponseInput) -> Self {
        input
            .turns()
            .iter()
            .fold(self, |c, (role, text)| c.with_turn(role, text))
    }
}

/// One turn folded into a conversation hash: the same step as
/// [`gauntlet_wire::hash::conversation_hash`], so a conversation without earlier turns hashes
/// as the same chat conversation does.
pub(crate) fn fold(h: u64, role: &str, text: &str) -> u64 {
    let h = h.rotate_left(5) ^ stable_hash(role.as_bytes());
    h.rotate_left(5) ^ stable_hash(text.as_bytes())
}

/// The stored responses' conversations by id, bounded to `capacity` entries.
#[derive(Debug)]
pub(crate) struct ResponseStore {
    inner: Mutex<Entries>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Entries {
    by_id: HashMap<Arc<str>, Conversation>,
    /// Ids in insertion order, for eviction.
    order: VecDeque<Arc<str>>,
}

impl Default for ResponseStore {
    fn default() -> Self {
        Self::with_capacity(MAX_STORED)
    }
}

impl ResponseStore {
    /// A store that keeps at most `capacity` responses (at least one).
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Entries::default()),
            capacity: capacity.max(1),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps `conversation` under `id`, evicting the oldest entry when full. An id stored again
    /// (after `/_mock/reset` restarts the ids) takes the new conversation.
    pub(crate) fn insert(&self, id: &str, conversation: Conversation) {
        let mut e = self.entries();
        if let Some(c) = e.by_id.get_mut(id) {
            *c = conversation;
            return;
        }
        while e.by_id.len() >= self.capacity {
            let Some(oldest) = e.order.pop_front() else {
                break;
            };
            e.by_id.remove(&oldest);
        }
        let id: Arc<str> = Arc::from(id);
        e.order.push_back(id.clone());
        e.by_id.insert(id, conversation);
    }

    /// The conversation a stored response ends, if it is (still) stored.
    pub(crate) fn get(&self, id: &str) -> Option<Conversation> {
        self.entries().by_id.get(id).copied()
    }

    /// Forgets every response, for `/_mock/reset`.
    pub(crate) fn clear(&self) {
        let mut e = self.entries();
        e.by_id.clear();
        e.order.clear();
    }

    /// How many responses are stored.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries().by_id.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gauntlet_wire::hash::conversation_hash;
    use gauntlet_wire::openai::ChatMessage;

    #[test]
    fn a_fresh_conversation_hashes_as_chat_does() {
        let c = Conversation::default()
            .with_turn("system", "be brief")
            .with_turn("user", "hello");
        let chat = [
            ChatMessage::new("system", "be brief"),
            ChatMessage::new("user", "hello"),
        ];
        assert_eq!(c.hash, conversation_hash(&chat));
        assert_eq!(c.tokens, 4 + 2 + 4 + 2);
    }

    #[test]
    fn the_oldest_is_evicted_and_reinsertion_replaces() {
        let s = ResponseStore::with_capacity(2);
        let c = |t| Conversation { tokens: t, hash: 0 };
        s.insert("a", c(1));
        s.insert("b", c(2));
        s.insert("a", c(3));
        assert_eq!(s.len(), 2);
        assert_eq!(s.get("a"), Some(c(3)));
        s.insert("c", c(4));
        assert_eq!(s.get("a"), None, "a was the oldest");
        assert_eq!(s.get("b"), Some(c(2)));
        assert_eq!(s.get("c"), Some(c(4)));
        s.clear();
        assert_eq!(s.len(), 0);
        assert_eq!(s.get("b"), None);
    }

    #[test]
    fn token_counts_saturate() {
        let c = Conversation {
            tokens: u32::MAX - 1,
            hash: 0,
        }
        .with_turn("user", "some text");
        assert_eq!(c.tokens, u32::MAX);
    }
}
