//! One limiter lane (global, or one per API key): a pacer and a bounded queue ordered by
//! priority class, then by fair-share virtual time, then by arrival.
//!
//! Fair share is start-time fair queueing with equal weights: each end user's next request gets
//! the tag `max(virtual clock, that user's last tag) + 1`, so a heavy user's backlog queues behind
//! a light user's single request instead of in front of it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::pacer::Pacer;
use crate::observer::{Event, SharedObserver};

/// Queue order: (priority class, virtual time, arrival).
pub type QueueKey = (u8, u64, u64);

/// Queue settings of a lane.
#[derive(Debug, Clone, Copy)]
pub struct LaneSettings {
    /// Longest a request may wait.
    pub max_wait: Duration,
    /// Most requests waiting.
    pub queue_size: usize,
    /// Order by fair-share tags.
    pub fair_share: bool,
    /// Order by priority class.
    pub priorities: bool,
}

/// A lane's state.
#[derive(Debug)]
pub struct Lane {
    pub(super) pacer: Box<dyn Pacer>,
    settings: LaneSettings,
    queue: BTreeMap<QueueKey, oneshot::Sender<()>>,
    user_tags: HashMap<String, u64>,
    virtual_clock: u64,
    seq: u64,
    dispatching: bool,
    observer: SharedObserver,
}

/// A request's place: admitted now, waiting, or refused.
#[derive(Debug)]
pub enum Ticket {
    /// Go now.
    Now,
    /// Wait for the dispatcher's signal; remove `key` if giving up.
    Wait(QueueKey, oneshot::Receiver<()>),
    /// Queue full, or the wait would exceed `max_wait`.
    Full,
}

impl Lane {
    /// A lane around `pacer`.
    pub fn new(pacer: Box<dyn Pacer>, settings: LaneSettings, observer: SharedObserver) -> Self {
        Self {
            pacer,
            settings,
            queue: BTreeMap::new(),
            user_tags: HashMap::new(),
            virtual_clock: 0,
            seq: 0,
            dispatching: false,
            observer,
        }
    }

    /// Admits, enqueues or refuses a request; `class` 0 goes first. Returns whether a dispatcher
    /// must be started.
    pub fn enter(&mut self, now: Instant, class: u8, user: Option<&str>) -> (Ticket, bool) {
        if self.queue.is_empty() && self.pacer.try_take(now).is_ok() {
            return (Ticket::Now, false);
        }
        let estimate = self.pacer.interval().mul_f64(self.queue.len() as f64 + 1.0);
        if self.queue.len() >= self.settings.queue_size || estimate > self.settings.max_wait {
            return (Ticket::Full, false);
        }
        let class = if self.settings.priorities { class } else { 0 };
        let tag = if self.settings.fair_share {
            let last = user
                .and_then(|u| self.user_tags.get(u).copied())
                .unwrap_or(0);
            let tag = last.max(self.virtual_clock) + 1;
            if let Some(u) = user {
                self.user_tags.insert(u.to_string(), tag);
            }
            tag
        } else {
            0
        };
        self.seq += 1;
        let key = (class, tag, self.seq);
        let (tx, rx) = oneshot::channel();
        self.queue.insert(key, tx);
        self.observer.on_event(&Event::QueueDepth {
            depth: self.queue.len(),
        });
        let start = !self.dispatching;
        self.dispatching = true;
        (Ticket::Wait(key, rx), start)
    }

    /// A waiter gave up.
    pub fn leave(&mut self, key: &QueueKey) {
        self.queue.remove(key);
    }

    /// Requests waiting.
    pub fn depth(&self) -> usize {
        self.queue.len()
    }
}

/// Hands permits to waiters in queue order, one at a time, sleeping on the tokio clock between
/// them; runs while the queue is not empty.
pub async fn dispatch(lane: Arc<Mutex<Lane>>) {
    loop {
        let wait = {
            let mut l = lane.lock().unwrap_or_else(|p| p.into_inner());
            // Drop waiters that gave up, so no permit is spent on them.
            while let Some(entry) = l.queue.first_entry() {
                if entry.get().is_closed() {
                    entry.remove();
                } else {
                    break;
                }
            }
            if l.queue.is_empty() {
                l.dispatching = false;
                return;
            }
            match l.pacer.try_take(Instant::now()) {
                Ok(()) => {
                    if let Some(((_, tag, _), tx)) = l.queue.pop_first() {
                        l.virtual_clock = l.virtual_clock.max(tag);
                        let _ = tx.send(());
                    }
                    let depth = l.queue.len();
                    l.observer.on_event(&Event::QueueDepth { depth });
                    None
                }
                Err(wait) => Some(wait),
            }
        };
        if let Some(wait) = wait {
            tokio::time::sleep(wait).await;
        }
    }
}
