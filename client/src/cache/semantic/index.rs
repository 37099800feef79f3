//! The semantic cache's entries: a bounded, insertion-ordered list scanned linearly. A lookup
//! costs one dot product per live entry of the same scope, at most `max_entries` of them; the
//! oldest entry goes first when the list is full, and expired entries are dropped from the front
//! (entries are appended in time order, so the expired ones are always at the front).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::embed::cosine;
use crate::cache::CacheKey;
use crate::request::ChatResponse;

/// One cached answer and the embedding of the prompt that got it.
#[derive(Debug)]
struct Entry {
    /// What must match exactly besides the prompt (model, system prompt and history, tools, ...).
    scope: CacheKey,
    vector: Vec<f32>,
    response: ChatResponse,
    stored_at: Instant,
}

/// The entries, behind one lock held only for a scan or a push.
#[derive(Debug)]
pub struct SemanticIndex {
    entries: Mutex<VecDeque<Entry>>,
    max_entries: usize,
    ttl: Duration,
}

/// A hit: the cached answer and how close its prompt was.
#[derive(Debug, Clone)]
pub struct Match {
    /// The stored answer.
    pub response: ChatResponse,
    /// Cosine similarity of the two prompts' embeddings.
    pub similarity: f32,
}

impl SemanticIndex {
    /// An empty index of at most `max_entries` answers, each fresh for `ttl`.
    pub fn new(max_entries: usize, ttl: Duration) -> Self {
        Self {
            entries: Mutex::new(VecDeque::new()),
            max_entries: max_entries.max(1),
            ttl,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The closest fresh entry of `scope` whose cosine with `vector` is at least `threshold`.
    pub fn find(
        &self,
        scope: CacheKey,
        vector: &[f32],
        threshold: f32,
        now: Instant,
    ) -> Option<Match> {
        let mut entries = self.lock();
        self.expire(&mut entries, now);
        entries
            .iter()
            .filter(|e| e.scope == scope)
            .map(|e| (e, cosine(&e.vector, vector)))
            .filter(|(_, s)| *s >= threshold)
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(e, similarity)| Match {
                response: e.response.clone(),
                similarity,
            })
    }

    /// Stores an answer, evicting the oldest entry when full.
    pub fn insert(&self, scope: CacheKey, vector: Vec<f32>, response: ChatResponse, now: Instant) {
        let mut entries = self.lock();
        self.expire(&mut entries, now);
        while entries.len() >= self.max_entries {
            entries.pop_front();
        }
        entries.push_back(Entry {
            scope,
            vector,
            response,
            stored_at: now,
        });
    }

    /// Entries held (expired ones not yet dropped included).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether [`len`](Self::len) is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn expire(&self, entries: &mut VecDeque<Entry>, now: Instant) {
        while entries
            .front()
            .is_some_and(|e| now.saturating_duration_since(e.stored_at) >= self.ttl)
        {
            entries.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Outcome;

    fn answer(t: &str) -> ChatResponse {
        ChatResponse::local(t, Outcome::Upstream)
    }

    #[tokio::test(start_paused = true)]
    async fn finds_the_closest_in_scope_until_the_ttl() {
        let idx = SemanticIndex::new(10, Duration::from_secs(60));
        let now = Instant::now();
        idx.insert(1, vec![1.0, 0.0], answer("x"), now);
        idx.insert(1, vec![0.6, 0.8], answer("y"), now);
        idx.insert(2, vec![0.0, 1.0], answer("other scope"), now);
        let hit = idx.find(1, &[0.0, 1.0], 0.7, now).unwrap();
        assert_eq!(hit.response.text, "y");
        assert!((hit.similarity - 0.8).abs() < 1e-6);
        assert!(idx.find(1, &[0.0, 1.0], 0.9, now).is_none());
        assert!(idx.find(3, &[1.0, 0.0], 0.1, now).is_none());
        tokio::time::advance(Duration::from_secs(59)).await;
        assert!(idx.find(1, &[1.0, 0.0], 0.99, Instant::now()).is_some());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(idx.find(1, &[1.0, 0.0], 0.99, Instant::now()).is_none());
        assert!(idx.is_empty(), "expired entries are dropped");
    }

    #[tokio::test(start_paused = true)]
    async fn evicts_the_oldest_when_full() {
        let idx = SemanticIndex::new(2, Duration::from_secs(60));
        let now = Instant::now();
        idx.insert(1, vec![1.0, 0.0], answer("first"), now);
        idx.insert(1, vec![0.0, 1.0], answer("second"), now);
        idx.insert(1, vec![-1.0, 0.0], answer("third"), now);
        assert_eq!(idx.len(), 2);
        assert!(idx.find(1, &[1.0, 0.0], 0.5, now).is_none());
        assert_eq!(
            idx.find(1, &[0.0, 1.0], 0.5, now).unwrap().response.text,
            "second"
        );
    }
}
