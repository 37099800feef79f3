//! `GET /v1/models` and `GET /v1/models/{id}`: the models the fault file lists, behind the same
//! keys, timeline and outages as every route (but never rate-limited, as OpenAI's are not).
//!
//! `GET /v1/models/{id}` answers the model object for a listed model, and 404
//! `model_not_found` for another when the file lists its models; without a list the mock serves
//! every model name, so every id gets its object, as the chat route would answer for it.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use tokio::time::Instant;

use super::dialect::{Dialect, StreamParts};
use super::errors::ApiError;
use super::handler::{bearer, carry_out, Answering};
use super::{MockState, Pacing};
use crate::faults::engine::{Decision, Outcome, RequestInfo, Route};
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

/// The engine's decision for a models request naming `model` (empty for the list), and the
/// ids listed.
fn decide(state: &MockState, headers: &HeaderMap, model: &str) -> (Decision, Vec<String>) {
    let info = RequestInfo {
        route: Route::Models,
        api_key: bearer(headers),
        model,
        prompt_tokens: 0,
        prompt_hash: 0,
        max_tokens: None,
        queued: 0,
    };
    let mut engine = state.engine();
    let decision = engine.decide(Instant::now(), &info);
    let ids = if model.is_empty() {
        engine
            .config()
            .models()
            .iter()
            .map(|m| m.id.clone())
            .collect()
    } else {
        Vec::new()
    };
    (decision, ids)
}

/// A refusal (401, 404, 410, outage) carried out as for every route.
async fn refused(decision: Decision, model: &str) -> Response {
    let answering = Answering {
        route: Route::Models,
        model: model.to_string(),
        stream: false,
        finish_abandoned: false,
        // A refusal waits for nothing.
        pacing: Pacing::Tokio,
        origin: tokio::time::Instant::now(),
    };
    carry_out(decision, &answering, &ModelsDialect, None).await
}

/// The model object OpenAI returns, in the list and alone.
fn model_object(state: &MockState, id: String) -> Model {
    Model {
        id,
        object: "model".into(),
        created: state.inner.options.epoch_secs,
        owned_by: "mock-upstream".into(),
    }
}

/// `GET /v1/models`.
pub(crate) async fn models(State(state): State<MockState>, headers: HeaderMap) -> Response {
    let (decision, ids) = decide(&state, &headers, "");
    if decision.outcome != Outcome::Serve {
        return refused(decision, "").await;
    }
    Json(ModelList {
        object: "list".into(),
        data: ids.into_iter().map(|id| model_object(&state, id)).collect(),
    })
    .into_response()
}

/// `GET /v1/models/{id}`.
pub(crate) async fn model(
    State(state): State<MockState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let id = match id {
        Ok(Path(id)) => id,
        Err(e) => {
            return ApiError::invalid_request(
                format!("Invalid model id: {e}"),
                Some("model".into()),
            )
            .into_response()
        }
    };
    let (decision, _) = decide(&state, &headers, &id);
    if decision.outcome != Outcome::Serve {
        return refused(decision, &id).await;
    }
    Json(model_object(&state, id)).into_response()
}
