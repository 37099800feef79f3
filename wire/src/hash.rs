//! Hashes that are the same in every process, run and machine.
//!
//! Replies, cache keys and limiter keys are derived from them, so the same prompt gets the same
//! reply tomorrow and every node of a fleet computes the same key.

use crate::openai::ChatMessage;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_hash_is_fnv1a() {
        assert_eq!(stable_hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
