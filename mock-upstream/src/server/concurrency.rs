//! The provider's capacity: a cap on requests in flight that rejects or queues the rest.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::faults::config::{ConcurrencyConfig, OverloadMode};

/// Admits requests up to the configured limit. A config change installs a new semaphore;
/// requests already holding or waiting for the old one finish on it.
#[derive(Debug, Default)]
pub struct Gate {
    current: Mutex<Option<(ConcurrencyConfig, Arc<Semaphore>)>>,
    waiting: AtomicU32,
}

/// Whether a request may be served now; the permit it holds is what keeps its slot busy.
#[derive(Debug)]
pub enum Admission {
    /// Go ahead; hold the permit until the answer is complete.
    Admitted {
        /// Released on drop; `None` when there is no cap.
        permit: Option<OwnedSemaphorePermit>,
        /// Requests still waiting when this one got in.
        queued: u32,
    },
    /// Over capacity: answer 503.
    Overloaded,
}

impl Gate {
    /// Applies a config, at start or on a live change; `None` removes the cap.
    pub fn configure(&self, config: Option<ConcurrencyConfig>) {
        let mut cur = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let same = match (&*cur, &config) {
            (Some((old, _)), Some(new)) => old == new,
            (None, None) => true,
            _ => false,
        };
        if !same {
            *cur = config.map(|c| (c, Arc::new(Semaphore::new(c.limit as usize))));
        }
    }

    /// Waits for (or refuses) a slot.
    pub async fn admit(&self) -> Admission {
        let current = self
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let Some((config, sem)) = current else {
            return Admission::Admitted {
                permit: None,
                queued: 0,
            };
        };
        if let Ok(permit) = sem.clone().try_acquire_owned() {
            return Admission::Admitted {
                permit: Some(permit),
                queued: self.waiting.load(Ordering::Relaxed),
            };
        }
        if config.mode == OverloadMode::Reject {
            return Admission::Overloaded;
        }
        let before = self.waiting.fetch_add(1, Ordering::Relaxed);
        if config.max_queue.is_some_and(|m| before >= m) {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            return Admission::Overloaded;
        }
        let _leave = LeaveQueue(&self.waiting);
        match sem.acquire_owned().await {
            Ok(permit) => Admission::Admitted {
                permit: Some(permit),
                queued: self.waiting.load(Ordering::Relaxed).saturating_sub(1),
            },
            Err(_) => Admission::Overloaded,
        }
    }

    /// Whether abandoned requests keep their slot until their work is done.
    pub fn finishes_abandoned(&self) -> bool {
        self.current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|(c, _)| c.finish_abandoned)
    }

    /// Requests waiting now, for `/_mock/stats`' `in_queue`.
    pub fn waiting(&self) -> u32 {
        self.waiting.load(Ordering::Relaxed)
    }
}

/// Leaves the queue count even when the waiting request is cancelled.
struct LeaveQueue<'a>(&'a AtomicU32);

impl Drop for LeaveQueue<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(mode: OverloadMode) -> Option<ConcurrencyConfig> {
        Some(ConcurrencyConfig {
            limit: 1,
            mode,
            queue_slowdown: 0.0,
            max_queue: Some(1),
            finish_abandoned: false,
        })
    }

    #[tokio::test]
    async fn reject_mode_refuses_beyond_the_limit() {
        let g = Gate::default();
        g.configure(cfg(OverloadMode::Reject));
        let first = g.admit().await;
        assert!(matches!(first, Admission::Admitted { .. }));
        assert!(matches!(g.admit().await, Admission::Overloaded));
        drop(first);
        assert!(matches!(g.admit().await, Admission::Admitted { .. }));
    }

    #[tokio::test(start_paused = true)]
    async fn queue_mode_waits_and_bounds_the_queue() {
        let g = Arc::new(Gate::default());
        g.configure(cfg(OverloadMode::Queue));
        let first = g.admit().await;
        let g2 = g.clone();
        let waiter =
            tokio::spawn(async move { matches!(g2.admit().await, Admission::Admitted { .. }) });
        tokio::task::yield_now().await;
        assert_eq!(g.waiting(), 1);
        // The queue holds one; the next is refused.
        assert!(matches!(g.admit().await, Admission::Overloaded));
        drop(first);
        assert!(waiter.await.unwrap());
        assert_eq!(g.waiting(), 0);
    }
}
