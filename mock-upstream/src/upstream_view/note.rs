//! What a handler learns about a request that the layer round it cannot see — the body's hash,
//! the prompt tokens, the tokens charged — passed back through a task-local slot, so the
//! handlers need one line each. The slot is shared (one small allocation per request) so that
//! the layer still reads it when the client goes away and the handler's future is dropped.

use std::future::Future;
use std::sync::{Arc, Mutex};

use gauntlet_wire::hash::stable_hash;
use tokio::task::futures::TaskLocalFuture;

tokio::task_local! {
    static NOTE: Arc<Slot>;
}

/// Where a handler leaves its [`Note`].
#[derive(Debug, Default)]
pub struct Slot(Mutex<Note>);

impl Slot {
    /// What the handler noted so far.
    pub fn get(&self) -> Note {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A request's facts from inside its handler; zero / `None` when the handler did not get to
/// them (a refused body, an overload).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Note {
    /// FNV-1a of the raw body bytes.
    pub body_hash: Option<u64>,
    /// The prompt tokens the mock counted.
    pub prompt_tokens: u32,
    /// Tokens taken from the key's buckets (prompt + completion), when admitted.
    pub charged_tokens: u64,
}

/// Runs `f` (a route) with `slot` as the place its handler notes into.
pub fn scope<F: Future>(slot: Arc<Slot>, f: F) -> TaskLocalFuture<Arc<Slot>, F> {
    NOTE.scope(slot, f)
}

fn update(change: impl FnOnce(&mut Note)) {
    // Outside a scope (a route called without the observe layer), there is nothing to tell.
    let _ = NOTE.try_with(|s| change(&mut s.0.lock().unwrap_or_else(|p| p.into_inner())));
}

/// Notes the body the handler read.
pub(crate) fn body(bytes: &[u8]) {
    let hash = stable_hash(bytes);
    update(|n| n.body_hash = Some(hash));
}

/// Notes the engine's decision: the prompt tokens, and what was charged when admitted.
pub(crate) fn decided(prompt_tokens: u32, charged_tokens: Option<u64>) {
    update(|n| {
        n.prompt_tokens = prompt_tokens;
        n.charged_tokens = charged_tokens.unwrap_or(0);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_scope_carries_what_its_future_noted() {
        let slot = Arc::new(Slot::default());
        scope(slot.clone(), async {
            body(b"{}");
            decided(12, Some(40));
        })
        .await;
        let n = slot.get();
        assert_eq!(n.body_hash, Some(stable_hash(b"{}")));
        assert_eq!((n.prompt_tokens, n.charged_tokens), (12, 40));
        // Outside any scope, noting is a no-op, not a panic.
        body(b"x");
    }
}
