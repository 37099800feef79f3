//! What every thread and session task of a run shares, and a session sent turn by turn.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::{sleep_until, Instant};

use super::recorder::{Completion, Recorder};
use super::stall::StallWatch;
use super::template::{Fill, TemplateSender};
use super::workload::{PromptPool, SessionPlan};
use crate::client::{ChatRequest, ClientStack};
use crate::scenario::Scenario;

/// The run's shared state: one per run, behind an `Arc`, used from every thread.
pub(super) struct RunCtx {
    /// The client stack (its stateful layers are shared by all threads).
    pub stack: ClientStack,
    /// Where every request is recorded.
    pub recorder: Arc<Recorder>,
    /// The scenario (with the seed and duration of this run).
    pub scenario: Scenario,
    /// The prompt pool every session factory of the run draws from (each gets a clone).
    pub pool: PromptPool,
    /// When the run started: arrival offsets count from here.
    pub start: Instant,
    /// When no new request may start.
    pub end: Instant,
    /// The bound on open-model requests in flight, across threads.
    pub in_flight: Arc<Semaphore>,
    /// In a simulation: the watch for a virtual clock that stopped moving.
    pub stall: Option<Arc<StallWatch>>,
    /// `[system.request]`: the app's own request, sent instead of the OpenAI API's.
    pub template: Option<TemplateSender>,
}

impl RunCtx {
    /// Sends a session's turns one after the other. `first_intended` is the scheduled time of
    /// the first turn (already recorded as started).
    pub async fn session(&self, plan: SessionPlan, first_intended: Instant) {
        let workload = &self.scenario.workload;
        for (i, turn) in plan.turns.iter().enumerate() {
            let intended = if i == 0 {
                first_intended
            } else {
                let t = Instant::now() + turn.think;
                if t >= self.end {
                    return;
                }
                // A zero think time must not wait for the timer's next millisecond tick.
                if !turn.think.is_zero() {
                    sleep_until(t).await;
                }
                self.recorder.started(t, Duration::ZERO, 0.0);
                t
            };
            let mut req = ChatRequest::user_text(workload.model_name.clone(), turn.prompt.clone());
            req.route = turn.route;
            req.max_tokens = workload.max_tokens;
            req.stream = plan.stream;
            // An embedding is no turn of the dialogue: it takes no history and adds none.
            req.session = turn.route.completes().then(|| plan.id.clone());
            super::asks::apply(&mut req, turn.ask);
            req.user = plan.user.clone();
            req.priority = plan.priority;
            req.api_key = plan.api_key.clone();
            let trace = req.trace.clone();
            let sent = Instant::now();
            self.recorder.begin();
            let result = match &self.template {
                Some(t) => {
                    t.send(Fill {
                        prompt: &turn.prompt,
                        session: &plan.id,
                        user: plan.user.as_deref().unwrap_or(""),
                        model: &workload.model_name,
                    })
                    .await
                }
                None => self.stack.send(req).await,
            };
            self.recorder.completed(&Completion {
                intended,
                sent,
                done: Instant::now(),
                result: &result,
                attempts: trace.attempts(),
                limiter_wait: trace.limiter_wait(),
                priority: plan.priority,
                route: turn.route,
            });
            if let Some(stall) = &self.stall {
                stall.tick().await;
            }
        }
    }
}
