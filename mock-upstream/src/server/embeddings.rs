//! `POST /v1/embeddings`: the API's request limits, the vectors of [`crate::embedding`], and
//! every fault of the fault file (keys, limits, quota, latency, outages, failures, timeline).
//!
//! An embedding costs its input tokens against TPM and nothing else: the engine plans no
//! completion for [`Route::Embeddings`]. The answer is never streamed.

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use bytes::Bytes;
use tokio::time::Instant;

use super::dialect::{Dialect, StreamParts};
use super::errors::ApiError;
use super::handler::{admit, bearer, carry_out, overloaded, read_json, Answering};
use super::MockState;
use crate::embedding::{Input, Projection};
use crate::faults::engine::{RequestInfo, Route};
use crate::text::Reply;
use gauntlet_wire::openai::embeddings::{EmbeddingInput, EmbeddingRequest, EncodingFormat};
use gauntlet_wire::{hash, tokens};

/// Inputs one request may hold, as the API allows.
pub(crate) const MAX_INPUTS: usize = 2048;

/// Tokens one input may hold (the models' context).
pub(crate) const MAX_INPUT_TOKENS: u32 = 8192;

/// Tokens all inputs of one request may hold together, as the API allows.
pub(crate) const MAX_TOTAL_TOKENS: u32 = 300_000;

/// Work (additions of the rotations, summed over inputs, plus the input's bytes) above which
/// the vectors are computed on a blocking thread rather than on the runtime's worker (a few ms).
const INLINE_WORK: usize = 1 << 22;

/// The embedding model families, by what they accept; a model's family comes from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// `text-embedding-3-large*`: 3072 dimensions, shortening allowed.
    ThreeLarge,
    /// `text-embedding-3-*` (small and later): 1536 dimensions, shortening allowed.
    ThreeSmall,
    /// `text-embedding-ada-002`: 1536 dimensions, no `dimensions` parameter.
    Ada002,
    /// Any other name (the mock serves any model unless the fault file lists them): 1536
    /// dimensions, shortening allowed, as for current models.
    Other,
}

impl Family {
    /// Every family, most specific name first (the order [`Family::of`] tries them in).
    pub(crate) const ALL: [Family; 4] = [
        Family::ThreeLarge,
        Family::ThreeSmall,
        Family::Ada002,
        Family::Other,
    ];

    /// The name prefix of the family's models; `None` for [`Family::Other`].
    fn prefix(self) -> Option<&'static str> {
        match self {
            Family::ThreeLarge => Some("text-embedding-3-large"),
            Family::ThreeSmall => Some("text-embedding-3-"),
            Family::Ada002 => Some("text-embedding-ada-002"),
            Family::Other => None,
        }
    }

    /// The family of a model name.
    pub(crate) fn of(model: &str) -> Family {
        Family::ALL
            .into_iter()
            .find(|f| f.prefix().is_none_or(|p| model.starts_with(p)))
            .unwrap_or(Family::Other)
    }

    /// The length of the model's vectors when `dimensions` is not given, and its maximum.
    pub(crate) fn native_dimensions(self) -> u32 {
        match self {
            Family::ThreeLarge => 3072,
            Family::ThreeSmall | Family::Ada002 | Family::Other => 1536,
        }
    }

    /// Whether the model accepts `dimensions`.
    pub(crate) fn takes_dimensions(self) -> bool {
        self != Family::Ada002
    }
}

/// A request that passed the API's checks: how long its vectors are and what it costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Checked {
    native: usize,
    dimensions: usize,
    prompt_tokens: u32,
}

fn bad(message: String, param: &str) -> ApiError {
    ApiError::invalid_request(message, Some(param.to_string()))
}

