//! `GET /v1/models`: the models the fault file lists, behind the same keys, timeline and
//! outages as every route (but never rate-limited, as OpenAI's is not).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use tokio::time::Instant;

use super::dialect::{Dialect, StreamParts};
use super::handler::{bearer, carry_out, Answering};
use super::MockState;
use crate::faults::engine::{Outcome, RequestInfo, Route};
use crate::text::Reply;
use gauntlet_wire::openai::{Model, ModelList};

/// Refusals of `/v1/models` in OpenAI's shape; it has no reply of its own to write.
struct ModelsDialect;

impl Dialect for ModelsDialect {
    fn answer(&self, _: &Reply) -> Vec<u8> {
        Vec::new()
    }

    fn stream(&self, _: &Reply) -> StreamParts {
        StreamParts {
            tail: vec![Bytes::new()],
            ..StreamParts::default()
        }
    }
}

/// `GET /v1/models`.
pub(crate) async fn models(State(state): State<MockState>, headers: HeaderMap) -> Response {
    let info = RequestInfo {
        route: Route::Models,
        api_key: bearer(&headers),
        model: "",
        prompt_tokens: 0,
        prompt_hash: 0,
        max_tokens: None,
        queued: 0,
    };
    let (decision, names) = {
        let mut engine = state.engine();
        (
            engine.decide(Instant::now(), &info),
            engine.config().spec().models.clone(),
        )
    };
    if decision.outcome != Outcome::Serve {
        let answering = Answering {
            route: Route::Models,
            model: String::new(),
            stream: false,
            finish_abandoned: false,
        };
        return carry_out(decision, &answering, &ModelsDialect, None).await;
    }
    let created = state.inner.options.epoch_secs;
    Json(ModelList {
        object: "list".into(),
        data: names
            .into_iter()
            .map(|id| Model {
                id,
                object: "model".into(),
                created,
                owned_by: "mock-upstream".into(),
            })
            .collect(),
    })
    .into_response()
}
