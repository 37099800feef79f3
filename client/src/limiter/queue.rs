//! One limiter queue (the only one with `scope = "global"`, one per API key with `per_key`): a
//! pacer and the bounded set of requests waiting for its permits, ordered by priority class, then
//! by fair-share virtual time, then by arrival.
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

/// Where a waiter stands: (priority class, virtual time, arrival), compared in that order, so
/// the smallest place gets the next permit; also what a waiter that gives up is removed by.
pub(super) type Place = (u8, u64, u64);

/// The part of `LimiterConfig` a queue needs, copied so each queue is built without the config.
#[derive(Debug, Clone, Copy)]
pub(super) struct QueueSettings {
    /// Longest a request may wait.
    pub(super) max_wait: Duration,
    /// Most requests waiting.
    pub(super) queue_size: usize,
    /// Order by fair-share tags.
    pub(super) fair_share: bool,
    /// Order by priority class.
    pub(super) priorities: bool,
}

/// One pacer and its waiters; shared behind a mutex by the callers and the dispatcher task.
#[derive(Debug)]
pub(super) struct Queue {
    pub(super) pacer: Box<dyn Pacer>,
    settings: QueueSettings,
    waiting: BTreeMap<Place, oneshot::Sender<()>>,
    user_tags: HashMap<String, u64>,
    virtual_clock: u64,
    seq: u64,
    dispatching: bool,
    observer: SharedObserver,
}

/// What [`Queue::enter`] decided for a request: go now, wait at a place, or be refused.
#[derive(Debug)]
pub(super) enum Ticket {
    /// Go now.
    Now,
    /// Wait for the dispatcher's signal; [`Queue::leave`] this place if giving up.
    Wait(Place, oneshot::Receiver<()>),
    /// Queue full, or the wait would exceed `max_wait`.
    Full,
}

impl Queue {
    /// An empty queue; its pacer starts full, so the first `burst` requests go at once.
    pub(super) fn new(
        pacer: Box<dyn Pacer>,
        settings: QueueSettings,
        observer: SharedObserver,
    ) -> Self {
        Self {
            pacer,
            settings,
            waiting: BTreeMap::new(),
            user_tags: HashMap::new(),
            virtual_clock: 0,
            seq: 0,
            dispatching: false,
            observer,
        }
    }

    /// Admits, enqueues or refuses a request; `class` 0 goes first. Returns whether a dispatcher
    /// must be started.
    pub(super) fn enter(&mut self, now: Instant, class: u8, user: Option<&str>) -> (Ticket, bool) {
        if self.waiting.is_empty() && self.pacer.try_take(now).is_ok() {
            return (Ticket::Now, false);
        }
        // Not `mul_f64`, which panics on overflow: a longer estimate than a `Duration` is full.
        let ahead = self.waiting.len() as f64 + 1.0;
        let estimate = Duration::try_from_secs_f64(self.pacer.interval().as_secs_f64() * ahead)
            .unwrap_or(Duration::MAX);
        if self.waiting.len() >= self.settings.queue_size || estimate > self.settings.max_wait {
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
        let place = (class, tag, self.seq);
        let (tx, rx) = oneshot::channel();
        self.waiting.insert(place, tx);
        self.observer.on_event(&Event::QueueDepth {
            depth: self.waiting.len(),
        });
        let start = !self.dispatching;
        self.dispatching = true;
        (Ticket::Wait(place, rx), start)
    }

    /// Removes a waiter that gave up, so no permit is kept for it.
    pub(super) fn leave(&mut self, place: &Place) {
        self.waiting.remove(place);
    }

    /// Requests waiting, for [`LimiterLayer::queue_depth`](super::LimiterLayer::queue_depth).
    pub(super) fn depth(&self) -> usize {
        self.waiting.len()
    }
}

/// Hands permits to waiters in queue order, one at a time, sleeping on the tokio clock between
/// them; runs while the queue is not empty.
pub(super) async fn dispatch(queue: Arc<Mutex<Queue>>) {
    loop {
        let wait = {
            let mut q = queue.lock().unwrap_or_else(|p| p.into_inner());
            // Drop waiters that gave up, so no permit is spent on them.
            while let Some(entry) = q.waiting.first_entry() {
                if entry.get().is_closed() {
                    entry.remove();
                } else {
                    break;
                }
            }
            if q.waiting.is_empty() {
                q.dispatching = false;
                return;
            }
            match q.pacer.try_take(Instant::now()) {
                Ok(()) => {
                    if let Some(((_, tag, _), tx)) = q.waiting.pop_first() {
                        q.virtual_clock = q.virtual_clock.max(tag);
                        let _ = tx.send(());
                    }
                    let depth = q.waiting.len();
                    q.observer.on_event(&Event::QueueDepth { depth });
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