/// The API's checks of a request, before any fault: model, input sizes, `dimensions`.
fn check(req: &EmbeddingRequest) -> Result<Checked, ApiError> {
    if req.model.is_empty() {
        return Err(bad("you must provide a model parameter".into(), "model"));
    }
    let prompt_tokens = check_input(&req.input)?;
    let family = Family::of(&req.model);
    let native = family.native_dimensions();
    let dimensions =
        match req.dimensions {
            None => native,
            Some(_) if !family.takes_dimensions() => {
                return Err(bad(
                    "This model does not support specifying dimensions.".into(),
                    "dimensions",
                ))
            }
            Some(0) => return Err(bad(
                "Invalid 'dimensions': integer below minimum value. Expected a value >= 1, but \
                 got 0 instead."
                    .into(),
                "dimensions",
            )),
            Some(d) if d > native => {
                return Err(bad(
                    format!(
                        "Invalid 'dimensions': integer above maximum value. Expected a value <= \
                     {native}, but got {d} instead."
                    ),
                    "dimensions",
                ))
            }
            Some(d) => d,
        };
    Ok(Checked {
        native: native as usize,
        dimensions: dimensions as usize,
        prompt_tokens,
    })
}

/// The input's tokens, or the 400 for an empty input, too many inputs, or too many tokens.
fn check_input(input: &EmbeddingInput) -> Result<u32, ApiError> {
    let n = input.len();
    if n == 0 {
        return Err(bad(
            "Invalid 'input': empty array. Expected an array with minimum length 1.".into(),
            "input",
        ));
    }
    if n > MAX_INPUTS {
        return Err(bad(
            format!(
                "Invalid 'input': array too long. Expected an array with maximum length \
                 {MAX_INPUTS}, but got an array with length {n} instead."
            ),
            "input",
        ));
    }
    let mut total: u32 = 0;
    for (i, tokens) in input_tokens(input).enumerate() {
        if tokens == 0 {
            return Err(bad(
                format!("Invalid 'input[{i}]': the input must not be empty."),
                "input",
            ));
        }
        if tokens > MAX_INPUT_TOKENS {
            return Err(bad(
                format!(
                    "This model's maximum context length is {MAX_INPUT_TOKENS} tokens, however \
                     you requested {tokens} tokens ({tokens} in your prompt; 0 for the \
                     completion) in input[{i}]. Please reduce your prompt."
                ),
                "input",
            ));
        }
        total += tokens; // at most 2048 × 8192, far from u32::MAX
    }
    if total > MAX_TOTAL_TOKENS {
        return Err(bad(
            format!("Requested {total} tokens, max {MAX_TOTAL_TOKENS} tokens per request"),
            "input",
        ));
    }
    Ok(total)
}

/// Each input's tokens: the shared approximation for text, the count of ids otherwise (the
/// count saturates; anything over [`MAX_INPUT_TOKENS`] is refused anyway).
fn input_tokens(input: &EmbeddingInput) -> Box<dyn Iterator<Item = u32> + '_> {
    let ids = |v: &Vec<u32>| u32::try_from(v.len()).unwrap_or(u32::MAX);
    match input {
        EmbeddingInput::Text(t) => Box::new(std::iter::once(tokens::approx_tokens(t))),
        EmbeddingInput::Texts(v) => Box::new(v.iter().map(|t| tokens::approx_tokens(t))),
        EmbeddingInput::Tokens(v) => Box::new(std::iter::once(ids(v))),
        EmbeddingInput::TokenArrays(v) => Box::new(v.iter().map(ids)),
    }
}

/// Each input as the sketch reads it.
fn inputs(input: &EmbeddingInput) -> Vec<Input<'_>> {
    match input {
        EmbeddingInput::Text(t) => vec![Input::Text(t)],
        EmbeddingInput::Texts(v) => v.iter().map(|t| Input::Text(t)).collect(),
        EmbeddingInput::Tokens(v) => vec![Input::Tokens(v)],
        EmbeddingInput::TokenArrays(v) => v.iter().map(|t| Input::Tokens(t)).collect(),
    }
}

/// Appends one vector as the request's `encoding_format` asks: a JSON array, or a JSON string
/// of the base64 of its little-endian `f32` bytes (`bytes` is scratch space).
fn write_vector(out: &mut Vec<u8>, v: &[f32], format: EncodingFormat, bytes: &mut Vec<u8>) {
    match format {
        EncodingFormat::Float => {
            let _ = serde_json::to_writer(&mut *out, v);
        }
        EncodingFormat::Base64 => {
            bytes.clear();
            v.iter()
                .for_each(|x| bytes.extend_from_slice(&x.to_le_bytes()));
            let engine = &base64::engine::general_purpose::STANDARD;
            out.push(b'"');
            let start = out.len();
            let len = base64::encoded_len(bytes.len(), true).unwrap_or(0);
            out.resize(start + len, 0);
            let written = engine
                .encode_slice(&bytes[..], &mut out[start..])
                .unwrap_or(0);
            out.truncate(start + written);
            out.push(b'"');
        }
    }
}

