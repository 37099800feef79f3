//! Input filter: sensitive terms found with aho-corasick (case-insensitive), either redacted
//! (`[REDACTED]`) before the request leaves, or the request refused locally with no upstream call.

use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use gauntlet_wire::openai::ChatMessage;
use serde::{Deserialize, Serialize};
use tower::{Layer, Service, ServiceExt};

use super::error::{ClientError, Rejection};
use super::layer_support::Inner;
use super::observer::{Event, SharedObserver};
use super::request::ChatRequest;

/// What to do with a match.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FilterMode {
    /// Replace each match with `[REDACTED]`.
    #[default]
    Redact,
    /// Refuse the request.
    Reject,
}

/// `[client.filter]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilterConfig {
    /// `false` (the default) passes everything.
    pub enabled: bool,
    /// `redact` or `reject`.
    pub mode: FilterMode,
    /// Terms, matched case-insensitively.
    pub terms: Vec<String>,
    /// A file with one term per line (blank lines and `#` comments skipped).
    pub terms_file: Option<std::path::PathBuf>,
}

/// Why a filter config cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum InvalidFilter {
    /// The terms file could not be read.
    #[error("filter.terms_file {path}: {source}")]
    TermsFile {
        /// The file.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The automaton could not be built.
    #[error("filter.terms: {0}")]
    Build(String),
}

/// The compiled matcher and mode, shared by every service the layer builds.
#[derive(Debug, Clone)]
pub struct FilterLayer {
    matcher: Arc<AhoCorasick>,
    mode: FilterMode,
    observer: SharedObserver,
}

impl FilterLayer {
    /// Builds the matcher from the terms and the terms file.
    pub fn new(config: &FilterConfig, observer: SharedObserver) -> Result<Self, InvalidFilter> {
        let mut terms: Vec<String> = config
            .terms
            .iter()
            .filter(|t| !t.is_empty())
            .cloned()
            .collect();
        if let Some(path) = &config.terms_file {
            let text =
                std::fs::read_to_string(path).map_err(|source| InvalidFilter::TermsFile {
                    path: path.display().to_string(),
                    source,
                })?;
            terms.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_string),
            );
        }
        let matcher = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(&terms)
            .map_err(|e| InvalidFilter::Build(e.to_string()))?;
        Ok(Self {
            matcher: Arc::new(matcher),
            mode: config.mode,
            observer,
        })
    }
}

impl<S> Layer<S> for FilterLayer {
    type Service = Filter<S>;
    fn layer(&self, inner: S) -> Filter<S> {
        Filter {
            inner,
            layer: self.clone(),
        }
    }
}

/// A service behind [`FilterLayer`]: redacts or refuses a request whose messages contain a term,
/// before any other layer sees it.
#[derive(Debug, Clone)]
pub struct Filter<S> {
    inner: S,
    layer: FilterLayer,
}

impl<S: Inner> Service<ChatRequest> for Filter<S> {
    always_ready_chat_service!();

    fn call(&mut self, mut req: ChatRequest) -> Self::Future {
        let layer = &self.layer;
        let matches: usize = req
            .messages
            .iter()
            .map(|m| layer.matcher.find_iter(m.text_ref().as_ref()).count())
            .sum();
        if matches > 0 {
            let action = match layer.mode {
                FilterMode::Redact => "redact",
                FilterMode::Reject => "reject",
            };
            layer
                .observer
                .on_event(&Event::Filtered { action, matches });
            if layer.mode == FilterMode::Reject {
                return Box::pin(std::future::ready(Err(ClientError::Rejected(
                    Rejection::Filtered,
                ))));
            }
            for m in &mut req.messages {
                let text = m.text();
                let redacted = layer
                    .matcher
                    .replace_all(&text, &vec!["[REDACTED]"; layer.matcher.patterns_len()]);
                *m = ChatMessage::new(m.role.clone(), redacted);
            }
        }
        Box::pin(self.inner.clone().oneshot(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observer::NoopObserver;
    use crate::testing::Scripted;
    use crate::{ChatResponse, ClientError};

    fn layer(mode: FilterMode) -> FilterLayer {
        let cfg = FilterConfig {
            enabled: true,
            mode,
            terms: vec!["password".into(), "sk-".into()],
            terms_file: None,
        };
        FilterLayer::new(&cfg, Arc::new(NoopObserver)).unwrap()
    }

    /// An upstream that echoes the prompt it received.
    fn echo() -> impl Inner {
        tower::service_fn(|req: ChatRequest| -> crate::ChatFuture {
            Box::pin(std::future::ready(Ok(ChatResponse::local(
                req.messages[0].text(),
                crate::Outcome::Upstream,
            ))))
        })
    }

    #[tokio::test]
    async fn redacts_case_insensitively() {
        let svc = layer(FilterMode::Redact).layer(echo());
        let r = svc
            .oneshot(ChatRequest::user_text("m", "my PassWord is sk-123"))
            .await
            .unwrap();
        assert_eq!(r.text, "my [REDACTED] is [REDACTED]123");
    }

    #[tokio::test]
    async fn rejects_without_calling_upstream() {
        let up = Scripted::default();
        let svc = layer(FilterMode::Reject).layer(up.clone());
        let e = svc
            .oneshot(ChatRequest::user_text("m", "password?"))
            .await
            .unwrap_err();
        assert_eq!(e, ClientError::Rejected(Rejection::Filtered));
        assert_eq!(up.call_count(), 0);
    }
}
