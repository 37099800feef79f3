//! [`ChatService`]: the stack's type-erased service.
//!
//! tower's `BoxCloneSyncService` clones by cloning the boxed service, and in a stack of boxed
//! layers every layer's call clones the layer below it, which clones the one below that, and
//! so on: a request through *n* layers made about *n²/2* allocations just for clones. Here a
//! clone is one reference count, and a call clones only the layer it enters (whose inner service
//! is again a `ChatService`).

use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::BoxFuture;
use tower::{Service, ServiceExt};

use super::error::ClientError;
use super::layer_support::Inner;
use super::request::{ChatRequest, ChatResponse};

/// A chat service of any type behind one pointer; cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct ChatService(Arc<dyn Erased>);

trait Erased: Send + Sync {
    fn call(&self, req: ChatRequest) -> BoxFuture<'static, Result<ChatResponse, ClientError>>;
}

impl<S: Inner + Sync> Erased for S {
    fn call(&self, req: ChatRequest) -> BoxFuture<'static, Result<ChatResponse, ClientError>> {
        Box::pin(self.clone().oneshot(req))
    }
}

impl ChatService {
    /// Erases `service`'s type.
    pub fn new<S: Inner + Sync>(service: S) -> Self {
        Self(Arc::new(service))
    }
}

impl std::fmt::Debug for ChatService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChatService")
    }
}

impl Service<ChatRequest> for ChatService {
    type Response = ChatResponse;
    type Error = ClientError;
    type Future = BoxFuture<'static, Result<ChatResponse, ClientError>>;

    /// Always ready: the wrapped service's readiness is awaited inside the call's future, on a
    /// clone of it, so one caller waiting never blocks another.
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ClientError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: ChatRequest) -> Self::Future {
        self.0.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Scripted;

    #[tokio::test]
    async fn clones_share_one_service() {
        let up = Scripted::default();
        let svc = ChatService::new(up.clone());
        let copies: Vec<ChatService> = (0..3).map(|_| svc.clone()).collect();
        for c in copies {
            c.oneshot(ChatRequest::user_text("m", "q")).await.unwrap();
        }
        assert_eq!(up.call_count(), 3);
        assert_eq!(Arc::strong_count(&svc.0), 1);
    }
}