/// The whole response body, `gauntlet_wire`'s `EmbeddingResponse` written by hand: serde would
/// check every character of each base64 string for escapes, the largest cost of an answer.
/// The unit tests read it back as that type.
fn render(req: &EmbeddingRequest, checked: Checked, seed: u64) -> Vec<u8> {
    use std::io::Write as _;
    let projection = Projection::for_seed(seed);
    let format = req.format();
    let inputs = inputs(&req.input);
    let mut out = Vec::with_capacity(128 + inputs.len() * (64 + checked.dimensions * 6));
    let mut bytes = Vec::with_capacity(checked.dimensions * 4);
    out.extend_from_slice(b"{\"object\":\"list\",\"data\":[");
    for (i, input) in inputs.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let _ = write!(
            out,
            "{{\"object\":\"embedding\",\"index\":{i},\"embedding\":"
        );
        let v = projection.embed(input, checked.native, checked.dimensions);
        write_vector(&mut out, &v, format, &mut bytes);
        out.push(b'}');
    }
    out.extend_from_slice(b"],\"model\":");
    let _ = serde_json::to_writer(&mut out, &req.model);
    let p = checked.prompt_tokens;
    let _ = write!(
        out,
        ",\"usage\":{{\"prompt_tokens\":{p},\"total_tokens\":{p}}}}}"
    );
    out
}

/// The body, computed on a blocking thread when it is big work (see [`INLINE_WORK`]).
async fn render_off_worker(
    req: EmbeddingRequest,
    checked: Checked,
    seed: u64,
) -> Result<Vec<u8>, ApiError> {
    let n = Projection::space(checked.native);
    let rotations = req.input.len() * 2 * n * n.trailing_zeros() as usize;
    let work = rotations + checked.prompt_tokens as usize * tokens::CHARS_PER_TOKEN;
    if work <= INLINE_WORK {
        return Ok(render(&req, checked, seed));
    }
    tokio::task::spawn_blocking(move || render(&req, checked, seed))
        .await
        .map_err(|_| ApiError::server(500, None))
}

/// The embeddings answer, already written (the vectors do not depend on the reply plan).
struct EmbeddingsDialect {
    body: Bytes,
}

impl Dialect for EmbeddingsDialect {
    fn answer(&self, _: &Reply) -> Vec<u8> {
        self.body.to_vec()
    }

    /// Never asked for (embeddings are not streamed); the whole body, should it be.
    fn stream(&self, _: &Reply) -> StreamParts {
        StreamParts {
            tail: vec![self.body.clone()],
            ..StreamParts::default()
        }
    }
}

