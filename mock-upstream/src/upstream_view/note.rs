//! What a handler learns about a request that the layer round it cannot see — the body's hash,
//! the prompt tokens, the tokens charged — passed back through a task-local slot, so the
//! handlers need one line each. The slot is shared (one small allocation per request) so that
//! the layer still reads it when the client goes away and the handler's future is dropped.

use std::future::Future;
use std::sync::{Arc, Mutex};

use gauntlet_wire::hash::stable_hash;
use tokio::task::futures::TaskLocalFuture;
use tokio::time::Instant;

use super::{Classified, UpstreamView};

tokio::task_local! {
    static NOTE: Arc<Slot>;
}

/// Where a handler leaves its [`Note`]; with a [`Judge`], the attempt is also classified the
/// moment its body is known.
#[derive(Debug, Default)]
pub struct Slot {
    noted: Mutex<(Note, Option<Classified>)>,
    judge: Option<Judge>,
}

/// What classifying an attempt on arrival needs.
#[derive(Debug)]
pub struct Judge {
    /// The view that remembers the key's answers.
    pub view: Arc<UpstreamView>,
    /// [`super::key_hash`] of the attempt's key.
    pub key: u64,
    /// When it arrived.
    pub at: Instant,
    /// Its `x-stainless-retry-count`.
    pub retry_count: Option<u32>,
}

impl Slot {
    /// A slot that classifies its attempt through `judge`.
    pub fn judged(judge: Judge) -> Self {
        Self {
            noted: Mutex::default(),
            judge: Some(judge),
        }
    }

    fn noted(&self) -> std::sync::MutexGuard<'_, (Note, Option<Classified>)> {
        self.noted.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What the handler noted so far.
    pub fn get(&self) -> Note {
        self.noted().0
    }

    /// The attempt's classification on arrival, if its body was read.
    pub fn classified(&self) -> Option<Classified> {
        self.noted().1
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
    let _ = NOTE.try_with(|s| change(&mut s.noted().0));
}

/// Notes the body the handler read, and classifies the attempt against its key's answers.
pub(crate) fn body(bytes: &[u8]) {
    noted_body(stable_hash(bytes));
}

/// [`body`] with the hash given, for tests that script bodies by their hash.
#[cfg(test)]
pub(crate) fn body_hash_for_test(hash: u64) {
    noted_body(hash);
}

fn noted_body(hash: u64) {
    let _ = NOTE.try_with(|s| {
        let mut noted = s.noted();
        noted.0.body_hash = Some(hash);
        if let (Some(j), None) = (&s.judge, noted.1) {
            let c = j
                .view
                .state()
                .classify(j.key, j.at, j.retry_count, Some(hash));
            noted.1 = Some(c);
        }
    });
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
