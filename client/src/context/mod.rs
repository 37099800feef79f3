//! Dialogue context: per-session history bounded by turns and by an approximate token budget.
//! The upstream request carries the system prompt, the history (user turns and assistant replies
//! alike) and the new turn; the answer is appended to the history. Sessions beyond
//! `max_sessions` are forgotten, least recently used first.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use gauntlet_wire::openai::ChatMessage;
use gauntlet_wire::tokens::approx_tokens;
use serde::{Deserialize, Serialize};
use tower::{Layer, Service, ServiceExt};

use super::layer_support::Inner;
use super::request::ChatRequest;

/// `[client.context]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContextConfig {
    /// `false` sends each turn alone.
    pub enabled: bool,
    /// Sent first in every request.
    pub system_prompt: Option<String>,
    /// Most past turns kept (a turn is a user message and its reply).
    pub max_turns: usize,
    /// Most history tokens kept (4 characters a token), oldest dropped first.
    pub max_tokens: u32,
    /// Most sessions remembered; beyond it, the least recently used is forgotten.
    pub max_sessions: u64,
}

impl Default for ContextConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            system_prompt: None,
            max_turns: 10,
            max_tokens: 2000,
            max_sessions: 10_000,
        }
    }
}

type History = Arc<Mutex<VecDeque<(ChatMessage, ChatMessage)>>>;

/// Adds dialogue context.
#[derive(Debug, Clone)]
pub struct ContextLayer {
    config: Arc<ContextConfig>,
    sessions: moka::sync::Cache<String, History, super::cache::FixedHasher>,
}

impl ContextLayer {
    /// No sessions yet.
    pub fn new(config: ContextConfig) -> Self {
        Self {
            sessions: moka::sync::Cache::builder()
                .max_capacity(config.max_sessions.max(1))
                .build_with_hasher(super::cache::FixedHasher::default()),
            config: Arc::new(config),
        }
    }

    /// The history of a session, oldest first, for tests and inspection.
    pub fn history(&self, session: &str) -> Vec<ChatMessage> {
        self.sessions
            .get(session)
            .map(|h| {
                h.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .iter()
                    .flat_map(|(u, a)| [u.clone(), a.clone()])
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn turn_tokens(turn: &(ChatMessage, ChatMessage)) -> u32 {
    approx_tokens(&turn.0.text_ref()) + approx_tokens(&turn.1.text_ref())
}

impl<S> Layer<S> for ContextLayer {
    type Service = ContextService<S>;
    fn layer(&self, inner: S) -> ContextService<S> {
        ContextService {
            inner,
            layer: self.clone(),
        }
    }
}

/// A service behind [`ContextLayer`]: sends the system prompt and the session's history before the
/// new turn, and appends the answer to the history.
#[derive(Debug, Clone)]
pub struct ContextService<S> {
    inner: S,
    layer: ContextLayer,
}

impl<S: Inner> Service<ChatRequest> for ContextService<S> {
    always_ready_chat_service!();

    fn call(&mut self, mut req: ChatRequest) -> Self::Future {
        let config = self.layer.config.clone();
        if req.session.is_none() && config.system_prompt.is_none() {
            // Nothing to add and nothing to remember.
            return Box::pin(self.inner.clone().oneshot(req));
        }
        let history = req
            .session
            .as_ref()
            .map(|s| self.layer.sessions.get_with(s.clone(), History::default));
        let new_turn = req.messages.clone();
        let mut messages = Vec::new();
        if let Some(system) = &config.system_prompt {
            messages.push(ChatMessage::new("system", system.clone()));
        }
        if let Some(h) = &history {
            for (u, a) in h.lock().unwrap_or_else(|p| p.into_inner()).iter() {
                messages.push(u.clone());
                messages.push(a.clone());
            }
        }
        messages.extend(new_turn.iter().cloned());
        req.messages = messages;
        let fut = self.inner.clone().oneshot(req);
        Box::pin(async move {
            let resp = fut.await?;
            if let (Some(h), Some(user)) = (history, new_turn.last()) {
                let mut h = h.lock().unwrap_or_else(|p| p.into_inner());
                h.push_back((
                    user.clone(),
                    ChatMessage::new("assistant", resp.text.clone()),
                ));
                while h.len() > config.max_turns {
                    h.pop_front();
                }
                while h.iter().map(turn_tokens).sum::<u32>() > config.max_tokens && !h.is_empty() {
                    h.pop_front();
                }
            }
            Ok(resp)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Outcome;
    use crate::ChatResponse;

    /// Answers with the number of messages it received.
    fn counter() -> impl Inner {
        tower::service_fn(|req: ChatRequest| -> crate::ChatFuture {
            let roles: Vec<String> = req.messages.iter().map(|m| m.role.clone()).collect();
            Box::pin(std::future::ready(Ok(ChatResponse::local(
                roles.join(","),
                Outcome::Upstream,
            ))))
        })
    }

    #[tokio::test]
    async fn history_is_sent_and_bounded() {
        let layer = ContextLayer::new(ContextConfig {
            system_prompt: Some("be brief".into()),
            max_turns: 2,
            ..ContextConfig::default()
        });
        let svc = layer.layer(counter());
        let turn = |text: &str| {
            let mut r = ChatRequest::user_text("m", text);
            r.session = Some("s1".into());
            r
        };
        let r = svc.clone().oneshot(turn("one")).await.unwrap();
        assert_eq!(r.text, "system,user");
        let r = svc.clone().oneshot(turn("two")).await.unwrap();
        assert_eq!(r.text, "system,user,assistant,user");
        svc.clone().oneshot(turn("three")).await.unwrap();
        let r = svc.clone().oneshot(turn("four")).await.unwrap();
        // Two turns kept: system + 2 x (user, assistant) + the new user turn.
        assert_eq!(r.text.split(',').count(), 6);
        let h = layer.history("s1");
        assert_eq!(h[0].text(), "three");
        assert_eq!(h[1].role, "assistant");
    }

    #[tokio::test]
    async fn token_budget_drops_the_oldest() {
        let layer = ContextLayer::new(ContextConfig {
            max_tokens: 10,
            ..ContextConfig::default()
        });
        let svc = layer.layer(counter());
        for text in ["a".repeat(20), "b".repeat(20)] {
            let mut r = ChatRequest::user_text("m", text);
            r.session = Some("s".into());
            svc.clone().oneshot(r).await.unwrap();
        }
        let h = layer.history("s");
        assert_eq!(h.len(), 2, "only the newest turn fits 10 tokens");
        assert!(h[0].text().starts_with('b'));
    }
}