/// `POST /v1/embeddings`.
pub(crate) async fn embeddings(State(state): State<MockState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let req: EmbeddingRequest = match read_json(&state, &parts.headers, body).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let checked = match check(&req) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let (permit, queued, origin) = match admit(&state, &parts).await {
        Ok(a) => a,
        Err(e) => return overloaded(e.into_response()),
    };
    let info = RequestInfo {
        route: Route::Embeddings,
        api_key: bearer(&parts.headers),
        model: &req.model,
        prompt_tokens: checked.prompt_tokens,
        prompt_hash: hash::stable_hash(req.model.as_bytes()),
        max_tokens: None,
        queued,
    };
    let (decision, seed) = {
        let mut engine = state.engine();
        (engine.decide(Instant::now(), &info), engine.seed())
    };
    let answering = Answering {
        route: Route::Embeddings,
        model: req.model.clone(),
        stream: false,
        finish_abandoned: state.inner.gate.finishes_abandoned(),
        pacing: state.inner.options.pacing,
        origin,
    };
    // Only a request that passed the limits is answered with (or failed part-way through) a
    // body; refusals cost no vectors.
    let body = if decision.reply.is_some() {
        match render_off_worker(req, checked, seed).await {
            Ok(b) => Bytes::from(b),
            Err(e) => return e.into_response(),
        }
    } else {
        Bytes::new()
    };
    carry_out(decision, &answering, &EmbeddingsDialect { body }, permit).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(json: serde_json::Value) -> EmbeddingRequest {
        serde_json::from_value(json).unwrap()
    }

    fn refusal(json: serde_json::Value) -> (String, Option<String>) {
        let e = check(&req(json)).unwrap_err();
        assert_eq!(e.status, 400);
        (e.body.message, e.body.param)
    }

    #[test]
    fn the_body_is_the_wire_type() {
        use gauntlet_wire::openai::embeddings::{EmbeddingResponse, EmbeddingVector};
        for format in ["float", "base64"] {
            let r = req(serde_json::json!({
                "model": "m\"quoted\"", "input": ["a", "b c"], "encoding_format": format
            }));
            let checked = check(&r).unwrap();
            let body = render(&r, checked, 9);
            let back: EmbeddingResponse = serde_json::from_slice(&body).unwrap();
            assert_eq!(back.object, "list");
            assert_eq!(back.model, "m\"quoted\"");
            assert_eq!((back.usage.prompt_tokens, back.usage.total_tokens), (2, 2));
            assert_eq!(back.data.len(), 2);
            for (i, e) in back.data.iter().enumerate() {
                assert_eq!((e.object.as_str(), e.index as usize), ("embedding", i));
                match (&e.embedding, format) {
                    (EmbeddingVector::Float(v), "float") => assert_eq!(v.len(), 1536),
                    (EmbeddingVector::Base64(s), "base64") => assert_eq!(s.len(), 1536 * 4 * 4 / 3),
                    (other, _) => panic!("{format}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn families_by_name() {
        assert_eq!(Family::of("text-embedding-3-large"), Family::ThreeLarge);
        assert_eq!(Family::of("text-embedding-3-small"), Family::ThreeSmall);
        assert_eq!(Family::of("text-embedding-ada-002"), Family::Ada002);
        assert_eq!(Family::of("my-embedder"), Family::Other);
        for f in Family::ALL {
            assert!(f.native_dimensions() as usize <= crate::embedding::MAX_DIMENSIONS);
        }
    }

    #[test]
    fn the_apis_limits_are_checked() {
        let m = "text-embedding-3-small";
        let ok = check(&req(
            serde_json::json!({"model": m, "input": ["ab", "cdefg"]}),
        ))
        .unwrap();
        assert_eq!(ok.prompt_tokens, 1 + 2);
        assert_eq!(ok.dimensions, 1536);
        let long = "a".repeat(4 * 8192 + 1);
        let many = vec!["x"; MAX_INPUTS + 1];
        let big = vec!["a".repeat(4 * 8000); 40];
        for (body, says, param) in [
            (
                serde_json::json!({"model": "", "input": "x"}),
                "model parameter",
                "model",
            ),
            (
                serde_json::json!({"model": m, "input": ""}),
                "input[0]",
                "input",
            ),
            (
                serde_json::json!({"model": m, "input": ["a", ""]}),
                "input[1]",
                "input",
            ),
            (
                serde_json::json!({"model": m, "input": [[1], []]}),
                "input[1]",
                "input",
            ),
            (
                serde_json::json!({"model": m, "input": []}),
                "minimum length 1",
                "input",
            ),
            (
                serde_json::json!({"model": m, "input": many}),
                "maximum length 2048",
                "input",
            ),
            (
                serde_json::json!({"model": m, "input": long}),
                "8192 tokens",
                "input",
            ),
            (
                serde_json::json!({"model": m, "input": big}),
                "max 300000",
                "input",
            ),
            (
                serde_json::json!({"model": "text-embedding-ada-002", "input": "x", "dimensions": 8}),
                "does not support",
                "dimensions",
            ),
            (
                serde_json::json!({"model": m, "input": "x", "dimensions": 0}),
                ">= 1",
                "dimensions",
            ),
            (
                serde_json::json!({"model": m, "input": "x", "dimensions": 1537}),
                "<= 1536",
                "dimensions",
            ),
        ] {
            let (message, p) = refusal(body.clone());
            assert!(message.contains(says), "{body}: {message}");
            assert_eq!(p.as_deref(), Some(param), "{body}");
        }
        let large = serde_json::json!({"model": "text-embedding-3-large", "input": "x", "dimensions": 3072});
        assert_eq!(check(&req(large)).unwrap().dimensions, 3072);
    }
}
