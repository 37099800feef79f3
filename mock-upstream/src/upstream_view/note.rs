//! What a handler learns about a request that the layer round it cannot see — the body's hash,
//! the prompt tokens, the tokens charged — passed back through a task-local slot, so the
//! handlers need one line each and nothing is allocated per request.

use std::cell::Cell;
use std::future::Future;

use gauntlet_wire::hash::stable_hash;
use tokio::task::futures::TaskLocalFuture;

tokio::task_local! {
    static NOTE: Cell<Note>;
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

/// Runs `f` (a route) with an empty note; read it back with `TaskLocalFuture::take_value`.
pub fn scope<F: Future>(f: F) -> TaskLocalFuture<Cell<Note>, F> {
    NOTE.scope(Cell::new(Note::default()), f)
}

fn update(change: impl FnOnce(&mut Note)) {
    // Outside a scope (a route called without the observe layer), there is nothing to tell.
    let _ = NOTE.try_with(|c| {
        let mut n = c.get();
        change(&mut n);
        c.set(n);
    });
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
        let mut fut = std::pin::pin!(scope(async {
            body(b"{}");
            decided(12, Some(40));
        }));
        (&mut fut).await;
        let n = fut.as_mut().take_value().unwrap().get();
        assert_eq!(n.body_hash, Some(stable_hash(b"{}")));
        assert_eq!((n.prompt_tokens, n.charged_tokens), (12, 40));
        // Outside any scope, noting is a no-op, not a panic.
        body(b"x");
    }
}
