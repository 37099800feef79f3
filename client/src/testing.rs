//! A scripted fake upstream for testing layers: it answers from a list ("503, 503, 200") and
//! records when each call arrived, so tests on a paused clock can check delays exactly.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::time::Instant;
use tower::Service;

use super::error::ClientError;
use super::request::{ChatRequest, ChatResponse, Outcome};

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Step {
    /// Answer this text after the delay.
    Ok(Duration, String),
    /// Fail with this error after the delay.
    Err(Duration, ClientError),
}

impl Step {
    /// An immediate success.
    pub fn ok(text: &str) -> Self {
        Step::Ok(Duration::ZERO, text.to_string())
    }

    /// An immediate failure.
    pub fn err(e: ClientError) -> Self {
        Step::Err(Duration::ZERO, e)
    }

    /// An immediate 5xx.
    pub fn status(status: u16) -> Self {
        Step::Err(Duration::ZERO, ClientError::Server { status })
    }
}

#[derive(Debug, Default)]
struct Script {
    steps: VecDeque<Step>,
    fallback: Option<Step>,
    calls: Vec<Instant>,
}

/// The fake upstream; clones share the script.
#[derive(Debug, Clone, Default)]
pub struct Scripted {
    script: Arc<Mutex<Script>>,
}

impl Scripted {
    /// Answers `steps` in order, then `Ok("done")` forever.
    pub fn new(steps: impl IntoIterator<Item = Step>) -> Self {
        Self::with_default(steps, Step::ok("done"))
    }

    /// Answers `steps` in order, then `after` forever.
    pub fn with_default(steps: impl IntoIterator<Item = Step>, after: Step) -> Self {
        Self {
            script: Arc::new(Mutex::new(Script {
                steps: steps.into_iter().collect(),
                fallback: Some(after),
                calls: Vec::new(),
            })),
        }
    }

    /// When each call arrived.
    pub fn calls(&self) -> Vec<Instant> {
        self.script
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .calls
            .clone()
    }

    /// Calls so far, counting those still in their scripted delay.
    pub fn call_count(&self) -> usize {
        self.script
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .calls
            .len()
    }
}

impl Service<ChatRequest> for Scripted {
    type Response = ChatResponse;
    type Error = ClientError;
    type Future = BoxFuture<'static, Result<ChatResponse, ClientError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ClientError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: ChatRequest) -> Self::Future {
        let step = {
            let mut s = self.script.lock().unwrap_or_else(|p| p.into_inner());
            s.calls.push(Instant::now());
            let fallback = s.fallback.clone();
            s.steps.pop_front().or(fallback).unwrap_or(Step::ok("done"))
        };
        req.trace.add_attempt();
        Box::pin(async move {
            match step {
                Step::Ok(d, text) => {
                    if !d.is_zero() {
                        tokio::time::sleep(d).await;
                    }
                    Ok(ChatResponse::local(text, Outcome::Upstream))
                }
                Step::Err(d, e) => {
                    if !d.is_zero() {
                        tokio::time::sleep(d).await;
                    }
                    Err(e)
                }
            }
        })
    }
}
