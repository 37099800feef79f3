//! `POST /v1/embeddings`: the request's prompt as the embeddings `input`, the vectors back as
//! the stack's response. An embedding has no completion: its usage counts prompt tokens only,
//! and it has no text, finish reason or stream.

use gauntlet_wire::openai::embeddings::{
    EmbeddingInput, EmbeddingRequest, EmbeddingResponse, EmbeddingVector, EncodingFormat,
};
use gauntlet_wire::openai::Usage;

use crate::error::ClientError;
use crate::request::{ChatRequest, ChatResponse, Outcome};

/// The embeddings body of `req`: the last message's text, the prompt the workload sent (the
/// context layer's system prompt and history before it are dialogue, which an embedding does
/// not take). Vectors are asked for as floats, which the stack keeps as they are.
pub(super) fn body(req: &ChatRequest) -> EmbeddingRequest {
    let prompt = req.messages.last().map(|m| m.text()).unwrap_or_default();
    EmbeddingRequest {
        model: req.model.clone(),
        input: EmbeddingInput::Text(prompt),
        encoding_format: Some(EncodingFormat::Float),
        dimensions: None,
        user: None,
    }
}

/// An embeddings answer: one float vector per input (one input is sent), in order.
/// A base64 vector: little-endian `f32`s, as the API sends for `encoding_format: "base64"`.
fn decode_base64(text: &str) -> Result<Vec<f32>, ClientError> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| ClientError::Malformed(format!("embeddings: bad base64 vector: {e}")))?;
    if bytes.len() % 4 != 0 {
        return Err(ClientError::Malformed(format!(
            "embeddings: a base64 vector of {} bytes is not whole f32s",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

pub(super) fn answer(bytes: &[u8]) -> Result<ChatResponse, ClientError> {
    let r: EmbeddingResponse = serde_json::from_slice(bytes)
        .map_err(|e| ClientError::Malformed(format!("embeddings: {e}")))?;
    if r.data.len() != 1 {
        return Err(ClientError::Malformed(format!(
            "embeddings: {} vectors for 1 input",
            r.data.len()
        )));
    }
    let embeddings = r
        .data
        .into_iter()
        .map(|e| match e.embedding {
            EmbeddingVector::Float(v) => Ok(v),
            // What a proxied caller asked for (the SDKs' default): the caller gets the upstream's
            // own body; the stack keeps the floats.
            EmbeddingVector::Base64(b) => decode_base64(&b),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ChatResponse {
        usage: Some(Usage {
            prompt_tokens: r.usage.prompt_tokens,
            completion_tokens: 0,
            total_tokens: r.usage.total_tokens,
        }),
        finish_reason: None,
        embeddings,
        ..ChatResponse::local(String::new(), Outcome::Upstream)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use gauntlet_wire::openai::ChatMessage;

    #[test]
    fn a_base64_vector_reads_as_its_floats_and_a_ragged_one_is_malformed() {
        use base64::Engine as _;
        let floats = [0.5f32, -0.25, 1.0];
        let bytes: Vec<u8> = floats.iter().flat_map(|f| f.to_le_bytes()).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
        assert_eq!(decode_base64(&b64).unwrap(), floats);
        let ragged = base64::engine::general_purpose::STANDARD.encode(&bytes[..5]);
        assert!(matches!(
            decode_base64(&ragged),
            Err(ClientError::Malformed(_))
        ));
        assert!(matches!(
            decode_base64("not base64!"),
            Err(ClientError::Malformed(_))
        ));
    }

    #[test]
    fn the_prompt_is_the_input() {
        let req = ChatRequest {
            messages: vec![
                ChatMessage::new("system", "be brief"),
                ChatMessage::new("user", "rate limiting"),
            ],
            stream: true,
            max_tokens: Some(5),
            ..ChatRequest::user_text("text-embedding-3-small", "")
        };
        let json = serde_json::to_value(body(&req)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"model": "text-embedding-3-small", "input": "rate limiting", "encoding_format": "float"})
        );
        let back: EmbeddingRequest = serde_json::from_value(json).unwrap();
        assert_eq!(back, body(&req));
    }

    #[test]
    fn vectors_and_prompt_usage_are_read() {
        let body = br#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.25,-0.5,1.0]}],"model":"m","usage":{"prompt_tokens":4,"total_tokens":4}}"#;
        let r = answer(body).unwrap();
        assert_eq!(r.embeddings, vec![vec![0.25, -0.5, 1.0]]);
        assert_eq!(
            r.usage,
            Some(Usage {
                prompt_tokens: 4,
                completion_tokens: 0,
                total_tokens: 4
            })
        );
        assert_eq!((r.text.as_str(), r.finish_reason), ("", None));
    }

    #[test]
    fn wrong_answers_are_malformed() {
        for bad in [
            &br#"{"object":"list","data":[],"model":"m","usage":{"prompt_tokens":4,"total_tokens":4}}"#[..],
            br#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":"AACA"}],"model":"m","usage":{"prompt_tokens":4,"total_tokens":4}}"#,
            br#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[1]},{"object":"embedding","index":1,"embedding":[1]}],"model":"m","usage":{"prompt_tokens":4,"total_tokens":4}}"#,
            br#"{"choices":[]}"#,
            b"",
        ] {
            assert_eq!(answer(bad).unwrap_err().kind(), "malformed");
        }
    }
}
